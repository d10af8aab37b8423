"""Backups, retention and restores of SQLite files, and the backup that migrate takes first."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from goals.backups import backup_read, backups_list
from tests.conftest import file_sha256

pytestmark = pytest.mark.sqlite_only

WRITER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
db.execute("CREATE TABLE IF NOT EXISTS writer_log (n INTEGER, payload TEXT)")
end = time.time() + float(sys.argv[2])
n = 0
while time.time() < end:
    db.execute("BEGIN IMMEDIATE")
    db.executemany("INSERT INTO writer_log VALUES (?, ?)", [(n + i, "x" * 200) for i in range(50)])
    db.execute("COMMIT")
    n += 50
print(n)
"""


@pytest.fixture
def migrated_db(make_legacy_db, legacy_database):
    """A legacy file adopted and migrated, registered as the `legacy` alias."""
    path = make_legacy_db("dev")
    with legacy_database(path) as alias:
        call_command("migrate", database=alias, no_backup=True, stdout=StringIO())
        yield path, alias


def _backup(alias: str, *args: str) -> str:
    out = StringIO()
    call_command("backup_db", *args, database=alias, stdout=out)
    return out.getvalue()


def _reported(output: str) -> Path:
    """The path a successful backup_db printed."""
    return Path(re.match(r"Backup verified: (\S+) \(", output).group(1))


def test_backup_is_verified_with_a_manifest(migrated_db):
    """A backup has a manifest with its sha256, row counts and applied migrations."""
    path, alias = migrated_db
    output = _backup(alias)
    (backup,) = backups_list(using=alias)
    assert output.startswith(f"Backup verified: {backup.path}")
    assert backup.path.name.startswith(f"{path.name}.backup_")
    manifest = json.loads(backup.manifest_path.read_text())
    assert manifest["sha256"] == file_sha256(backup.path)
    assert manifest["row_counts"]["goals"] > 0
    assert "goals.0006_add_indexes" in manifest["migrations"]
    assert backup_read(backup.path, deep=True).verified


def test_backup_while_another_process_writes_is_consistent(migrated_db):
    """A backup taken while another process keeps inserting is one consistent snapshot."""
    path, alias = migrated_db
    writer = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", WRITER, str(path), "3"], stdout=subprocess.PIPE, text=True
    )
    time.sleep(0.5)
    try:
        _backup(alias)
        _backup(alias)
    finally:
        written = int(writer.communicate(timeout=30)[0])
    assert written > 0
    for backup in backups_list(using=alias):
        checked = backup_read(backup.path, deep=True)
        assert checked.verified, checked.problem
        copy = sqlite3.connect(backup.path)
        rows = copy.execute("SELECT COUNT(*), MAX(n) FROM writer_log").fetchone()
        copy.close()
        assert rows[0] == checked.row_counts["writer_log"]
        assert rows[0] == 0 or rows[1] == rows[0] - 1  # whole transactions only


def test_retention_keeps_the_newest_verified_backups(migrated_db):
    """--keep 2 leaves the two newest verified backups and never the unverified ones' peers."""
    _, alias = migrated_db
    for _ in range(3):
        _backup(alias)
    newest = backups_list(using=alias)[0].path
    _backup(alias, "--keep", "2")
    kept = [backup.path for backup in backups_list(using=alias)]
    assert len(kept) == 2
    assert newest in kept
    with pytest.raises(CommandError, match="--keep must be 1 or more"):
        _backup(alias, "--keep", "0")


def test_restore_round_trip_gives_identical_rows(migrated_db):
    """Restoring a backup brings back exactly the rows it holds, after a safety backup."""
    path, alias = migrated_db
    _backup(alias)
    (backup,) = backups_list(using=alias)
    before = list(sqlite3.connect(backup.path).iterdump())
    changed = sqlite3.connect(path)
    changed.execute("UPDATE goals SET name = 'changed after the backup'")
    changed.commit()
    changed.close()
    out = StringIO()
    call_command("restore_db", str(backup.path), "--yes", database=alias, stdout=out)
    assert "Safety backup of the replaced database" in out.getvalue()
    assert list(sqlite3.connect(path).iterdump()) == before
    assert len(backups_list(using=alias)) == 2
    for suffix in ("-wal", "-shm"):
        assert not path.with_name(path.name + suffix).exists()


@pytest.mark.parametrize("damage", ["tampered", "truncated", "manifest missing"])
def test_damaged_backup_is_refused(migrated_db, damage):
    """A backup that does not match its manifest is refused and the database left as it is."""
    path, alias = migrated_db
    _backup(alias)
    (backup,) = backups_list(using=alias)
    data = bytearray(backup.path.read_bytes())
    if damage == "tampered":
        data[len(data) // 2] ^= 0xFF
        backup.path.write_bytes(bytes(data))
    elif damage == "truncated":
        backup.path.write_bytes(bytes(data[: len(data) // 2]))
    else:
        backup.manifest_path.unlink()
    digest = file_sha256(path)
    with pytest.raises(CommandError, match="cannot be restored") as raised:
        call_command("restore_db", str(backup.path), "--yes", database=alias, stdout=StringIO())
    assert raised.value.returncode == 3
    assert file_sha256(path) == digest


def test_restore_without_an_answer_changes_nothing(migrated_db, monkeypatch):
    """Without --yes an empty answer means no."""
    path, alias = migrated_db
    _backup(alias)
    (backup,) = backups_list(using=alias)
    monkeypatch.setattr("builtins.input", lambda prompt: "")
    digest = file_sha256(path)
    with pytest.raises(CommandError, match="Restore cancelled; nothing was changed"):
        call_command("restore_db", str(backup.path), database=alias, stdout=StringIO())
    assert file_sha256(path) == digest


def test_migrate_backs_up_a_legacy_file_first(make_legacy_db, legacy_database):
    """migrate takes and verifies a backup of the legacy file before adopting it."""
    path = make_legacy_db("dev")
    original = list(sqlite3.connect(path).iterdump())
    out = StringIO()
    with legacy_database(path) as alias:
        call_command("migrate", database=alias, stdout=out)
        (backup,) = backups_list(using=alias)
    assert "Backing up before migrating:" in out.getvalue()
    assert list(sqlite3.connect(backup.path).iterdump()) == original


def test_unwritable_backup_folder_stops_migrate_unchanged(
    make_legacy_db, legacy_database, settings, tmp_path
):
    """When the backup cannot be written, nothing is migrated and the file is unchanged."""
    path = make_legacy_db("dev")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the backup folder should be")
    settings.FRACTAL_BACKUP_DIR = str(blocker / "backups")
    digest = file_sha256(path)
    with (
        legacy_database(path) as alias,
        pytest.raises(
            CommandError, match=r"Cannot create the backup folder .* nothing was migrated"
        ) as raised,
    ):
        call_command("migrate", database=alias, stdout=StringIO())
    assert raised.value.returncode == 4
    assert file_sha256(path) == digest


def test_full_backup_folder_stops_migrate_unchanged(make_legacy_db, legacy_database, settings):
    """Too little free space for the backup stops migrate before any change."""
    path = make_legacy_db("dev")
    settings.FRACTAL_BACKUP_MIN_FREE_BYTES = 1 << 62  # more than any disk has
    digest = file_sha256(path)
    with legacy_database(path) as alias, pytest.raises(CommandError, match="Not enough free space"):
        call_command("migrate", database=alias, stdout=StringIO())
    assert file_sha256(path) == digest
    assert not list(Path(path.parent / "backups").glob("*.backup_*"))


def test_backup_of_a_missing_database_is_refused(tmp_path, legacy_database):
    """Backing up a path with no database says so, with exit status 2."""
    with (
        legacy_database(tmp_path / "absent.db") as alias,
        pytest.raises(
            CommandError, match="does not exist, so there is nothing to back up"
        ) as raised,
    ):
        _backup(alias)
    assert raised.value.returncode == 2


def test_backups_through_a_symlink_are_those_of_the_file_it_points_to(
    make_legacy_db, legacy_database, tmp_path
):
    """Backing up through a symlink names the backup after the real file, beside it, so both
    names of the database share one list of backups."""
    real = make_legacy_db("dev")
    link = tmp_path / "elsewhere" / "goals.db"
    link.parent.mkdir()
    link.symlink_to(real)
    with legacy_database(link) as alias:
        through_link = _reported(_backup(alias))
    with legacy_database(real) as alias:
        through_target = _reported(_backup(alias))
        listed = [backup.path for backup in backups_list(using=alias)]
    with legacy_database(link) as alias:
        assert [backup.path for backup in backups_list(using=alias)] == listed

    assert through_link.parent == through_target.parent == real.parent / "backups"
    assert through_link.name.startswith(f"{real.name}.backup_")
    assert sorted(listed) == sorted([through_link, through_target])
    assert not (link.parent / "backups").exists()
