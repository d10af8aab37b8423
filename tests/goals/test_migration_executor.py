"""migrate records each migration in the transaction that applies it."""

from __future__ import annotations

import sqlite3
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.migrations.recorder import MigrationRecorder

pytestmark = pytest.mark.sqlite_only

FAILING = ("goals", "0003_add_root_and_audit_columns")


def test_a_migration_that_cannot_be_recorded_is_rolled_back(
    make_legacy_db, legacy_database, monkeypatch
):
    """goals.0003 creates legacy_repairs with an index (deferred SQL, which Django runs before
    recording); when recording fails, the table goes too, so the next migrate can create it."""
    path = make_legacy_db("dev")
    record_applied = MigrationRecorder.record_applied

    def failing(recorder, app, name):
        if (app, name) == FAILING:
            raise RuntimeError("the record could not be written")
        return record_applied(recorder, app, name)

    with legacy_database(path) as alias:
        monkeypatch.setattr(MigrationRecorder, "record_applied", failing)
        with pytest.raises(RuntimeError, match="could not be written"):
            call_command("migrate", database=alias, no_backup=True, stdout=StringIO())
        connection = sqlite3.connect(path)
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
        recorded = connection.execute(
            "SELECT COUNT(*) FROM django_migrations WHERE app = ? AND name = ?", FAILING
        ).fetchone()[0]
        connection.close()
        assert "legacy_repairs" not in tables
        assert recorded == 0

        monkeypatch.setattr(MigrationRecorder, "record_applied", record_applied)
        call_command("migrate", database=alias, no_backup=True, stdout=StringIO())
        call_command("verify_root_ids", database=alias, stdout=StringIO())
