"""Backups and restores of a PostgreSQL database with pg_dump and pg_restore."""

from __future__ import annotations

import pytest
from django.db import connection

from goals.backups import backup_create, backup_read, backup_restore
from goals.models import Goal
from tests.factories import MetricValueFactory

pytestmark = [pytest.mark.postgresql_only, pytest.mark.django_db(transaction=True)]


def test_backup_and_restore_round_trip(tmp_path):
    """A pg_dump backup is verified, and restoring it brings back exactly its rows."""
    MetricValueFactory.create_batch(3)
    backup = backup_create(directory=tmp_path)
    assert backup.engine == "postgresql"
    assert backup.row_counts["goals"] == Goal.objects.count() > 0
    assert backup_read(backup.path, deep=True).verified
    names = sorted(Goal.objects.values_list("name", flat=True))
    Goal.objects.update(name="changed after the backup")
    result = backup_restore(path=backup.path, directory=tmp_path)
    connection.close()
    assert sorted(Goal.objects.values_list("name", flat=True)) == names
    assert result.safety_backup is not None and result.safety_backup.verified


def test_tampered_dump_is_refused(tmp_path):
    """A dump that no longer matches its manifest is not restored."""
    MetricValueFactory()
    backup = backup_create(directory=tmp_path)
    data = bytearray(backup.path.read_bytes())
    data[-10] ^= 0xFF
    backup.path.write_bytes(bytes(data))
    checked = backup_read(backup.path, deep=True)
    assert not checked.verified
    assert "sha256 differs" in checked.problem
