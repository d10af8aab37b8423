"""Fixtures for the goals tests."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from goals_project.devdata.generator import legacy_db_generate
from tests.legacy_loading import BASELINE, latest_migrations, legacy_rows_of, load, migrate_to


@pytest.fixture
def legacy_rows(tmp_path, django_db_blocker):
    """A dirty generated dev file's rows, loaded into the baseline tables.

    Unblocked as `legacy_database` is: on SQLite, migration_readiness runs the backfill on a
    copy of the database behind an alias of its own, which pytest-django would refuse.
    """
    generated = legacy_db_generate(
        path=tmp_path / "legacy.db", variant="dev", fractals=3, sessions_per_fractal=15, seed=11
    )
    rows = legacy_rows_of(generated.path)
    migrate_to(BASELINE)
    load(rows)
    with django_db_blocker.unblock():
        yield rows, generated
    migrate_to(latest_migrations())


@pytest.fixture
def migrated_db(make_legacy_db, legacy_database):
    """A legacy file adopted and migrated (so in WAL mode), registered as the `legacy` alias."""
    path = make_legacy_db("dev")
    with legacy_database(path) as alias:
        call_command("migrate", database=alias, no_backup=True, stdout=StringIO())
        yield path, alias
