"""Fixtures for the goals tests."""

from __future__ import annotations

import pytest

from goals_project.devdata.generator import legacy_db_generate
from tests.legacy_loading import BASELINE, latest_migrations, legacy_rows_of, load, migrate_to
from tests.schema_snapshots import SchemaSnapshots


@pytest.fixture(scope="session")
def schema_snapshots(django_db_setup, django_db_blocker):
    """The test database at the latest migrations ("latest") and at the legacy baseline
    ("baseline"), each copied once per session; restore() puts one back in place of the other."""
    snapshots = SchemaSnapshots()
    with django_db_blocker.unblock():
        snapshots.take("latest")
        migrate_to(BASELINE)
        snapshots.take("baseline")
        snapshots.restore("latest")
    yield snapshots
    with django_db_blocker.unblock():
        snapshots.drop()


@pytest.fixture
def baseline_schema(schema_snapshots):
    """The test database at the legacy baseline with its tables empty; the latest schema again
    afterwards. For transactional tests."""
    schema_snapshots.restore("baseline")
    yield
    schema_snapshots.restore("latest")


def _legacy_rows(tmp_path):
    generated = legacy_db_generate(
        path=tmp_path / "legacy.db", variant="dev", fractals=3, sessions_per_fractal=15, seed=11
    )
    return legacy_rows_of(generated.path), generated


@pytest.fixture
def legacy_rows(tmp_path, baseline_schema, django_db_blocker):
    """A dirty generated dev file's rows, loaded into the baseline tables.

    Unblocked as `legacy_database` is: on SQLite, migration_readiness runs the backfill on a
    copy of the database behind an alias of its own, which pytest-django would refuse.
    """
    rows, generated = _legacy_rows(tmp_path)
    load(rows)
    with django_db_blocker.unblock():
        yield rows, generated


@pytest.fixture
def migrated_legacy_rows(tmp_path, baseline_schema, schema_snapshots, django_db_blocker):
    """legacy_rows migrated to the latest migrations: migrated once per session, then copied.
    For tests of what comes after the migration; a test of the migration migrates itself."""
    rows, generated = _legacy_rows(tmp_path)
    if "migrated legacy rows" not in schema_snapshots:
        load(rows)
        migrate_to(latest_migrations())
        schema_snapshots.take("migrated legacy rows")
    schema_snapshots.restore("migrated legacy rows")
    with django_db_blocker.unblock():
        yield rows, generated


@pytest.fixture
def migrated_db(make_migrated_db, legacy_database):
    """A legacy file adopted and migrated (so in WAL mode), registered as the `legacy` alias."""
    path = make_migrated_db("dev")
    with legacy_database(path) as alias:
        yield path, alias
