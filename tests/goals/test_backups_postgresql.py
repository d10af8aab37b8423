"""Backups and restores of a PostgreSQL database with pg_dump and pg_restore."""

from __future__ import annotations

import json
import re
import shutil
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from goals.models import Goal
from goals_project.bases.exit_codes import Exit
from goals_project.maintenance.backups import (
    BackupError,
    backup_create,
    backup_read,
    backup_restore,
    backups_list,
)
from tests.conftest import manage_process, postgres_url
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


def _applied(app: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM django_migrations WHERE app = %s ORDER BY id", [app])
        return [name for (name,) in cursor.fetchall()]


def test_a_backup_taken_before_migrating_restores_over_the_later_schema(tmp_path):
    """The way back the refusals point to: a backup taken at goals.0003 restores into the
    database migrated since (and written to), which is then as the backup was, schema and
    rows. pg_restore --clean dropped only what the dump holds, so the keys the later
    migrations made stopped it (exit 17)."""
    call_command("migrate", "goals", "0003", no_backup=True, stdout=StringIO())
    try:
        earlier = backup_create(directory=tmp_path)
        call_command("migrate", no_backup=True, stdout=StringIO())
        MetricValueFactory.create_batch(2)
        backup_restore(path=earlier.path, directory=tmp_path)
        connection.close()
        assert _applied("goals")[-1] == "0003_add_root_and_audit_columns"
        assert "0004_add_indexes" not in _applied("practice_sessions")
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM metric_values")
            assert cursor.fetchone() == (0,)
    finally:
        call_command("migrate", no_backup=True, stdout=StringIO())


def test_a_table_of_someone_else_pointing_to_ours_stops_the_restore_unchanged(tmp_path):
    """A table the project does not know, with a key to goals, is not dropped along with
    ours: the restore stops (17) naming what depends on goals, and nothing changes."""
    MetricValueFactory()
    backup = backup_create(directory=tmp_path)
    goal = Goal.objects.first()
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE notes (goal_id varchar(36) REFERENCES goals (id))")
        cursor.execute("INSERT INTO notes VALUES (%s)", [goal.pk])
    Goal.objects.update(name="changed after the backup")
    try:
        with pytest.raises(BackupError) as refused:
            backup_restore(path=backup.path, directory=tmp_path)
        connection.close()
        assert refused.value.code == Exit.DATABASE_ERROR
        assert "depend" in str(refused.value)
        assert set(Goal.objects.values_list("name", flat=True)) == {"changed after the backup"}
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE notes")


def test_a_restore_behind_another_sessions_read_stops_after_the_busy_timeout(tmp_path, settings):
    """Another session reading goals in an open transaction: the restore waits the busy timeout
    (FRACTAL_SQLITE_TIMEOUT, here 1 s) and stops with exit 8, the database unchanged. It waited
    without end and without a word."""
    import psycopg

    settings.SQLITE_OPTIONS = {**settings.SQLITE_OPTIONS, "timeout": 1.0}
    MetricValueFactory()
    backup = backup_create(directory=tmp_path)
    Goal.objects.update(name="changed after the backup")
    with psycopg.connect(postgres_url()) as reader:
        reader.execute("SELECT COUNT(*) FROM goals").fetchone()  # its transaction stays open
        with pytest.raises(BackupError) as stopped:
            backup_restore(path=backup.path, directory=tmp_path)
        reader.rollback()
    connection.close()
    assert stopped.value.code == Exit.LOCKED
    assert "for longer than the busy timeout (1.0 s)" in str(stopped.value)
    assert set(Goal.objects.values_list("name", flat=True)) == {"changed after the backup"}


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


def test_a_disk_with_room_for_the_dump_takes_the_backup(small_disk):
    """The free space asked for is what the tables' rows take, not the database's size on disk
    (its indexes and system catalogs, which a dump does not hold: about 8 MB for an empty
    database), which refused a backup of a few rows on a 2 MB disk with exit 14."""
    from django.db import connection as django_connection

    MetricValueFactory.create_batch(3)
    with django_connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        (whole,) = cursor.fetchone()
    disk = small_disk(2 << 20)
    assert whole > 2 << 20  # what was asked for before does not fit
    call_command("backup_db", "--dir", str(disk), stdout=StringIO())
    (backup,) = backups_list(directory=disk)
    assert backup.verified


def test_backups_started_together_are_each_verified_and_distinct(tmp_path):
    """Four backup_db released at the same instant, reading the same clock: each reports its own
    dump, and each matches its manifest and passes pg_restore --list."""
    MetricValueFactory.create_batch(3)
    folder = tmp_path / "together"

    results = backups_at_once(
        4, {"DATABASE_URL": postgres_url(), "FRACTAL_BACKUP_DIR": str(folder)}
    )

    for returncode, _, err in results:
        assert returncode == 0, err
    reported = [Path(re.match(r"Backup verified: (\S+) \(", out).group(1)) for _, out, _ in results]
    assert len(set(reported)) == 4
    for path in reported:
        checked = backup_read(path, deep=True)
        assert checked.verified, checked.problem
    assert sorted(backup.path for backup in backups_list(directory=folder)) == sorted(reported)
    assert sorted(path.name for path in folder.iterdir() if path.name.startswith(".")) == []


@pytest.mark.parametrize("name", ["odd=name x", "../../escaped"])
def test_a_database_with_an_odd_name_is_backed_up_and_restored_in_the_folder(name, tmp_path):
    """A database whose name holds `=` (pg_dump read it as a connection string and failed) or
    `/` (the backup was written outside the backup folder, and never listed) is backed up
    into the folder, listed and restored."""
    import psycopg

    database = f"{name}_{tmp_path.name[-6:]}"
    url = postgres_url(database)
    server = postgres_url("postgres")
    folder = tmp_path / "backups"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        for args in (("migrate", "--no-backup"), ("backup_db", "--dir", str(folder))):
            result = manage_process(url, *args)
            assert result.returncode == 0, result.stderr
        (backup,) = [path for path in folder.iterdir() if not path.name.endswith(".json")]
        listed = manage_process(url, "list_backups", "--dir", str(folder))
        assert backup.name in listed.stdout
        restored = manage_process(url, "restore_db", backup.name, "--yes", "--dir", str(folder))
        assert restored.returncode == 0, restored.stderr
        assert list(tmp_path.iterdir()) == [folder]
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_a_database_whose_tables_are_in_another_schema_is_counted_there(tmp_path):
    """Tables made in the schema the search_path names first (not public) are counted in the
    manifest, so the backup's check compares their rows; it counted public's only (none)."""
    import psycopg

    database = f"schemas_{tmp_path.name[-6:]}"
    url = postgres_url(database)
    server = postgres_url("postgres")
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
        admin.execute(f'ALTER DATABASE "{database}" SET search_path = other, public')
    try:
        with psycopg.connect(url, autocommit=True) as own:
            own.execute("CREATE SCHEMA other")
        result = manage_process(url, "migrate", "--no-backup")
        assert result.returncode == 0, result.stderr
        result = manage_process(url, "backup_db", "--dir", str(tmp_path), "--json")
        assert result.returncode == 0, result.stderr
        counts = json.loads(result.stdout)["row_counts"]
        assert counts["goals"] == 0 and "django_migrations" in counts
        assert counts["django_migrations"] > 10
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
