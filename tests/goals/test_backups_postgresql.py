"""Backups and restores of a PostgreSQL database with pg_dump and pg_restore."""

from __future__ import annotations

import re
import shutil
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from goals.models import Goal
from goals_project.bases.exit_codes import Exit
from goals_project.maintenance.backups import (
    backup_create,
    backup_read,
    backup_restore,
    backups_list,
)
from tests.factories import MetricValueFactory
from tests.goals.backup_at_once import backups_at_once

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


def _url() -> str:
    """The URL of the test database, for child processes."""
    config = connection.settings_dict
    credentials = quote(config["USER"] or "")
    if config["PASSWORD"]:
        credentials += f":{quote(config['PASSWORD'])}"
    host = config["HOST"] or "localhost"
    port = f":{config['PORT']}" if config["PORT"] else ""
    return f"postgres://{credentials}@{host}{port}/{config['NAME']}"


@pytest.mark.parametrize("when", ["before the dump", "during the dump"])
def test_backup_to_a_full_disk_exits_14_and_leaves_nothing(small_disk, monkeypatch, when):
    """A backup folder on a disk too small for the dump: exit 14 and no file left there.
    "during the dump" is a disk that another process fills after the free space was checked:
    the check is told there is room, and pg_dump meets a real ENOSPC."""
    MetricValueFactory.create_batch(3)
    disk = small_disk(4096)
    if when == "during the dump":
        plenty = SimpleNamespace(total=1 << 40, used=0, free=1 << 40)
        monkeypatch.setattr(shutil, "disk_usage", lambda folder: plenty)

    with pytest.raises(CommandError) as raised:
        call_command("backup_db", "--dir", str(disk), stdout=StringIO())

    assert raised.value.returncode == Exit.NO_SPACE
    message = str(raised.value)
    if when == "before the dump":
        assert message.startswith(f"Not enough free space in {disk}: ")
    else:
        assert message.startswith(f"Could not write the backup in {disk} (No space left on device)")
    assert message.endswith(
        "Free space or choose another folder (--dir, FRACTAL_BACKUP_DIR); nothing was changed."
    )
    assert list(disk.iterdir()) == []


def test_backups_started_together_are_each_verified_and_distinct(tmp_path):
    """Four backup_db released at the same instant, reading the same clock: each reports its own
    dump, and each matches its manifest and passes pg_restore --list."""
    MetricValueFactory.create_batch(3)
    folder = tmp_path / "together"

    results = backups_at_once(4, {"DATABASE_URL": _url(), "FRACTAL_BACKUP_DIR": str(folder)})

    for returncode, _, err in results:
        assert returncode == 0, err
    reported = [Path(re.match(r"Backup verified: (\S+) \(", out).group(1)) for _, out, _ in results]
    assert len(set(reported)) == 4
    for path in reported:
        checked = backup_read(path, deep=True)
        assert checked.verified, checked.problem
    assert sorted(backup.path for backup in backups_list(directory=folder)) == sorted(reported)
    assert sorted(path.name for path in folder.iterdir() if path.name.startswith(".")) == []
