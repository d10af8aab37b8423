"""A PostgreSQL server that cannot be reached, or that refuses this user a privilege, stops any
command with its own status and a sentence, not a traceback (manage.py, bases.server_errors)."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from django.db import connection

from goals_project.bases.exit_codes import Exit
from tests.conftest import manage_process, postgres_url

pytestmark = [pytest.mark.postgresql_only, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("command", ["verify_root_ids", "backup_db", "migrate"])
def test_a_database_that_does_not_exist_is_exit_26_in_words(command, tmp_path, monkeypatch):
    """It was a psycopg traceback and exit 1 (verify_root_ids: a 'not SQLite' traceback)."""
    monkeypatch.setenv("FRACTAL_BACKUP_DIR", str(tmp_path))
    missing = f"nowhere_{uuid.uuid4().hex[:8]}"
    result = manage_process(postgres_url(missing), command)
    assert result.returncode == Exit.UNREACHABLE, result.stderr
    assert result.stderr.startswith("Cannot connect to postgres://")
    assert f'database "{missing}" does not exist' in result.stderr
    assert "Traceback" not in result.stderr


def test_a_user_without_privileges_is_exit_27_in_words(tmp_path):
    """A login that may not read our tables: exit 27 naming what it was refused."""
    role = f"viewer_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        result = manage_process(postgres_url(user=role), "verify_root_ids")
    finally:
        with psycopg.connect(postgres_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP ROLE "{role}"')
    assert result.returncode == Exit.NO_PRIVILEGE, result.stderr
    assert "permission denied for table" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("?bogusopt=1", 'invalid connection option "bogusopt"'),
        ("?sslmode=bogus", 'invalid sslmode value: "bogus"'),
        ("?connect_timeout=abc", "bad value for connect_timeout: 'abc'"),
    ],
)
def test_a_connection_option_postgresql_does_not_take_is_a_usage_error(query, said):
    """An unknown option, or a value libpq or psycopg cannot take, is exit 2 (it was a
    traceback and exit 1, or for a bad value 'cannot connect', 26)."""
    result = manage_process(postgres_url(query=query), "verify_root_ids")
    assert result.returncode == Exit.USAGE, result.stderr
    assert result.stderr.startswith(
        "DATABASE_URL holds a connection option PostgreSQL does not take: "
    )
    assert said in result.stderr
