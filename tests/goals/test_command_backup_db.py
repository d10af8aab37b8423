"""Backups, retention and restores of SQLite files, and the backup that migrate takes first."""

from __future__ import annotations

import contextlib
import datetime
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from goals_project.bases.exit_codes import Exit
from goals_project.database_url import sqlite_url
from goals_project.maintenance import backups
from goals_project.maintenance.backups import backup_read, backups_list
from tests.conftest import file_sha256, manage_process
from tests.goals.backup_at_once import backups_at_once

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


def _backup(alias: str, *args: str) -> str:
    out = StringIO()
    call_command("backup_db", *args, database=alias, stdout=out)
    return out.getvalue()


def _reported(output: str) -> Path:
    """The path a successful backup_db printed."""
    return Path(re.match(r"Backup verified: (\S+) \(", output).group(1))


def _leftovers(folder: Path) -> list[str]:
    """Files in a backup folder that are neither a backup nor its manifest."""
    return sorted(
        path.name
        for path in folder.iterdir()
        if not re.fullmatch(r".+\.backup_[0-9_]+(-[0-9]+)?(\.json)?", path.name)
    )


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
    assert "goals.0007_add_indexes" in manifest["migrations"]
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
    """Restoring a backup brings back exactly the rows it holds, after a safety backup, into the
    same file (not a new one renamed over it), which keeps its WAL journaling."""
    path, alias = migrated_db
    _backup(alias)
    (backup,) = backups_list(using=alias)
    before = list(sqlite3.connect(backup.path).iterdump())
    changed = sqlite3.connect(path)
    changed.execute("UPDATE goals SET name = 'changed after the backup'")
    changed.commit()
    changed.close()
    inode = path.stat().st_ino
    out = StringIO()
    call_command("restore_db", str(backup.path), "--yes", database=alias, stdout=out)
    assert "Safety backup of the replaced database" in out.getvalue()
    assert list(sqlite3.connect(path).iterdump()) == before
    assert len(backups_list(using=alias)) == 2
    assert path.stat().st_ino == inode
    restored = sqlite3.connect(path)
    assert restored.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    restored.close()


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
    assert raised.value.returncode == Exit.BACKUP_UNVERIFIED
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
    assert raised.value.returncode == Exit.READ_ONLY
    assert file_sha256(path) == digest


@pytest.mark.parametrize("link", ["to nowhere", "in a loop"])
def test_a_backup_folder_that_is_a_broken_link_is_named_as_one(
    link, make_legacy_db, legacy_database, settings, tmp_path
):
    """A backup folder that is a symbolic link to nothing, or in a loop, stops migrate with exit
    2 saying so (it was "Cannot create the backup folder (File exists)", exit 7, and for a loop
    a traceback); migration_readiness says NOT READY with the same reason; the file is
    unchanged and no folder is made."""
    path = make_legacy_db("dev")
    folder = tmp_path / "backups-link"
    if link == "to nowhere":
        folder.symlink_to(tmp_path / "gone")
        found = f"points to {tmp_path / 'gone'}, which does not exist"
    else:
        (tmp_path / "other-link").symlink_to(folder)
        folder.symlink_to(tmp_path / "other-link")
        found = "leads back to itself through other links (a loop)"
    settings.FRACTAL_BACKUP_DIR = str(folder)
    digest = file_sha256(path)
    readiness = StringIO()
    with legacy_database(path) as alias:
        with pytest.raises(CommandError) as raised:
            call_command("migrate", database=alias, stdout=StringIO())
        with pytest.raises(CommandError, match="NOT READY"):
            call_command("migration_readiness", database=alias, stdout=readiness)
    assert raised.value.returncode == Exit.USAGE
    reason = f"The backup folder {folder} is a symbolic link that {found}."
    assert reason in str(raised.value)
    assert reason in readiness.getvalue()
    assert file_sha256(path) == digest
    assert not (tmp_path / "gone").exists()


def test_a_partial_copy_nobody_holds_is_removed_by_the_next_backup(
    make_legacy_db, legacy_database, tmp_path
):
    """The hidden partial copy of a backup that was killed (on PostgreSQL the pg_dump it
    started even finishes writing it) is removed by the next backup, which says so; one that a
    running backup holds (its flock) is left. Nothing removed them before."""
    import fcntl
    import os

    path = make_legacy_db("dev")
    folder = tmp_path / "kept"
    folder.mkdir()
    abandoned = folder / f".{path.name}.backup_0badc0ffee00.partial"
    abandoned.write_bytes(b"half a dump")
    (folder / f"{abandoned.name}-journal").write_bytes(b"")
    running = folder / f".{path.name}.backup_0000aaaa0000.partial"
    running.write_bytes(b"being written")
    holder = os.open(running, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    out = StringIO()
    try:
        with legacy_database(path) as alias:
            call_command(
                "backup_db", "--dir", str(folder), "-v", "2", database=alias, stdout=out, stderr=out
            )
    finally:
        os.close(holder)
    assert f"removed {abandoned.name}, the partial copy of a backup that was killed" in (
        out.getvalue()
    )
    left = sorted(entry.name for entry in folder.iterdir() if entry.name.startswith("."))
    assert left == [running.name]


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
    assert raised.value.returncode == Exit.USAGE


def test_retention_orders_by_time_when_many_backups_share_a_second(migrated_db, time_machine):
    """Twelve backups within one second: --keep 3 keeps the three taken last, not the three
    whose names sort last as text."""
    _, alias = migrated_db
    time_machine.move_to(datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC), tick=False)
    taken = []
    for _ in range(11):
        taken.append(_reported(_backup(alias)))
        time_machine.shift(datetime.timedelta(milliseconds=50))
    taken.append(_reported(_backup(alias, "--keep", "3")))

    assert len(set(taken)) == 12
    assert [backup.path for backup in backups_list(using=alias)] == taken[:-4:-1]


def test_backups_taken_at_the_same_instant_get_distinct_names_in_order(migrated_db, time_machine):
    """With the clock stopped, backups still get names of their own and list newest first."""
    _, alias = migrated_db
    time_machine.move_to(datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC), tick=False)
    taken = [_reported(_backup(alias)) for _ in range(11)]

    assert len(set(taken)) == 11
    listed = backups_list(using=alias)
    assert [backup.path for backup in listed] == taken[::-1]
    assert all(backup.verified for backup in listed)
    _backup(alias, "--keep", "2")
    assert [backup.path.name for backup in backups_list(using=alias)][1] == taken[-1].name


def test_backups_started_together_are_each_verified_and_distinct(migrated_db, tmp_path):
    """Four backup_db released at the same instant, reading the same clock: each reports its own
    backup, and each reported backup matches its manifest and passes the deep check."""
    path, _ = migrated_db
    folder = tmp_path / "together"
    env = {"DATABASE_URL": f"sqlite:///{path}", "FRACTAL_BACKUP_DIR": str(folder)}

    results = backups_at_once(4, env)

    for returncode, _, err in results:
        assert returncode == 0, err
        assert "Traceback" not in err
    reported = [_reported(out) for _, out, _ in results]
    assert len(set(reported)) == 4
    for backup in reported:
        checked = backup_read(backup, deep=True)
        assert checked.verified, checked.problem
    assert sorted(b.path for b in backups_list(directory=folder, using="legacy")) == sorted(
        reported
    )
    assert _leftovers(folder) == []


@pytest.mark.parametrize("when", ["before the copy", "during the copy"])
def test_backup_to_a_full_disk_exits_14_and_leaves_nothing(
    migrated_db, small_disk, when, monkeypatch
):
    """A backup folder on a disk too small for the copy: exit 14, a message saying so, and no file
    left on that disk. "during the copy" is a disk that another process fills after the free
    space was checked: the check is told there is room, and the copy meets a real ENOSPC."""
    path, alias = migrated_db
    disk = small_disk(path.stat().st_size // 2)
    if when == "during the copy":
        plenty = SimpleNamespace(total=1 << 40, used=0, free=1 << 40)
        monkeypatch.setattr(shutil, "disk_usage", lambda folder: plenty)
    digest = file_sha256(path)

    with pytest.raises(CommandError) as raised:
        _backup(alias, "--dir", str(disk))

    assert raised.value.returncode == Exit.NO_SPACE
    message = str(raised.value)
    if when == "before the copy":
        assert message.startswith(f"Not enough free space in {disk}: ")
    else:
        assert message.startswith(f"Could not write the backup in {disk} (")
        assert "disk is full" in message
    assert message.endswith(
        "Free space or choose another folder (--dir, FRACTAL_BACKUP_DIR); nothing was changed."
    )
    assert list(disk.iterdir()) == []
    assert file_sha256(path) == digest


def test_backup_counts_the_write_ahead_log_in_the_space_it_needs(migrated_db, small_disk):
    """A database whose recent rows are still in its -wal is bigger than its main file: the free
    space check counts what the copy will hold, so a disk with room for the main file only is
    refused up front (exit 14) instead of failing half way."""
    path, alias = migrated_db
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("PRAGMA wal_autocheckpoint=0")  # keep the new rows in the -wal
        writer.execute("CREATE TABLE bulk (payload TEXT)")
        writer.executemany("INSERT INTO bulk VALUES (?)", [("x" * 1000,) for _ in range(3000)])
        main_size = path.stat().st_size
        disk = small_disk(main_size + 512 * 1024)
        assert path.with_name(path.name + "-wal").stat().st_size > 2 * 1024 * 1024

        with pytest.raises(CommandError, match=rf"^Not enough free space in {disk}: ") as raised:
            _backup(alias, "--dir", str(disk))
    finally:
        writer.close()
    assert raised.value.returncode == Exit.NO_SPACE
    assert list(disk.iterdir()) == []


def test_backup_is_one_self_contained_file(migrated_db):
    """Taken while another connection keeps rows in the database's -wal, a backup is one file in
    rollback-journal mode: no -wal, -shm or -journal beside it, before or after reading it."""
    path, alias = migrated_db
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute("CREATE TABLE notes (text TEXT)")
        writer.execute("INSERT INTO notes VALUES ('only in the -wal')")
        backup = _reported(_backup(alias))
    finally:
        writer.close()
    assert backup.read_bytes()[18:20] == b"\x01\x01"  # file format: rollback journal, not WAL
    assert backup_read(backup, deep=True).row_counts["notes"] == 1
    copy = sqlite3.connect(backup)
    assert copy.execute("SELECT text FROM notes").fetchall() == [("only in the -wal",)]
    copy.close()
    assert sorted(p.name for p in backup.parent.iterdir()) == [backup.name, f"{backup.name}.json"]


LOCKER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=DELETE")
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""


def test_backup_of_a_database_locked_by_another_process_exits_8(migrated_db):
    """A database another process keeps exclusively locked past the busy timeout: exit 8, a
    message naming the database, and no backup."""
    path, alias = migrated_db
    connections[alias].close()  # leaving WAL mode needs the file to itself
    locker = subprocess.Popen(  # noqa: S603 - this interpreter with a fixed script
        [sys.executable, "-c", LOCKER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert locker.stdout.readline() == "locked\n"
        with pytest.raises(CommandError) as raised:
            _backup(alias)
    finally:
        locker.communicate("\n", timeout=30)
    assert raised.value.returncode == Exit.LOCKED
    assert str(raised.value) == (
        f"{path} stayed locked by another process for longer than the busy timeout (1.0 s), so "
        "it could not be read. Let that process finish, then back up again; nothing was changed."
    )
    assert backups_list(using=alias) == []


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


def test_backup_json_gives_scripts_the_verified_backup(migrated_db):
    """backup_db --json prints the backup a script needs: its path, size, sha256 and counts, as
    its manifest has them."""
    _, alias = migrated_db
    printed = json.loads(_backup(alias, "--json"))
    backup = backup_read(Path(printed["path"]), deep=True)
    assert backup.verified
    assert printed["sha256"] == backup.sha256
    assert printed["size"] == backup.size == Path(printed["path"]).stat().st_size
    assert printed["row_counts"] == backup.row_counts


@pytest.mark.parametrize("largest", [False, True], ids=["goals", "the table with most rows"])
def test_a_copy_whose_index_disagrees_with_its_table_is_no_backup(largest, migrated_db, tmp_path):
    """The copy is checked whole: an index that does not hold its table's rows (which `PRAGMA
    quick_check` does not look for) stops the backup with exit 21, naming the check, and leaves
    neither a backup nor a partial copy; the database is unchanged. The check of the table with
    the most rows runs apart from the others' (backups._sqlite_check): either one finds it."""
    path, alias = migrated_db
    connections[alias].close()
    with sqlite3.connect(path) as connection:
        counts = {
            name: connection.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
        table = max(counts, key=counts.get) if largest else "goals"
        assert (table == "goals") != largest and counts[table] > 0
        column, other = [
            name
            for (name,) in connection.execute(
                f"SELECT name FROM pragma_table_info('{table}') WHERE name <> 'id' "
                'AND "notnull" ORDER BY cid'
            )
        ][:2]
        connection.execute(f"CREATE INDEX goals_by_name ON {table} ({column})")
        connection.execute("PRAGMA writable_schema = ON")
        connection.execute(
            f"UPDATE sqlite_master SET sql = 'CREATE INDEX goals_by_name ON {table} ({other})' "
            "WHERE name = 'goals_by_name'"
        )
    connection.close()
    digest = file_sha256(path)
    folder = tmp_path / "kept"

    with pytest.raises(CommandError) as raised:
        _backup(alias, "--dir", str(folder))

    assert raised.value.returncode == Exit.BACKUP_UNVERIFIED
    assert str(raised.value).startswith("The copy is not a sound backup: integrity_check failed: ")
    assert "missing from index goals_by_name" in str(raised.value)
    assert list(folder.iterdir()) == []
    assert file_sha256(path) == digest


def test_restore_takes_a_backup_by_the_name_list_backups_prints(migrated_db, tmp_path):
    """list_backups prints each backup's name; restore_db given that name (and the same --dir)
    finds it in the backup folder and restores it. A name that is in neither place is exit 2,
    the folder looked in named."""
    path, alias = migrated_db
    kept = tmp_path / "kept"
    _backup(alias, "--dir", str(kept))
    with sqlite3.connect(path) as changed:
        changed.execute("UPDATE goals SET name = 'changed after the backup'")
    changed.close()
    listed = StringIO()
    call_command("list_backups", "--dir", str(kept), database=alias, stdout=listed)
    name = listed.getvalue().split()[0]
    (backup,) = backups_list(using=alias, directory=kept)
    assert name == backup.path.name

    out = StringIO()
    call_command("restore_db", name, "--dir", str(kept), "--yes", database=alias, stdout=out)

    assert f"Restored {backup.path}." in out.getvalue()
    assert list(sqlite3.connect(path).iterdump()) == list(sqlite3.connect(backup.path).iterdump())
    with pytest.raises(CommandError) as raised:
        call_command(
            "restore_db", f"{name}-9", "--dir", str(kept), "--yes", database=alias, stdout=out
        )
    assert raised.value.returncode == Exit.USAGE
    assert str(raised.value) == (
        f"{name}-9 cannot be restored: the backup file does not exist (nor in the backup "
        f"folder {kept}). Choose a verified backup (manage.py list_backups)."
    )


@pytest.mark.parametrize("folder", ["missing", "a file"])
def test_list_backups_of_a_folder_that_is_not_one_is_refused(migrated_db, tmp_path, folder):
    """list_backups --dir naming no folder is exit 2 saying so, not "No backups yet"."""
    _, alias = migrated_db
    given = tmp_path / "backups"
    if folder == "a file":
        given.write_text("not a folder")
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("list_backups", "--dir", str(given), database=alias, stdout=out)
    assert raised.value.returncode == Exit.USAGE
    problem = "does not exist" if folder == "missing" else "is not a folder"
    assert str(raised.value) == (
        f"The backup folder {given} {problem}. Give the folder the backups are in (--dir, "
        "FRACTAL_BACKUP_DIR)."
    )
    assert out.getvalue() == ""


def test_a_folder_as_the_database_or_the_backup_is_a_directory(migrated_db, tmp_path):
    """A folder given as the database to back up, or as the backup to restore, is refused as
    migrate refuses a folder: "is a directory", exit 3, nothing written."""
    path, alias = migrated_db
    folder = tmp_path / "folder.db"
    folder.mkdir()
    digest = file_sha256(path)
    with pytest.raises(CommandError) as raised:
        call_command("restore_db", str(folder), "--yes", database=alias, stdout=StringIO())
    assert raised.value.returncode == Exit.NOT_SQLITE
    assert str(raised.value) == (
        f"{folder} is a directory, not a backup file. Choose a verified backup (manage.py "
        "list_backups)."
    )
    assert file_sha256(path) == digest

    result = manage_process(sqlite_url(folder), "backup_db", "--dir", str(tmp_path / "kept"))
    assert result.returncode == Exit.NOT_SQLITE, result.stderr
    assert result.stderr == (
        f"CommandError: {folder} is a directory, not a database file. Point DATABASE_URL at the "
        ".db file.\n"
    )
    assert not (tmp_path / "kept").exists()
    assert list(folder.iterdir()) == []


def test_a_manifest_cut_off_by_a_full_disk_leaves_nothing_behind(
    migrated_db, small_disk, monkeypatch
):
    """The disk fills up once the copy is named, so its manifest cannot be written: exit 14,
    and neither the copy nor the manifest's hidden partial file is left in the folder."""
    path, alias = migrated_db
    disk = small_disk(4 * path.stat().st_size + (1 << 20))
    publish = backups._publish

    def publish_then_fill_the_disk(partial, folder, name):
        published = publish(partial, folder, name)
        with (disk / "filler").open("wb", buffering=0) as filler, contextlib.suppress(OSError):
            while True:
                filler.write(b"\0" * 4096)
        return published

    monkeypatch.setattr(backups, "_publish", publish_then_fill_the_disk)

    with pytest.raises(CommandError) as raised:
        _backup(alias, "--dir", str(disk))

    assert raised.value.returncode == Exit.NO_SPACE
    assert str(raised.value).startswith(f"Could not write the backup in {disk} (No space left")
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]
