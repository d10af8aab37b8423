"""DATABASE_URL: an SQLite path with '#' or '?' in it is refused unless written as %23 / %3F."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from goals_project.bases.exit_codes import Exit
from goals_project.database_url import database_from_url, sqlite_url
from tests.conftest import manage_process

SQLITE = "django.db.backends.sqlite3"


def test_sqlite_url_cut_at_a_hash_is_refused():
    """A '#' ends a URL: the rest of the path would be dropped, so the URL is refused."""
    url = "sqlite:////data/fractal#2/goals.db"
    with pytest.raises(ImproperlyConfigured) as raised:
        database_from_url(url)
    assert str(raised.value) == (
        "DATABASE_URL sqlite:////data/fractal#2/goals.db has a '#' in it: a URL ends there, so "
        "it would open the SQLite file /data/fractal instead. Write '#' in a file name as %23 "
        "and '?' as %3F: sqlite:////data/fractal%232/goals.db."
    )


def test_sqlite_url_with_a_question_mark_in_the_file_name_is_refused():
    """A '?' ends a URL's path; what follows must be connection options, or it is refused."""
    url = "sqlite:////data/what?.db"
    with pytest.raises(ImproperlyConfigured) as raised:
        database_from_url(url)
    assert str(raised.value) == (
        "DATABASE_URL sqlite:////data/what?.db has a '?' in it: a URL's path ends there and "
        "'.db' is not a list of SQLite connection options (name=value: cached_statements, "
        "check_same_thread, detect_types, init_command, isolation_level, timeout, "
        "transaction_mode), so it would open the SQLite file /data/what instead. Write '#' in "
        "a file name as %23 and '?' as %3F: sqlite:////data/what%3F.db."
    )
    with pytest.raises(ImproperlyConfigured, match=r"'size=2\.db' is not a list of SQLite"):
        database_from_url("sqlite:////data/what?size=2.db")


def test_percent_encoded_hash_and_question_mark_name_the_file():
    """%23 and %3F stand for '#' and '?' in the file name; real options still work."""
    assert database_from_url("sqlite:////data/a%23b%3F.db")["NAME"] == "/data/a#b?.db"
    config = database_from_url("sqlite:////data/goals.db?timeout=5")
    assert (config["NAME"], config["OPTIONS"]) == ("/data/goals.db", {"timeout": 5})
    assert database_from_url(sqlite_url(Path("/data/x#1?/goals.db")))["NAME"] == (
        "/data/x#1?/goals.db"
    )
    memory = database_from_url("sqlite:///:memory:")
    assert (memory["ENGINE"], memory["NAME"]) == (SQLITE, ":memory:")


def test_migrate_refuses_a_database_url_cut_at_a_hash(tmp_path):
    """migrate with '#' in an SQLite path stops before creating any file, with exit 2."""
    url = f"sqlite:///{tmp_path}/fractal#2.db"
    result = manage_process(url, "migrate", "--no-backup")
    assert result.returncode == Exit.USAGE, result.stderr
    assert result.stderr == (
        f"DATABASE_URL {url} has a '#' in it: a URL ends there, so it would open the SQLite "
        f"file {tmp_path}/fractal instead. Write '#' in a file name as %23 and '?' as %3F: "
        f"sqlite:///{tmp_path}/fractal%232.db.\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_migrate_creates_the_database_at_a_percent_encoded_path(tmp_path):
    """Written as %23 and %3F, the path is the file migrate creates and migrates."""
    folder = tmp_path / "fractal#2?"
    folder.mkdir()
    result = manage_process(
        sqlite_url(folder / "goals.db"), "migrate", "--no-backup", "--verbosity", "0"
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fractal#2?"]
    assert "goals.db" in [p.name for p in folder.iterdir()]
