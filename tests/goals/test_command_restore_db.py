"""restore_db on SQLite while other processes use the file, through symlinks, onto a full disk,
and from backups that are not one self-contained file."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from goals_project.bases.exit_codes import Exit
from goals_project.maintenance.backups import backup_read, backups_list
from goals_project.maintenance.locking import lock_path

pytestmark = pytest.mark.sqlite_only

MARK = " (after backup)"

# Another process using the database: connected and idle, inside a read transaction, or holding
# the write lock. It waits for a line on stdin (the restore runs meanwhile), then writes a note.
CONNECTED = """
import json, sqlite3, sys
path, holding = sys.argv[1], sys.argv[2]
db = sqlite3.connect(path, isolation_level=None, timeout=10)
db.execute("SELECT COUNT(*) FROM goals").fetchone()
if holding == "reading":
    db.execute("BEGIN")
    db.execute("SELECT COUNT(*) FROM goals").fetchone()
elif holding == "writing":
    db.execute("BEGIN IMMEDIATE")
print("connected", flush=True)
sys.stdin.readline()
result = {}
if holding == "reading":
    try:
        db.execute("INSERT INTO notes VALUES ('written in the transaction begun before')")
        result["write in the old transaction"] = "accepted"
    except sqlite3.OperationalError as error:
        result["write in the old transaction"] = str(error)
if holding != "idle":
    db.execute("ROLLBACK")
db.execute("INSERT INTO notes VALUES ('written after the restore')")
result["marked goals seen"] = db.execute(
    "SELECT COUNT(*) FROM goals WHERE name LIKE '%(after backup)'"
).fetchone()[0]
print(json.dumps(result), flush=True)
"""


def _sql(path: Path, *statements: str) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in statements:
            connection.execute(statement)
    finally:
        connection.close()


def _dump(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def _marked(path: Path) -> tuple[int, int]:
    """(goals marked after the backup, all goals)."""
    connection = sqlite3.connect(path)
    try:
        return connection.execute(
            "SELECT SUM(name LIKE ?), COUNT(*) FROM goals", [f"%{MARK}"]
        ).fetchone()
    finally:
        connection.close()


def _notes(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return [text for (text,) in connection.execute("SELECT text FROM notes ORDER BY rowid")]
    finally:
        connection.close()


def _restore(alias: str, backup: Path, *args: str) -> str:
    out = StringIO()
    call_command("restore_db", str(backup), "--yes", *args, database=alias, stdout=out)
    return out.getvalue()


@pytest.fixture
def backed_up(make_migrated_db, legacy_database, tmp_path):
    """A migrated file with a `notes` table, its backup, and the file changed after the backup
    (every goal's name marked). No database alias is held: tests register the path they use."""
    path = make_migrated_db("dev")
    with legacy_database(path) as alias:
        _sql(path, "CREATE TABLE notes (text TEXT)")
        kept = str(tmp_path / "kept")
        call_command("backup_db", "--dir", kept, database=alias, stdout=StringIO())
        (backup,) = backups_list(using=alias, directory=tmp_path / "kept")
    _sql(path, f"UPDATE goals SET name = name || '{MARK}'", "PRAGMA wal_checkpoint(TRUNCATE)")
    return path, backup.path


def _connected(path: Path, holding: str) -> subprocess.Popen:
    child = subprocess.Popen(  # noqa: S603 - this interpreter with a fixed script
        [sys.executable, "-c", CONNECTED, str(path), holding],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline() == "connected\n", child.stderr.read()
    return child


def _finish(child: subprocess.Popen) -> dict:
    out, err = child.communicate("go\n", timeout=60)
    assert child.returncode == 0, err
    return json.loads(out)


@pytest.mark.parametrize("holding", ["idle", "reading"])
def test_restore_while_another_process_has_the_database_open_keeps_its_writes(
    backed_up, legacy_database, holding
):
    """Another process has the database open (idle, or inside a read transaction): the restore
    writes into the file that process has open, so it sees the restored rows afterwards and what
    it writes then is in the database, not in a replaced file that nothing will open again. A
    write inside the read transaction begun before the restore is refused, never kept aside."""
    path, backup = backed_up
    child = _connected(path, holding)
    try:
        with legacy_database(path) as alias:
            output = _restore(alias, backup)
    finally:
        result = _finish(child)

    assert f"Restored {backup}." in output
    assert result["marked goals seen"] == 0
    if holding == "reading":
        assert result["write in the old transaction"] == "database is locked"
    assert _notes(path) == ["written after the restore"]
    marked, total = _marked(path)
    assert marked == 0 and total > 0


@pytest.mark.parametrize("holding", ["writing", "reading a rollback-journal file"])
def test_restore_while_another_process_holds_the_database_exits_8(
    backed_up, legacy_database, holding
):
    """A process holding the write lock (or, with the rollback journal, any transaction) past the
    busy timeout: exit 8, the database unchanged, the safety backup kept and named."""
    path, backup = backed_up
    if holding != "writing":
        _sql(path, "PRAGMA journal_mode=DELETE")
    before = _dump(path)
    child = _connected(path, "writing" if holding == "writing" else "reading")
    try:
        with legacy_database(path) as alias, pytest.raises(CommandError) as raised:
            _restore(alias, backup)
    finally:
        _finish(child)

    assert raised.value.returncode == Exit.LOCKED
    message = str(raised.value)
    match = re.fullmatch(
        rf"{re.escape(str(path))} is in use by another process, which kept it locked for longer "
        r"than the busy timeout \(1\.0 s\)\. Let it finish or stop it, then restore again; the "
        r"database is unchanged \(the safety backup taken first stays: (\S+)\)\.",
        message,
    )
    assert match, message
    assert backup_read(Path(match.group(1)), deep=True).verified
    assert [line for line in _dump(path) if "notes" not in line] == [
        line for line in before if "notes" not in line
    ]
    assert _notes(path) == ["written after the restore"]


def _counts(path: Path) -> dict[str, int]:
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: connection.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        connection.close()


def _wal_beside(backup: Path, notes: int) -> None:
    """Make the backup what the finding met: its main file, a -wal beside it holding `notes`
    more rows, and a manifest whose sha256 covers the main file and whose row counts were read
    through the -wal."""
    wal = Path(f"{backup}-wal")
    writer = sqlite3.connect(backup, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.executemany("INSERT INTO notes VALUES (?)", [(f"note {n}",) for n in range(notes)])
    main, log = backup.read_bytes(), wal.read_bytes()
    writer.close()  # checkpoints the notes into the main file and removes the -wal
    backup.write_bytes(main)
    wal.write_bytes(log)
    manifest = backup.with_name(backup.name + ".json")
    data = json.loads(manifest.read_text())
    data.update(size=len(main), sha256=hashlib.sha256(main).hexdigest(), row_counts=_counts(backup))
    manifest.write_text(json.dumps(data))


def test_backup_with_a_wal_beside_it_is_refused(backed_up, legacy_database):
    """A backup with a -wal beside it is not one file: SQLite reads rows from the -wal that the
    sha256 does not cover and a copy of the file would not hold. It is not verified, and
    restoring it is refused (exit 21) with the database unchanged."""
    path, backup = backed_up
    _wal_beside(backup, 10)
    assert _counts(backup)["notes"] == 10  # what a reader of the backup sees
    before = _dump(path)

    checked = backup_read(backup, deep=True)
    with legacy_database(path) as alias, pytest.raises(CommandError) as raised:
        _restore(alias, backup)

    problem = (
        f"{backup.name}-wal is beside it, so SQLite would read rows from it that the backup's "
        "sha256 does not cover (a backup is one file; something opened this one and wrote to it)"
    )
    assert not checked.verified
    assert checked.problem == problem
    assert raised.value.returncode == Exit.BACKUP_UNVERIFIED
    assert str(raised.value) == (
        f"{backup} cannot be restored: {problem}. Choose a verified backup (manage.py "
        "list_backups)."
    )
    assert _dump(path) == before


def test_restore_through_a_symlink_restores_the_file_it_points_to(
    make_migrated_db, legacy_database, tmp_path
):
    """Restoring through a symlink restores the real file and leaves the symlink a symlink."""
    real = make_migrated_db("dev")
    link = tmp_path / "elsewhere" / "goals.db"
    link.parent.mkdir()
    link.symlink_to(real)
    with legacy_database(link) as alias:
        call_command("backup_db", database=alias, stdout=StringIO())
        (backup,) = backups_list(using=alias)
        _sql(real, f"UPDATE goals SET name = name || '{MARK}'")
        output = _restore(alias, backup.path)

    assert f"Restored {backup.path}." in output
    assert link.is_symlink() and os.readlink(link) == str(real)
    marked, total = _marked(real)
    assert marked == 0 and total > 0
    assert _dump(real) == _dump(backup.path)


@pytest.mark.parametrize("short_of", ["the staged copy", "the write into the database"])
def test_restore_onto_a_full_disk_exits_14_and_leaves_the_database_as_it_was(
    backed_up, legacy_database, small_disk, tmp_path, short_of
):
    """The database on a disk without room for the restore: exit 14, the database as it was, and
    the space given back (no staged copy or grown -wal left to keep the disk full)."""
    path, backup = backed_up
    size, backup_size = path.stat().st_size, backup.stat().st_size
    room = backup_size // 2 if short_of == "the staged copy" else backup_size + backup_size // 2
    disk = small_disk(size + 64 * 1024 + room)
    database = disk / path.name
    shutil.copyfile(path, database)
    before, free = _dump(database), shutil.disk_usage(disk).free

    with legacy_database(database) as alias, pytest.raises(CommandError) as raised:
        _restore(alias, backup, "--dir", str(tmp_path / "safety"))

    assert raised.value.returncode == Exit.NO_SPACE
    (safety,) = [p for p in (tmp_path / "safety").iterdir() if p.suffix != ".json"]
    assert re.fullmatch(
        rf"Not enough space to restore {re.escape(str(backup))} into "
        rf"{re.escape(str(database))} \(.*(disk is full|No space left on device).*\)\. Free "
        r"space on that disk, then restore again; the database is unchanged \(the safety "
        rf"backup taken first stays: {re.escape(str(safety))}\)\.",
        str(raised.value),
    ), str(raised.value)
    lock = lock_path(database)  # the maintenance lock's file stays, by design
    assert sorted(p.name for p in disk.iterdir()) == [database.name, lock.name]
    assert shutil.disk_usage(disk).free + lock.stat().st_blocks * 512 >= free
    assert _dump(database) == before


def test_restore_into_a_database_with_another_page_size(backed_up, legacy_database):
    """A WAL database whose page size changed since the backup is restored all the same (SQLite
    cannot copy pages of another size into a WAL database, so the staged copy is rebuilt)."""
    path, backup = backed_up
    _sql(
        path,
        "PRAGMA journal_mode=DELETE",
        "PRAGMA page_size=8192",
        "VACUUM",
        "PRAGMA journal_mode=WAL",
    )
    with legacy_database(path) as alias:
        _restore(alias, backup)

    marked, total = _marked(path)
    assert marked == 0 and total > 0
    assert _dump(path) == _dump(backup)
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    connection.close()


def test_restore_removes_a_staged_copy_left_by_an_interrupted_restore(backed_up, legacy_database):
    """A staged copy that a killed restore left beside the database is removed, and said so."""
    path, backup = backed_up
    left = path.with_name(f".{path.name}.restoring-k1ll3d")
    left.write_bytes(b"half a copy")
    with legacy_database(path) as alias:
        output = _restore(alias, backup)

    assert f"Removed {left}, left by an interrupted restore." in output
    assert not left.exists()
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(".")) == []
