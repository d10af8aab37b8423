"""Hostile and broken legacy files: refused clearly and untouched, or migrated losing nothing."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.db.backends.signals import connection_created
from django.db.migrations.loader import MigrationLoader
from django.test.utils import CaptureQueriesContext

from goals.roots import ROOT_TABLES
from goals_project.bases.exit_codes import Exit
from goals_project.maintenance.backups import backups_list
from goals_project.maintenance.legacy.inspection import LegacyDbProblem
from goals_project.maintenance.legacy.preflight import (
    adoption_target,
    key_refusal,
    sqlite_temp_folder,
)
from goals_project.maintenance.legacy.schemas import LEGACY_TABLES
from goals_project.maintenance.verification import blob_reference_fix
from tests.conftest import LEGACY_ALIAS, file_sha256, manage_process
from tests.legacy_faults import (
    BAD_KEYS,
    BLOB_REFERENCES,
    FREE,
    USER_OBJECTS,
    bad_keys_message,
    blob_references_message,
    cut_off_write,
    hot_journal_message,
    low_disk,
    user_objects_message,
)

pytestmark = pytest.mark.sqlite_only


def _truncate_to_half(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize("command", ["migrate", "adopt_legacy_db"])
def test_truncated_file_is_refused_unchanged(command, make_legacy_db, legacy_database):
    """A legacy file cut to half its bytes is refused as damaged and left byte-for-byte as is."""
    path = _truncate_to_half(make_legacy_db("dev"))
    digest = file_sha256(path)
    with (
        legacy_database(path) as alias,
        pytest.raises(
            CommandError, match=r"is damaged: SQLite reports 'database disk image is malformed'"
        ) as raised,
    ):
        call_command(command, database=alias, stdout=StringIO(), stderr=StringIO())
    assert raised.value.returncode == LegacyDbProblem.CORRUPT
    assert file_sha256(path) == digest


@pytest.mark.parametrize("command", ["migrate", "adopt_legacy_db"])
def test_read_only_folder_is_refused_unchanged(command, make_legacy_db, legacy_database):
    """A writable file in a folder marked read-only is refused, and nothing is written there."""
    path = make_legacy_db("dev")
    folder = path.parent
    digest = file_sha256(path)
    folder.chmod(0o555)
    try:
        with (
            legacy_database(path) as alias,
            pytest.raises(
                CommandError, match=rf"The database folder {re.escape(str(folder))} is read-only\."
            ) as raised,
        ):
            call_command(command, database=alias, stdout=StringIO(), stderr=StringIO())
    finally:
        folder.chmod(0o755)
    assert raised.value.returncode == LegacyDbProblem.READ_ONLY
    assert file_sha256(path) == digest
    # No lock file, no backup folder: root could have written them, the refusal comes first.
    assert [entry.name for entry in folder.iterdir()] == [path.name]


def _execute(path: Path, script: str, parameters: tuple = ()) -> None:
    connection = sqlite3.connect(path)
    if parameters:
        connection.execute(script, parameters)
    else:
        connection.executescript(script)
    connection.commit()
    connection.close()


def _select(path: Path, sql: str, parameters: tuple = ()) -> list[tuple]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql, parameters).fetchall()
    finally:
        connection.close()


def _migrate(alias: str) -> str:
    out = StringIO()
    call_command("migrate", database=alias, stdout=out, stderr=StringIO(), verbosity=1)
    return out.getvalue()


def test_unknown_table_survives_migrate_value_for_value(make_legacy_db, legacy_database):
    """A table the legacy app never had keeps its rows, values and storage types after migrate."""
    path = make_legacy_db("dev")
    _execute(
        path,
        "CREATE TABLE my_notes (id INTEGER PRIMARY KEY, note TEXT, weight REAL, raw BLOB, "
        "extra);"
        "INSERT INTO my_notes VALUES (1, 'run 5k ☀', 72.5, x'00ff10', NULL);"
        "INSERT INTO my_notes VALUES (2, '', -0.0, x'', 'text in an untyped column');"
        "INSERT INTO my_notes VALUES (3, NULL, 1e308, NULL, 42);",
    )
    query = "SELECT *, typeof(weight), typeof(raw), typeof(extra) FROM my_notes ORDER BY id"
    before = _select(path, query)
    assert len(before) == 3
    schema = _select(path, "SELECT sql FROM sqlite_master WHERE name = 'my_notes'")
    with legacy_database(path) as alias:
        _migrate(alias)
    assert _select(path, query) == before
    assert _select(path, "SELECT sql FROM sqlite_master WHERE name = 'my_notes'") == schema


CYCLE_GOALS = (
    # A and B are each other's parent; C is its own parent.
    ("cycle-a", "ShortTermGoal", "Goal A of a cycle", "cycle-b"),
    ("cycle-b", "MidTermGoal", "Goal B of a cycle", "cycle-a"),
    ("cycle-c", "LongTermGoal", "Goal C, its own parent", "cycle-c"),
)


def test_parent_cycles_migrate_and_verify(make_legacy_db, legacy_database):
    """Goals whose parents form a cycle are migrated, kept, and verify_root_ids passes."""
    path = make_legacy_db("dev")
    for row in CYCLE_GOALS:
        _execute(
            path,
            "INSERT INTO goals (id, type, name, parent_id, created_at) "
            "VALUES (?, ?, ?, ?, '2024-01-01 00:00:00')",
            row,
        )
    before = _select(path, "SELECT id, type, name, description FROM goals ORDER BY id")
    with legacy_database(path) as alias:
        printed = _migrate(alias)
        verified = StringIO()
        call_command("verify_root_ids", database=alias, stdout=verified)
    after = _select(path, "SELECT id, type, name, description FROM goals ORDER BY id")
    assert set(before) <= set(after)
    (recovery_id,) = _select(path, "SELECT id FROM goals WHERE name = 'Recovered records'")[0]
    # Cycles keep their parents; their fractal is unknown, so they hang under the recovery root.
    assert _select(
        path, "SELECT id, parent_id, root_id FROM goals WHERE id LIKE 'cycle-%' ORDER BY id"
    ) == [
        ("cycle-a", "cycle-b", recovery_id),
        ("cycle-b", "cycle-a", recovery_id),
        ("cycle-c", "cycle-c", recovery_id),
    ]
    # The backfill's warnings are part of migrate's result (goals_project.bases.progress).
    assert re.search(r"row\(s\) whose fractal is unknown moved under 'Recovered records'", printed)
    assert "root_id checks pass." in verified.getvalue()


ABSURD_VALUES = (
    # (table, column, row of this goal type (None: any row), value)
    ("goals", "name", "ShortTermGoal", "x" * 1_000_000),
    ("goals", "targets", "ShortTermGoal", '{"weight": [100, '),
    ("goals", "attributes", "MidTermGoal", "not json at all"),
    ("goals", "session_data", "PracticeSession", "{{{"),
    ("session_templates", "template_data", None, '{"activities": ['),
    ("goals", "created_at", "ShortTermGoal", "not a date"),
    ("goals", "created_at", "PracticeSession", "2024-13-45"),
    ("goals", "deadline", "LongTermGoal", "2024-13-45"),
    ("goals", "deadline", "ShortTermGoal", "not a date"),
)


@pytest.mark.parametrize(
    ("table", "column", "goal_type", "value"),
    ABSURD_VALUES,
    ids=[f"{table}.{column}={value[:12]}" for table, column, _, value in ABSURD_VALUES],
)
def test_absurd_values_are_kept_by_migrate(
    table, column, goal_type, value, make_legacy_db, legacy_database
):
    """Huge names, broken JSON and impossible dates come out of migrate exactly as they went in."""
    path = make_legacy_db("dev")
    if goal_type:
        found = _select(path, f"SELECT id FROM {table} WHERE type = ? ORDER BY id", (goal_type,))
    else:
        found = _select(path, f"SELECT id FROM {table} ORDER BY id")
    row_id = found[0][0]
    _execute(path, f"UPDATE {table} SET {column} = ? WHERE id = ?", (value, row_id))
    with legacy_database(path) as alias:
        _migrate(alias)
    kept = _select(path, f"SELECT {column}, typeof({column}) FROM {table} WHERE id = ?", (row_id,))
    assert kept == [(value, "text")]


def _refused(command: str, *args: str, **options) -> CommandError:
    with pytest.raises(CommandError) as raised:
        call_command(command, *args, stdout=StringIO(), stderr=StringIO(), **options)
    return raised.value


def test_restore_of_a_missing_path_is_refused(tmp_path):
    """restore_db of a path with no file says so and exits 2."""
    error = _refused("restore_db", str(tmp_path / "nowhere.db"), "--yes")
    assert str(error) == (
        f"{tmp_path / 'nowhere.db'} cannot be restored: the backup file does not exist. "
        "Choose a verified backup (manage.py list_backups)."
    )
    assert error.returncode == Exit.USAGE


def test_restore_of_a_file_that_is_not_a_backup_is_refused(make_legacy_db, legacy_database):
    """restore_db of a database file without a backup manifest refuses and replaces nothing."""
    target = make_legacy_db("dev")
    stranger = make_legacy_db("prod")
    digests = (file_sha256(target), file_sha256(stranger))
    with legacy_database(target) as alias:
        error = _refused("restore_db", str(stranger), "--yes", database=alias)
    assert str(error) == (
        f"{stranger} cannot be restored: no manifest: not verified. "
        "Choose a verified backup (manage.py list_backups)."
    )
    assert error.returncode == Exit.BACKUP_UNVERIFIED
    assert (file_sha256(target), file_sha256(stranger)) == digests


def test_backup_with_negative_keep_is_refused_before_copying(make_legacy_db, legacy_database):
    """backup_db --keep -1 exits 2 without leaving a backup behind."""
    path = make_legacy_db("dev")
    folder = path.parent / "backups"
    with legacy_database(path) as alias:
        error = _refused("backup_db", "--keep", "-1", "--dir", str(folder), database=alias)
    assert str(error) == "--keep must be 1 or more: the newest verified backup always stays."
    assert error.returncode == Exit.USAGE
    assert not folder.exists() or not any(folder.iterdir())


def test_backup_with_keep_not_a_number_is_a_usage_error():
    """backup_db --keep with a word is rejected by the argument parser."""
    error = _refused("backup_db", "--keep", "all")
    assert "argument --keep: invalid int value: 'all'" in str(error)


@pytest.mark.parametrize("fractals", ["-1", "-30"])
def test_make_legacy_db_refuses_a_negative_count(fractals, tmp_path):
    """make_legacy_db --fractals below 0 exits 2 and writes no file."""
    path = tmp_path / "negative.db"
    error = _refused("make_legacy_db", str(path), "--fractals", fractals)
    assert str(error) == "fractals must be 0 or more."
    assert error.returncode == Exit.USAGE
    assert not path.exists()


def test_make_legacy_db_with_no_fractals_writes_empty_legacy_tables(tmp_path):
    """make_legacy_db --fractals 0 is allowed: the legacy tables, without a row."""
    path = tmp_path / "none.db"
    call_command("make_legacy_db", str(path), "--fractals", "0", verbosity=0)
    tables = [row[0] for row in _select(path, "SELECT name FROM sqlite_master WHERE type='table'")]
    assert "goals" in tables
    assert len(tables) == 13
    assert [_select(path, f'SELECT COUNT(*) FROM "{table}"')[0][0] for table in tables] == (
        [0] * 13
    )


def test_verify_root_ids_with_an_unknown_alias_is_refused():
    """verify_root_ids --database with an alias not configured names the known ones and exits 2."""
    error = _refused("verify_root_ids", "--database", "nope")
    assert str(error) == (
        "Error: argument --database: invalid choice: 'nope' (choose from 'default')"
    )
    assert error.returncode == Exit.USAGE


def _no_database(tmp_path: Path, make_migrated_db, kind: str) -> Path:
    if kind == "a missing file":
        return tmp_path / "nowhere.db"
    if kind == "a missing folder":
        return tmp_path / "nowhere" / "goals.db"
    if kind == "a folder":
        return tmp_path
    if kind == "an empty file":
        (tmp_path / "empty.db").touch()
        return tmp_path / "empty.db"
    if kind == "a text file":
        (tmp_path / "notes.db").write_text("not a database\n")
        return tmp_path / "notes.db"
    return _truncate_to_half(make_migrated_db("dev"))


@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [
        ("a missing file", Exit.USAGE, "does not exist, so there is nothing to verify"),
        ("a missing folder", Exit.USAGE, "does not exist, so there is nothing to verify"),
        ("a folder", Exit.NOT_SQLITE, "is a directory, not a database file"),
        ("an empty file", Exit.EMPTY, "is empty, so there is nothing to verify"),
        ("a text file", Exit.NOT_SQLITE, "is not a SQLite database"),
        ("a damaged file", Exit.DAMAGED, "is damaged: SQLite reports"),
    ],
)
def test_verify_root_ids_of_a_path_without_a_database_is_refused_unchanged(
    tmp_path, make_migrated_db, legacy_database, kind, status, message
):
    """verify_root_ids pointed at no database says what it found, with its own exit status, and
    leaves the path as it was: a missing file is not made (SQLite would create it). The damaged
    file is in WAL mode, as `migrate` leaves it: SQLite's -wal and -shm beside it may appear."""
    path = _no_database(tmp_path, make_migrated_db, kind)

    def files() -> list[Path]:
        return sorted(f for f in tmp_path.rglob("*") if not f.name.endswith(("-wal", "-shm")))

    before = files()
    digest = file_sha256(path) if path.is_file() else None
    with legacy_database(path) as alias:
        error = _refused("verify_root_ids", "--database", alias)
    assert error.returncode == status
    assert str(error).startswith(f"{path} {message}")
    assert files() == before
    assert (file_sha256(path) if path.is_file() else None) == digest


@pytest.mark.django_db
def test_assign_fractal_owner_to_an_unknown_user_is_refused():
    """assign_fractal_owner for a user that does not exist says so and exits 2."""
    error = _refused("assign_fractal_owner", "ghost")
    assert str(error) == (
        "No user named 'ghost'. Create one first with `manage.py createsuperuser` "
        "(or in the admin)."
    )
    assert error.returncode == Exit.USAGE


# -- faults from outside during adoption ----------------------------------------------------------


def _assert_released(path: Path) -> None:
    """Nothing of the failed run is left open: no journal, and another writer gets the lock."""
    assert not Path(f"{path}-journal").exists()
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()


@pytest.mark.parametrize("command", ["adopt_legacy_db", "migrate"])
def test_a_disk_full_during_adoption_is_reported_and_rolled_back(
    command, make_legacy_db, legacy_database
):
    """A disk that fills up halfway through a table's rebuild is named as such (exit 14); the
    file is byte-for-byte as it was and no transaction is left open. An id stored as a number
    in metric_values makes adoption copy that table (a dev file's tables are otherwise kept in
    place, which needs no room). `migrate`, with its backup, adopts inside its one transaction,
    which SQLite rolls back whole on a full disk: the error is still the disk's."""
    path = make_legacy_db("dev")
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("UPDATE metric_values SET split_definition_id = 4242 WHERE rowid = 1")
    digest = file_sha256(path)
    (pages,) = _select(path, "PRAGMA page_count")[0]
    # A connection whose file may not grow gets SQLite's own disk-full error (SQLITE_FULL).
    with legacy_database(path, init_command=f"PRAGMA max_page_count = {pages + 2}") as alias:
        error = _refused(command, database=alias)
        _assert_released(path)
    assert str(error) == (
        f"The disk holding {path} filled up during adoption (SQLite: database or disk is full). "
        "Adoption was rolled back; nothing was changed. Free about 2 times the file's size there "
        "and run again."
    )
    assert error.returncode == LegacyDbProblem.NO_SPACE
    assert file_sha256(path) == digest


def test_too_little_disk_is_named_with_what_is_needed(make_legacy_db, legacy_database, monkeypatch):
    """migrate refuses before its backup when the disk cannot hold it and the rebuilds (exit 14)."""
    path = make_legacy_db("dev")
    size = path.stat().st_size
    digest = file_sha256(path)
    low_disk(monkeypatch)
    monkeypatch.setenv("SQLITE_TMPDIR", str(path.parent))  # SQLite's temporary files beside it
    with legacy_database(path) as alias:
        refusal = _refused("migrate", database=alias)
    assert str(refusal) == (
        f"Not enough free space for {path}: {FREE} bytes free in {path.parent}, about "
        f"{4 * size + size // 2} needed (table rebuilds 3 x {size}, SQLite's temporary files "
        f"0.5 x {size}, backup {size}). Free space there, or put backups on another disk "
        "(FRACTAL_BACKUP_DIR), or point SQLITE_TMPDIR at a folder on another disk, and run "
        "again; nothing was changed."
    )
    assert refusal.returncode == LegacyDbProblem.NO_SPACE
    assert file_sha256(path) == digest
    assert not (path.parent / "backups").exists()


def test_too_little_room_for_sqlites_temporary_files_is_named(
    make_legacy_db, legacy_database, monkeypatch, small_disk
):
    """SQLite's temporary folder (SQLITE_TMPDIR) on a disk of its own, too small for the sorts
    of the index builds, is named before anything changes (exit 14), with where else to put
    it."""
    path = make_legacy_db("dev")
    size = path.stat().st_size
    digest = file_sha256(path)
    folder = small_disk(64 * 1024)
    monkeypatch.setenv("SQLITE_TMPDIR", str(folder))
    with legacy_database(path) as alias:
        refusal = _refused("migrate", database=alias)
    free = shutil.disk_usage(folder).free
    assert free < size // 2
    assert str(refusal) == (
        f"Not enough free space for {path}: {free} bytes free in {folder}, about {size // 2} "
        f"needed (SQLite's temporary files 0.5 x {size}). Free space there, or point "
        "SQLITE_TMPDIR at a folder on another disk, and run again; nothing was changed."
    )
    assert refusal.returncode == Exit.NO_SPACE
    assert file_sha256(path) == digest


@pytest.mark.parametrize("backup", [True, False])
def test_a_disk_full_during_a_migration_is_named_and_rolled_back(
    make_legacy_db, legacy_database, backup
):
    """A disk that fills up in a migration after adoption stops migrate with exit 14 and the
    folders SQLite writes to, not a traceback. With a backup the whole run is rolled back and
    the file is byte for byte as it was; without one, the migration that failed is."""
    path = make_legacy_db("dev")
    digest = file_sha256(path)
    (pages,) = _select(path, "PRAGMA page_count")[0]
    # Room for adoption (in place) and the first migrations, not for the backfill's writes.
    with legacy_database(path, init_command=f"PRAGMA max_page_count = {pages + 60}") as alias:
        error = _refused("migrate", database=alias, no_backup=not backup)
        _assert_released(path)
    assert error.returncode == Exit.NO_SPACE
    message = str(error)
    assert re.match(
        r"[a-z_]+\.\d{4}_\w+ was stopped by the database \(database or disk is full\) and "
        r"rolled back\.( The migrations before it stay applied\.)? A disk filled up \(",
        message,
    ), message
    failed = message.split(" ", 1)[0]
    assert failed in {f"{app}.{name}" for app, name in MigrationLoader(None).disk_migrations}
    assert f"{path.parent.resolve()}: " in message
    assert f"{sqlite_temp_folder()}: " in message
    assert "point SQLITE_TMPDIR at a folder on a disk with more room" in message
    if backup:
        assert "all of it was rolled back" in message
        assert "stay applied" not in message
        assert file_sha256(path) == digest
    else:
        assert "The migrations before it stay applied." in message
        applied = {
            name for (name,) in _select(path, "SELECT app || '.' || name FROM django_migrations")
        }
        assert failed not in applied
        assert "goals.0003_add_root_and_audit_columns" in applied


def test_a_disk_full_while_going_back_is_named_with_the_direction(
    make_migrated_db, legacy_database, small_disk
):
    """Going back, a disk that fills up while a migration is unapplied stops migrate with exit
    14 naming that migration and the direction: it stays applied, the ones unapplied before
    it stay unapplied. The migrated file sits on a disk with little room beside it."""
    made = make_migrated_db("dev")
    disk = small_disk(made.stat().st_size + 256 * 1024)
    path = Path(shutil.copy(made, disk / made.name))
    with legacy_database(path) as alias:
        error = _refused("migrate", "goals", "0003", database=alias, no_backup=True)
    assert error.returncode == Exit.NO_SPACE
    message = str(error)
    match = re.match(
        r"Unapplying ([a-z_]+\.\d{4}_\w+) was stopped by the database \(database or disk is "
        r"full\) and rolled back\. The migrations unapplied before it stay unapplied; it stays "
        r"applied\. A disk filled up \(",
        message,
    )
    assert match, message
    assert f"{disk}: " in message
    applied = {
        name for (name,) in _select(path, "SELECT app || '.' || name FROM django_migrations")
    }
    assert match[1] in applied


class InterruptedOutput(StringIO):
    """Command progress during which Ctrl-C arrives, as adoption reports its third table."""

    def write(self, text: str) -> int:
        if "activity_groups" in text:
            raise KeyboardInterrupt
        return super().write(text)


@pytest.mark.parametrize(
    ("command", "options"), [("adopt_legacy_db", {}), ("migrate", {"no_backup": True})]
)
def test_ctrl_c_during_adoption_is_rolled_back(command, options, make_legacy_db, legacy_database):
    """Ctrl-C in the middle of adoption says so (exit 15) and leaves the file unchanged."""
    path = make_legacy_db("dev")
    digest = file_sha256(path)
    with legacy_database(path) as alias:
        with pytest.raises(CommandError) as raised:
            call_command(
                command,
                database=alias,
                stdout=StringIO(),
                stderr=InterruptedOutput(),
                verbosity=2,
                **options,
            )
        _assert_released(path)
    assert str(raised.value) == (
        f"Adoption of {path} was interrupted and rolled back; nothing was changed. "
        "Run it again to adopt the file."
    )
    assert raised.value.returncode == LegacyDbProblem.INTERRUPTED
    assert file_sha256(path) == digest


def _schema(path: Path) -> list[tuple]:
    return _select(path, "SELECT type, name, sql FROM sqlite_master ORDER BY name")


def _refused_while_the_legacy_app_runs(
    legacy_database, path: Path, command: str, script: str
) -> CommandError:
    """`command`'s refusal when the legacy app runs `script` on the file after it was
    inspected: as the command's own connection to it opens. Nothing of the run is left open."""

    def legacy_app_runs(sender, connection, **kwargs) -> None:
        if connection.alias == LEGACY_ALIAS:
            connection_created.disconnect(legacy_app_runs)
            _execute(path, script)

    connection_created.connect(legacy_app_runs)
    try:
        with legacy_database(path) as alias:
            error = _refused(command, database=alias)
            _assert_released(path)
    finally:
        connection_created.disconnect(legacy_app_runs)
    return error


@pytest.mark.parametrize(
    ("command", "options"),
    [("adopt_legacy_db", {}), ("migrate", {"no_backup": True}), ("migrate", {})],
    ids=["adopt_legacy_db", "migrate --no-backup", "migrate"],
)
def test_a_null_key_its_index_does_not_hold_is_found_by_reading_the_table(
    command, options, make_legacy_db, legacy_database
):
    """A damaged file: a row of activity_groups with a NULL id that the key's index lacks, so
    every look by the index misses it (and quick_check, which does not compare an index with
    its table, passes). Adoption's search of the columns it makes NOT NULL reads the table's
    own rows, finds it and names it; the file is unchanged. With a backup the adoption runs
    while the copy is checked, and its refusal is the one said."""
    path = make_legacy_db("dev")
    file = sqlite3.connect(path, isolation_level=None)
    (definition,) = file.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'activity_groups'"
    ).fetchone()
    keyless = re.sub(r"(\bid\s+\w+)\s+PRIMARY KEY", r"\1", definition, count=1)
    assert keyless != definition
    (root,) = file.execute("SELECT root_id FROM activity_groups LIMIT 1").fetchone()

    def write_schema(*statements) -> None:
        (version,) = file.execute("PRAGMA schema_version").fetchone()
        file.execute("PRAGMA writable_schema = ON")
        for statement, params in statements:
            file.execute(statement, params)
        file.execute(f"PRAGMA schema_version = {version + 1}")
        file.execute("PRAGMA writable_schema = OFF")

    # The key's index made partial (NULLs left out) for one insert, then given back its name.
    write_schema(
        ("UPDATE sqlite_master SET sql = ? WHERE name = 'activity_groups'", (keyless,)),
        (
            "UPDATE sqlite_master SET name = 'partial_key', sql = 'CREATE UNIQUE INDEX "
            "partial_key ON activity_groups (id) WHERE id IS NOT NULL' "
            "WHERE name = 'sqlite_autoindex_activity_groups_1'",
            (),
        ),
    )
    file.close()
    file = sqlite3.connect(path, isolation_level=None)
    file.execute(
        "INSERT INTO activity_groups (id, root_id, name) VALUES (NULL, ?, 'ghost')", (root,)
    )
    write_schema(
        ("UPDATE sqlite_master SET sql = ? WHERE name = 'activity_groups'", (definition,)),
        (
            "UPDATE sqlite_master SET name = 'sqlite_autoindex_activity_groups_1', sql = NULL "
            "WHERE name = 'partial_key'",
            (),
        ),
    )
    file.close()
    file = sqlite3.connect(path)
    assert file.execute("PRAGMA quick_check").fetchone() == ("ok",)
    assert file.execute("SELECT COUNT(*) FROM activity_groups WHERE id IS NULL").fetchone() == (0,)
    file.close()
    digest = file_sha256(path)
    with legacy_database(path) as alias:
        error = _refused(command, database=alias, **options)
    assert "NULL value in activity_groups.id" in str(error)
    assert error.returncode == Exit.DATABASE_ERROR
    assert file_sha256(path) == digest


@pytest.mark.parametrize("command", ["adopt_legacy_db", "migrate"])
def test_the_legacy_app_writing_during_adoption_is_named(command, make_legacy_db, legacy_database):
    """A row the legacy app writes after inspection stops adoption with exit 8, naming the
    change; the app's write stays and adoption changed nothing. (`migrate` reads the counts
    again because the file was written since it inspected it: adoption.write_witness.)"""
    path = make_legacy_db("dev")
    schema = _schema(path)
    goals = _select(path, "SELECT id, name FROM goals ORDER BY id")
    error = _refused_while_the_legacy_app_runs(
        legacy_database,
        path,
        command,
        "INSERT INTO goals (id, type, name) VALUES ('written-meanwhile', 'UltimateGoal', "
        "'Written by the legacy app')",
    )
    assert str(error) == (
        f"{path} changed while it was being adopted: goals had {len(goals)} rows when inspected "
        f"and {len(goals) + 1} a moment later, so another program (the legacy app?) is writing "
        "to it. Stop that program and run again; nothing was changed."
    )
    assert error.returncode == LegacyDbProblem.LOCKED
    assert _schema(path) == schema
    assert _select(path, "SELECT id, name FROM goals ORDER BY id") == sorted(
        [*goals, ("written-meanwhile", "Written by the legacy app")]
    )


@pytest.mark.parametrize("command", ["adopt_legacy_db", "migrate"])
def test_the_legacy_app_changing_the_schema_after_inspection_is_named(
    command, make_legacy_db, legacy_database
):
    """A column the legacy app adds after the file was inspected (and before adoption's
    transaction: `migrate` inspects once, then checks, backs up and adopts) stops adoption with
    exit 8 instead of a rebuild that would drop the column unseen; the app's column and value
    stay, and nothing was adopted."""
    path = make_legacy_db("dev")
    (goal,) = _select(path, "SELECT id FROM goals ORDER BY id LIMIT 1")[0]
    error = _refused_while_the_legacy_app_runs(
        legacy_database,
        path,
        command,
        "ALTER TABLE goals ADD COLUMN mood TEXT; "
        f"UPDATE goals SET mood = 'written meanwhile' WHERE id = '{goal}'",
    )
    assert str(error).startswith(f"{path} changed while it was being adopted: its schema")
    assert error.returncode == LegacyDbProblem.LOCKED
    assert _select(path, "SELECT mood FROM goals WHERE id = ?", (goal,)) == [("written meanwhile",)]
    assert not _select(path, "SELECT name FROM sqlite_master WHERE name = 'django_migrations'")


# Each fault of exit 12 with the refusal that names it: keys, then references.
KEYS_AND_REFERENCES = {
    **{name: (script, line, bad_keys_message) for name, (script, line) in BAD_KEYS.items()},
    **{
        name: (script, line, blob_references_message)
        for name, (script, line) in BLOB_REFERENCES.items()
    },
}


@pytest.mark.parametrize("command", ["adopt_legacy_db", "migrate"])
@pytest.mark.parametrize("case", KEYS_AND_REFERENCES, ids=list(KEYS_AND_REFERENCES))
def test_bad_keys_and_blob_references_are_refused_unchanged(
    case, command, make_legacy_db, legacy_database
):
    """Rows with a NULL, repeated or blob primary key are named with a query to find them, and
    references stored as blobs (which name a row SQLite never finds by them) per column with
    the UPDATE that stores them as text, or, where that would not make ids, the query that
    finds the rows to set by hand (exit 12): not hidden behind a failed rebuild or a refusal
    further on; the file is unchanged and no backup is taken."""
    path = make_legacy_db("dev")
    script, line, message = KEYS_AND_REFERENCES[case]
    _execute(path, script)
    (first,) = _select(path, "SELECT MIN(id) FROM metric_values")[0]
    digest = file_sha256(path)
    with legacy_database(path) as alias:
        error = _refused(command, database=alias)
    assert str(error) == message(path, line.format(first=first))
    assert error.returncode == LegacyDbProblem.BAD_KEYS
    assert file_sha256(path) == digest
    assert not (path.parent / "backups").exists()


@pytest.mark.parametrize(
    "index",
    [
        "CREATE UNIQUE INDEX big_values ON metric_values (id) WHERE value > 1e12",
        "CREATE INDEX values_by_id ON metric_values (id)",
    ],
    ids=["partial unique", "not unique"],
)
def test_repeated_keys_behind_an_index_that_does_not_forbid_them_are_still_found(
    index, make_legacy_db, legacy_database
):
    """Only a UNIQUE index of the whole table on exactly the key vouches that it holds no
    repeats: behind one limited by a WHERE clause, or one not unique, the repeats are still
    found and named (exit 12)."""
    path = make_legacy_db("dev")
    script, line = BAD_KEYS["an id used twice"]
    _execute(path, script.replace("INSERT INTO", f"{index}; INSERT INTO", 1))
    (first,) = _select(path, "SELECT MIN(id) FROM metric_values")[0]
    with legacy_database(path) as alias:
        error = _refused("migrate", database=alias)
    assert str(error) == bad_keys_message(path, line.format(first=first))
    assert error.returncode == LegacyDbProblem.BAD_KEYS


def test_a_unique_index_over_an_expression_is_named_as_the_users_own(
    make_legacy_db, legacy_database
):
    """A UNIQUE index of the user's own that covers an expression as well as the key (SQLite
    gives such a column no name) is refused like any index of the user's own (exit 13)."""
    path = make_legacy_db("dev")
    _execute(path, "CREATE UNIQUE INDEX goal_names ON goals (id, lower(name))")
    digest = file_sha256(path)
    with legacy_database(path) as alias:
        error = _refused("migrate", database=alias)
    assert error.returncode == LegacyDbProblem.USER_SCHEMA
    assert "index goal_names on goals, which rebuilding goals would drop" in str(error)
    assert file_sha256(path) == digest


def test_keys_that_a_unique_index_holds_are_not_scanned_for_repeats(
    make_legacy_db, legacy_database
):
    """A legacy table whose key is a TEXT PRIMARY KEY cannot hold a repeat, so the preflight
    spends no pass over it looking for one; it still looks for NULL keys."""
    path = make_legacy_db("dev")
    with legacy_database(path) as alias:
        models, _ = adoption_target("dev")
        with CaptureQueriesContext(connections[alias]) as queries:
            assert key_refusal(connections[alias], path=path, models=models) is None
    sql = [query["sql"] for query in queries.captured_queries]
    assert not [text for text in sql if "HAVING COUNT(*) > 1" in text]
    assert len([text for text in sql if "IS NULL" in text]) == len(LEGACY_TABLES)


@pytest.mark.parametrize("command", ["adopt_legacy_db", "migrate"])
@pytest.mark.parametrize("case", USER_OBJECTS, ids=list(USER_OBJECTS))
def test_user_views_triggers_and_indexes_are_named_not_dropped(
    case, command, make_legacy_db, legacy_database
):
    """A view, trigger or index of the user's own on a legacy table is never dropped or allowed
    to break the rebuild: the file is refused naming it with its SQL (exit 13), unchanged."""
    path = make_legacy_db("dev")
    script, line = USER_OBJECTS[case]
    _execute(path, script)
    digest = file_sha256(path)
    with legacy_database(path) as alias:
        error = _refused(command, database=alias)
    assert str(error) == user_objects_message(path, line)
    assert error.returncode == LegacyDbProblem.USER_SCHEMA
    assert file_sha256(path) == digest


def test_the_legacy_apps_own_indexes_are_still_replaced(make_legacy_db, legacy_database):
    """Indexes the legacy schema itself declares are not the user's: adoption replaces them."""
    path = make_legacy_db("prod")
    with legacy_database(path) as alias:
        out = StringIO()
        call_command("adopt_legacy_db", database=alias, stdout=out)
    assert "replaced legacy index idx_programs_root" in out.getvalue()


# -- a write cut off by a kill: a hot journal ------------------------------------------------------

WRITTEN = {
    "goals": "SELECT id, description FROM goals ORDER BY id",
    "metric_values": "SELECT id, value FROM metric_values ORDER BY id",
}


@pytest.mark.parametrize(
    ("command", "options"), [("adopt_legacy_db", {}), ("migrate", {"no_backup": True})]
)
def test_a_write_cut_off_by_a_kill_is_rolled_back_not_called_damage(
    command, options, make_legacy_db, legacy_database
):
    """A hot journal is not damage: migrate and adoption let SQLite roll the cut-off write back,
    say so, and go on with every row and value as it was last committed."""
    path = make_legacy_db("dev")
    committed = {table: _select(path, sql) for table, sql in WRITTEN.items()}
    journal = cut_off_write(path)
    out = StringIO()
    with legacy_database(path) as alias:
        call_command(command, database=alias, stdout=out, verbosity=1, **options)
    assert (
        f"Rolled back the unfinished write in {journal} that a killed program left (SQLite's "
        "own recovery): the file is as it was at its last commit."
    ) in out.getvalue()
    assert not journal.exists()
    for table, sql in WRITTEN.items():
        assert set(committed[table]) <= set(_select(path, sql)), table


def test_recover_only_rolls_back_to_the_last_commit(make_legacy_db, legacy_database):
    """adopt_legacy_db --recover gives back the file exactly as last committed, and no more."""
    path = make_legacy_db("dev")
    digest = file_sha256(path)
    journal = cut_off_write(path)
    out = StringIO()
    with legacy_database(path) as alias:
        call_command("adopt_legacy_db", "--recover", database=alias, stdout=out)
    assert "Rolled back the unfinished write" in out.getvalue()
    assert file_sha256(path) == digest
    assert not journal.exists()


def test_backup_db_says_it_rolled_back_a_cut_off_write(make_legacy_db, legacy_database):
    """backup_db on a file with a write cut off lets SQLite roll it back, as its copy's read
    would, and says so as migrate and adoption do (it did so without a word); the backup holds
    the file as last committed."""
    path = make_legacy_db("dev")
    digest = file_sha256(path)
    journal = cut_off_write(path)
    out, err = StringIO(), StringIO()
    with legacy_database(path) as alias:
        call_command("backup_db", database=alias, stdout=out, stderr=err)
        (backup,) = backups_list(using=alias)
    assert (
        f"Rolled back the unfinished write in {journal} that a killed program left (SQLite's "
        "own recovery): the file is as it was at its last commit."
    ) in out.getvalue() + err.getvalue()
    assert not journal.exists()
    assert file_sha256(path) == digest
    assert _select(backup.path, "SELECT COUNT(*) FROM goals") == _select(
        path, "SELECT COUNT(*) FROM goals"
    )


def test_check_says_what_to_do_with_a_hot_journal_and_changes_nothing(
    make_legacy_db, legacy_database
):
    """adopt_legacy_db --check on a hot journal says it is not damage and what to run (exit 16),
    leaving the file and the journal as they are."""
    path = make_legacy_db("dev")
    journal = cut_off_write(path)
    digests = (file_sha256(path), file_sha256(journal))
    with legacy_database(path) as alias:
        error = _refused("adopt_legacy_db", "--check", database=alias)
    assert str(error) == hot_journal_message(path)
    assert error.returncode == LegacyDbProblem.HOT_JOURNAL
    assert (file_sha256(path), file_sha256(journal)) == digests


def test_a_goal_id_written_as_a_blob_after_adoption_is_refused_by_the_backfill(
    make_legacy_db,
):
    """A legacy file is refused a blob key before anything changes (above); one written into an
    adopted file meets the backfill. An SQLite text column keeps a blob as a blob: a parentless
    goal whose id is the blob X'6363' reads as the text 'cc', the id of a goal in a cycle ('cc'
    and 'dd' each other's parent), where a walk down the goal tree taking them as distinct
    would go round the cycle for ever. The backfill refuses the blob key before its first
    change (exit 12), naming it by its SQL literal, and is rolled back. Run as a process of its
    own, so that a walk that did not end fails the test at the timeout instead of holding the
    run."""
    path = make_legacy_db("dev")
    adopted = manage_process(f"sqlite:///{path}", "adopt_legacy_db", timeout=300)
    assert adopted.returncode == 0, adopted.stderr
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.execute(
            "INSERT INTO goals (id, type, name, parent_id, created_at) VALUES "
            "(X'6363', 'UltimateGoal', 'blob', NULL, '2025-06-01 00:00:00'), "
            "('cc', 'LongTermGoal', 'c', 'dd', '2025-06-01 00:00:00'), "
            "('dd', 'LongTermGoal', 'd', 'cc', '2025-06-01 00:00:00')"
        )
    goals = "SELECT quote(id), parent_id, root_id FROM goals ORDER BY 1"
    before = _select(path, goals)
    finished = manage_process(f"sqlite:///{path}", "migrate", "--no-backup", timeout=300)
    assert finished.returncode == Exit.BAD_KEYS, finished.stderr
    assert "goals.id holds 1 id(s) stored as a blob, not text (first: X'6363')" in finished.stderr
    assert "SELECT rowid, * FROM goals WHERE typeof(id) = 'blob';" in finished.stderr
    applied = "SELECT name FROM django_migrations WHERE app = 'goals' ORDER BY id DESC LIMIT 1"
    assert _select(path, applied) == [("0003_add_root_and_audit_columns",)]
    assert _select(path, goals) == before


@pytest.mark.parametrize("variant", ["prod", "script_migrated"])
def test_references_stored_as_blobs_are_refused_in_the_other_variants(
    variant, make_legacy_db, legacy_database
):
    """Each variant's own reference columns are read: prod has no split_definition_id to ask
    for, and script_migrated's roots from the earlier script, which the backfill derives
    anew, are refused as well (one rule for every reference)."""
    path = make_legacy_db(variant)
    _execute(
        path,
        "UPDATE activity_instances SET activity_definition_id = X'6363' "
        "WHERE rowid = (SELECT MIN(rowid) FROM activity_instances)",
    )
    lines = [
        "  - activity_instances.activity_definition_id: 1 activity_definitions id(s) (first: "
        "X'6363'); store them as text (after a backup): UPDATE activity_instances SET "
        "activity_definition_id = CAST(activity_definition_id AS TEXT) WHERE "
        "typeof(activity_definition_id) = 'blob'"
    ]
    if variant == "script_migrated":
        _execute(
            path,
            "UPDATE metric_values SET root_id = X'' "
            "WHERE rowid = (SELECT MIN(rowid) FROM metric_values)",
        )
        lines.append(
            "  - metric_values.root_id: 1 goals id(s) (first: X''); some are no text that makes "
            "an id, so casting them would not help: set each to the id it stands for, or to NULL "
            "where it stands for none (after a backup); find them with: SELECT rowid, * FROM "
            "metric_values WHERE typeof(root_id) = 'blob'"
        )
    digest = file_sha256(path)
    with legacy_database(path) as alias:
        error = _refused("migrate", database=alias)
    assert str(error) == blob_references_message(path, "\n".join(lines))
    assert error.returncode == LegacyDbProblem.BAD_KEYS
    assert file_sha256(path) == digest


def test_an_id_of_any_table_written_as_a_blob_after_adoption_is_refused_by_the_backfill(
    make_legacy_db, legacy_database
):
    """Not only goals: a metric value whose id another program rewrote as a blob after
    adoption is refused by the backfill (exit 12), with the count and the query that finds
    them, and the file stays at goals.0003."""
    path = make_legacy_db("dev")
    with legacy_database(path) as alias:
        call_command("adopt_legacy_db", database=alias, stdout=StringIO())
        _execute(
            path,
            "UPDATE metric_values SET id = CAST(id AS BLOB) "
            "WHERE rowid IN (SELECT rowid FROM metric_values ORDER BY id LIMIT 2)",
        )
        (first,) = _select(path, "SELECT MIN(id) FROM metric_values WHERE typeof(id) = 'blob'")[0]
        error = _refused("migrate", database=alias, no_backup=True)
    assert error.returncode == Exit.BAD_KEYS
    assert str(error).startswith(
        f"metric_values.id holds 2 id(s) stored as a blob, not text (first: X'{first.hex()}', "
    )
    assert "SELECT rowid, * FROM metric_values WHERE typeof(id) = 'blob';" in str(error)
    applied = "SELECT name FROM django_migrations WHERE app = 'goals' ORDER BY id DESC LIMIT 1"
    assert _select(path, applied) == [("0003_add_root_and_audit_columns",)]


@pytest.mark.parametrize("when", ["in the legacy file", "after adoption"])
def test_a_parent_stored_as_a_blob_is_refused_and_goes_through_once_stored_as_text(
    when, make_legacy_db, legacy_database
):
    """A parent stored as the blob of an existing goal's id equals no text. In a legacy file
    the preflight refuses it before anything changes; written into an adopted file, which the
    preflight no longer reads, it meets the backfill, which would find no parent and make a
    placeholder whose id is that blob, and stops instead, rolled back with the row unchanged
    and the file at goals.0003. Both say exit 12 with the UPDATE that stores it as text; after
    that UPDATE migrate goes through with the goal under its real parent."""
    path = make_legacy_db("dev")
    (parent,) = _select(path, "SELECT id FROM goals WHERE type = 'LongTermGoal' ORDER BY id")[0]
    blob = f"X'{parent.encode().hex()}'"
    with legacy_database(path) as alias:
        if when == "after adoption":
            call_command("adopt_legacy_db", database=alias, stdout=StringIO())
        _execute(
            path,
            "INSERT INTO goals (id, type, name, parent_id, created_at) VALUES ('by-blob', "
            "'MidTermGoal', 'Under a blob', CAST(? AS BLOB), '2025-06-01 00:00:00')",
            (parent,),
        )
        error = _refused("migrate", database=alias, no_backup=True)
        assert error.returncode == Exit.BAD_KEYS
        if when == "after adoption":
            assert str(error).startswith(
                f"goals.parent_id holds 1 goals id(s) stored as a blob, not text (first: {blob})"
            )
            applied = "SELECT name FROM django_migrations WHERE app = 'goals' ORDER BY id DESC"
            assert _select(path, applied)[0] == ("0003_add_root_and_audit_columns",)
        else:
            assert f"  - goals.parent_id: 1 goals id(s) (first: {blob}); " in str(error)
            adopted = "SELECT name FROM sqlite_master WHERE name = 'django_migrations'"
            assert not _select(path, adopted)
        assert _select(path, "SELECT typeof(parent_id) FROM goals WHERE id = 'by-blob'") == [
            ("blob",)
        ]
        (statement,) = re.findall(r"UPDATE goals SET [^;\n]*'blob'", str(error))
        _execute(path, statement)
        call_command("migrate", database=alias, no_backup=True, stdout=StringIO())
    assert _select(
        path,
        "SELECT parent_id, root_id = (SELECT root_id FROM goals WHERE id = ?) "
        "FROM goals WHERE id = 'by-blob'",
        (parent,),
    ) == [(parent, 1)]


def test_a_root_written_as_a_blob_after_adoption_is_refused_not_moved_to_the_recovery_root(
    make_legacy_db, legacy_database
):
    """A template's root is looked up, not derived: written as a blob into an adopted file it
    would find no goal and move the template under the recovery root. The backfill stops
    instead (exit 12), and for a blob that is no text at all it says to set the id by hand
    rather than cast it."""
    path = make_legacy_db("dev")
    with legacy_database(path) as alias:
        (template,) = _select(path, "SELECT id FROM session_templates ORDER BY id LIMIT 1")[0]
        call_command("adopt_legacy_db", database=alias, stdout=StringIO())
        _execute(path, "UPDATE session_templates SET root_id = CAST(root_id AS BLOB)")
        _execute(path, "UPDATE session_templates SET root_id = X'ff41' WHERE id = ?", (template,))
        error = _refused("migrate", database=alias, no_backup=True)
    assert error.returncode == Exit.BAD_KEYS
    assert str(error).startswith("session_templates.root_id holds ")
    assert "X'ff41'" in str(error)
    assert "Some are no text that makes an id" in str(error)
    assert "CAST(" not in str(error)
    assert _select(path, "SELECT COUNT(*) FROM session_templates WHERE typeof(root_id) = 'blob'")[
        0
    ][0] == len(_select(path, "SELECT id FROM session_templates"))


def test_the_advice_for_blob_references_casts_only_blobs_that_make_text_ids():
    """Casting blobs to text helps only where every one's bytes are text that stays text: not
    for the empty blob (it would make the id ''), bytes that are no UTF-8, or text that reads as
    a number (a column declared STRING stores it as one); one such blob among castable ones is
    enough to say so. NULL is offered only for a column that takes it."""

    def advice(*blobs: bytes, nullable: bool = True) -> str:
        return blob_reference_fix("goals", "parent_id", iter(blobs), nullable=nullable)

    assert advice(b"0741c7a8-5b1e-4c55-9a0b-6f1d2c8e7a41").startswith(
        "store them as text (after a backup): UPDATE goals SET parent_id = "
        "CAST(parent_id AS TEXT) WHERE typeof(parent_id) = 'blob'"
    )
    for blobs in ((b"",), (b"\xffA",), (b"12",), (b"1e3",), (b"cc", b"dd", b"2.5")):
        assert "CAST(" not in advice(*blobs), blobs
        assert advice(*blobs).startswith("some are no text that makes an id"), blobs
        assert "or to NULL" in advice(*blobs), blobs
        assert "or to NULL" not in advice(*blobs, nullable=False), blobs


def test_the_recovery_roots_count_includes_the_values_under_it(make_legacy_db, legacy_database):
    """migrate says how many rows the recovery root holds, the metric values of its instances
    among them, though it counts values only when an instance holds it."""
    path = make_legacy_db("dev")
    with legacy_database(path) as alias:
        printed = _migrate(alias)
    (recovery_id,) = _select(path, "SELECT id FROM goals WHERE name = 'Recovered records'")[0]
    held = {
        table: _select(
            path,
            f"SELECT COUNT(*) FROM {table} WHERE root_id = ? AND id <> ?",
            (recovery_id, recovery_id),
        )[0][0]
        for table in ROOT_TABLES
    }
    assert held["metric_values"] > 0
    assert f"'Recovered records' ({recovery_id}) holds {sum(held.values())} row(s)" in printed


def _listing(folder: Path) -> list[Path]:
    return sorted(f for f in folder.rglob("*") if not f.name.endswith(("-wal", "-shm")))


def test_a_database_in_a_missing_folder_is_a_usage_error_for_migrate_and_readiness(
    tmp_path, legacy_database
):
    """migrate refuses a path whose folder does not exist with 2 (it said 'busy', 11, when its
    lock file could not be made), and migration_readiness finds it NOT READY, not READY."""
    path = tmp_path / "nowhere" / "goals.db"
    with legacy_database(path) as alias:
        error = _refused("migrate", database=alias)
        assert error.returncode == Exit.USAGE
        assert str(error).startswith(f"The folder {path.parent} does not exist")
        readiness = StringIO()
        with pytest.raises(CommandError) as raised:
            call_command("migration_readiness", database=alias, stdout=readiness)
    assert raised.value.returncode == Exit.NOT_PASSED
    assert f"The folder {path.parent} does not exist" in readiness.getvalue()
    assert _listing(tmp_path) == []


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (("goals", "0099_nope"), "Cannot find a migration matching '0099_nope' from app 'goals'."),
        (("nosuchapp",), "No installed app with label 'nosuchapp'."),
        (("goals", "000"), "More than one migration matches '000' in app 'goals'."),
    ],
)
def test_an_unknown_migration_target_is_refused_before_anything_is_done(
    target, message, make_legacy_db, legacy_database
):
    """An app or migration that does not exist is a usage error (2) before adoption or the
    backup: the file and its folder stay as they were (before, the file was adopted and backed
    up, then Django's error came with 1)."""
    path = make_legacy_db("dev")
    digest, before = file_sha256(path), _listing(path.parent)
    with legacy_database(path) as alias:
        error = _refused("migrate", *target, database=alias)
    assert error.returncode == Exit.USAGE
    assert str(error).startswith(message)
    assert (file_sha256(path), _listing(path.parent)) == (digest, before)


def _row_counts(path: Path) -> dict[str, int]:
    listed = _select(path, "SELECT name FROM sqlite_master WHERE type = 'table'")
    tables = [name for (name,) in listed]
    return {table: _select(path, f'SELECT COUNT(*) FROM "{table}"')[0][0] for table in tables}


@pytest.mark.parametrize("target", [("goals", "zero"), ("practice_sessions", "zero")])
def test_going_back_past_the_baselines_is_refused_while_the_legacy_tables_hold_rows(
    target, make_migrated_db, legacy_database
):
    """The baselines created the legacy tables: unapplying them would drop every goal, session
    and value. Refused with 24, naming the tables and their rows, and nothing changes; going
    back to the baselines themselves still works."""
    path = make_migrated_db("dev")
    counts = _row_counts(path)
    with legacy_database(path) as alias:
        error = _refused("migrate", *target, "--no-backup", database=alias)
        assert error.returncode == Exit.WOULD_DISCARD
        assert "which created tables that hold rows: " in str(error)
        assert f"metric_values ({counts['metric_values']} rows)" in str(error)
        assert _row_counts(path) == counts
        call_command("migrate", "goals", "0001", "--no-backup", database=alias, stdout=StringIO())
    # Back at the baseline: the legacy rows stay (the backfill's placeholders go).
    assert 0 < _row_counts(path)["goals"] <= counts["goals"]
    assert _row_counts(path)["metric_values"] == counts["metric_values"]


@pytest.mark.parametrize("options", [(), ("--no-backup",)])
def test_going_back_past_the_baselines_of_a_legacy_file_leaves_it_unadopted(
    options, make_legacy_db, legacy_database
):
    """`migrate goals zero` on a legacy file adopted it and then dropped its tables, exit 0:
    now refused before adoption (which without a backup commits on its own), and the file is
    as it was."""
    path = make_legacy_db("dev")
    digest = file_sha256(path)
    with legacy_database(path) as alias:
        error = _refused("migrate", "goals", "zero", *options, database=alias)
    assert error.returncode == Exit.WOULD_DISCARD
    assert "It is a legacy file, not adopted yet." in str(error)
    assert file_sha256(path) == digest


def test_an_app_without_migrations_may_still_be_synced(tmp_path, legacy_database):
    """`migrate APP --run-syncdb` for an app without migrations is Django's to judge: it is not
    refused as an unknown target."""
    with legacy_database(tmp_path / "new.db") as alias:
        call_command(
            "migrate",
            "staticfiles",
            "--run-syncdb",
            "--no-backup",
            database=alias,
            stdout=StringIO(),
        )


@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [
        ("a missing folder", Exit.USAGE, "The database {path} does not exist"),
        ("a text file", Exit.NOT_SQLITE, "{path} is not a SQLite database"),
        ("a damaged file", Exit.DAMAGED, "{path} is damaged: SQLite reports"),
    ],
)
def test_backup_db_of_no_database_is_refused_with_inspections_status(
    kind, status, message, tmp_path, make_migrated_db, legacy_database
):
    """backup_db says what it found with the status migrate gives the same file (it said 17 or
    21), and makes no backup folder."""
    path = _no_database(tmp_path, make_migrated_db, kind)
    folder = tmp_path / "backups"
    before = _listing(tmp_path)
    with legacy_database(path) as alias:
        error = _refused("backup_db", "--dir", str(folder), database=alias)
    assert error.returncode == status
    assert str(error).startswith(message.format(path=path))
    assert _listing(tmp_path) == before


def _a_backup(make_legacy_db, legacy_database) -> Path:
    source = make_legacy_db("dev")
    folder = source.parent / "kept"
    with legacy_database(source) as alias:
        call_command("backup_db", "--dir", str(folder), database=alias, stdout=StringIO())
    return next(folder.glob("*.backup_*[0-9]"))


def test_restore_db_onto_a_file_marked_read_only_is_refused_unchanged(
    tmp_path, make_legacy_db, legacy_database
):
    """A database file marked read-only is refused with 7, as migrate refuses it, before the
    safety backup (it was written anyway by root, or refused with 17 after that backup)."""
    backup = _a_backup(make_legacy_db, legacy_database)
    target = tmp_path / "target" / "goals.db"
    target.parent.mkdir()
    shutil.copyfile(backup, target)
    target.chmod(0o444)
    digest = file_sha256(target)
    with legacy_database(target) as alias:
        error = _refused("restore_db", str(backup), "--yes", database=alias)
    assert error.returncode == Exit.READ_ONLY
    assert str(error).startswith(f"The database file {target} is read-only.")
    assert file_sha256(target) == digest
    assert not [f for f in _listing(tmp_path) if ".backup_" in f.name and "target" in str(f)]


@pytest.mark.parametrize("target", ["a link to a folder", "a loop of links"])
def test_restore_db_onto_a_path_that_names_no_file_is_refused_before_the_lock(
    target, tmp_path, make_legacy_db, legacy_database
):
    """A database path that is a link to a folder (3) or a loop of links (2) is refused as such,
    before the lock file is made beside it. The folder was treated as a damaged database to
    move aside (mv the folder holding the data), and the loop was SQLite's 'unable to open
    database file' (17)."""
    backup = _a_backup(make_legacy_db, legacy_database)
    place = tmp_path / "place"
    place.mkdir()
    path = place / "goals.db"
    if target == "a link to a folder":
        (place / "data").mkdir()
        path.symlink_to(place / "data")
        code, said = Exit.NOT_SQLITE, f"{path} (a link to {place / 'data'}) is a directory, not"
    else:
        (place / "other").symlink_to(path)
        path.symlink_to(place / "other")
        code, said = Exit.USAGE, f"{path} is a symbolic link that leads back to itself"
    before = sorted(f.name for f in place.iterdir())
    with legacy_database(path) as alias:
        error = _refused("restore_db", str(backup), "--yes", database=alias)
    assert error.returncode == code
    assert str(error).startswith(said)
    assert "mv " not in str(error)
    assert sorted(f.name for f in place.iterdir()) == before


def test_backup_db_of_a_loop_of_links_says_so(tmp_path, legacy_database):
    """A database path that is a loop of links is named as one by backup_db (2), as by the
    other commands; it said the database does not exist."""
    path = tmp_path / "goals.db"
    (tmp_path / "other").symlink_to(path)
    path.symlink_to(tmp_path / "other")
    with legacy_database(path) as alias:
        error = _refused("backup_db", database=alias)
    assert error.returncode == Exit.USAGE
    assert str(error).startswith(f"{path} is a symbolic link that leads back to itself")
    assert sorted(f.name for f in tmp_path.iterdir()) == ["goals.db", "other"]


def test_restore_db_onto_a_damaged_file_says_to_move_it_aside(
    tmp_path, make_legacy_db, legacy_database
):
    """No verified safety copy of a damaged file can be taken, so restore_db does not write over
    it: it says so (9) and how to go on; with the file moved aside, the restore goes through."""
    backup = _a_backup(make_legacy_db, legacy_database)
    target = tmp_path / "target" / "goals.db"
    target.parent.mkdir()
    shutil.copyfile(backup, target)
    _truncate_to_half(target)
    digest = file_sha256(target)
    with legacy_database(target) as alias:
        error = _refused("restore_db", str(backup), "--yes", database=alias)
        assert error.returncode == Exit.DAMAGED
        assert f"Move the file aside yourself (mv {target} {target}.damaged)" in str(error)
        assert file_sha256(target) == digest
        target.rename(f"{target}.damaged")
        call_command("restore_db", str(backup), "--yes", database=alias, stdout=StringIO())
    assert _row_counts(target) == _row_counts(backup)


def test_a_backup_whose_manifest_is_not_an_object_is_unverified(make_legacy_db, legacy_database):
    """A manifest holding JSON that is not an object (`[]`) is an unreadable manifest: restore_db
    refuses the backup (21) and list_backups lists it as unverified, not a traceback."""
    backup = _a_backup(make_legacy_db, legacy_database)
    Path(f"{backup}.json").write_text("[]", encoding="utf-8")
    source = backup.parent.parent / "goals_dev.db"
    digest = file_sha256(source)
    with legacy_database(source) as alias:
        error = _refused("restore_db", str(backup), "--yes", database=alias)
        listed = StringIO()
        call_command("list_backups", "--dir", str(backup.parent), database=alias, stdout=listed)
    assert error.returncode == Exit.BACKUP_UNVERIFIED
    assert "unreadable manifest" in str(error)
    assert "unreadable manifest" in listed.getvalue()
    assert file_sha256(source) == digest


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("created_at", 12345, "created_at is 12345"),
        ("created_at", "not a time", "created_at is 'not a time'"),
        ("created_at", "2026-01-01T00:00:00", "created_at is '2026-01-01T00:00:00'"),
        ("size", "307200", "size is '307200'"),
        ("row_counts", {"goals": "many"}, "row_counts is {'goals': 'many'}"),
        ("engine", "oracle", "engine is 'oracle'"),
    ],
)
def test_a_manifest_field_of_the_wrong_kind_makes_the_backup_unverified(
    field, value, said, make_legacy_db, legacy_database
):
    """A manifest whose field is not of the kind backup_db writes (a number for the time, text
    for the size) is an unreadable manifest, named with the field: list_backups lists it,
    backup_db --keep and migration_readiness go on, restore_db refuses it (21). A time that was
    a number stopped list_backups, backup_db --keep and migration_readiness with a traceback."""
    backup = _a_backup(make_legacy_db, legacy_database)
    manifest = Path(f"{backup}.json")
    manifest.write_text(
        json.dumps({**json.loads(manifest.read_text(encoding="utf-8")), field: value}),
        encoding="utf-8",
    )
    source = backup.parent.parent / "goals_dev.db"
    digest = file_sha256(source)
    with legacy_database(source) as alias:
        error = _refused("restore_db", str(backup), "--yes", database=alias)
        assert file_sha256(source) == digest
        listed = StringIO()
        call_command("list_backups", "--dir", str(backup.parent), database=alias, stdout=listed)
        call_command("migration_readiness", database=alias, stdout=StringIO())
        call_command("backup_db", "--keep", "1", database=alias, stdout=StringIO())
    assert error.returncode == Exit.BACKUP_UNVERIFIED
    assert f"unreadable manifest ({said})" in str(error)
    assert f"unreadable manifest ({said})" in listed.getvalue()
    assert backup.exists()  # --keep removes verified backups only


def test_a_manifest_naming_the_wrong_engine_is_said_as_such(make_legacy_db, legacy_database):
    """A manifest edited to say PostgreSQL beside an SQLite backup: restore_db refuses it (21)
    saying so (it ran pg_restore on the file and reported pg_restore's failure)."""
    backup = _a_backup(make_legacy_db, legacy_database)
    manifest = Path(f"{backup}.json")
    data = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**data, "engine": "postgresql"}), encoding="utf-8")
    source = backup.parent.parent / "goals_dev.db"
    with legacy_database(source) as alias:
        error = _refused("restore_db", str(backup), "--yes", database=alias)
    assert error.returncode == Exit.BACKUP_UNVERIFIED
    assert "its manifest says a PostgreSQL dump, but the file is an SQLite database" in str(error)
    assert "pg_restore" not in str(error)


# -- read-only places, damaged pages, links that name no file ----------------------------------


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Iterator[Callable[[Path], Path]]:
    """Shows a folder again, through a bind mount remounted read-only: a real read-only file
    system, where the kernel refuses root too, whatever the permission bits say. Mounting needs
    root, as small_disk does. Unmounted lazily after the test."""
    mounted: list[Path] = []

    def mount(folder: Path) -> Path:
        point = tmp_path / f"read_only{len(mounted)}"
        point.mkdir()
        subprocess.run(["mount", "--bind", str(folder), str(point)], check=True)  # noqa: S603, S607
        mounted.append(point)
        subprocess.run(  # noqa: S603 - fixed arguments
            ["mount", "-o", "remount,bind,ro", str(point)],  # noqa: S607
            check=True,
            capture_output=True,
        )
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "--lazy", str(point)], check=True)  # noqa: S603, S607


def _readiness(alias: str) -> tuple[CommandError, str]:
    out = StringIO()
    with pytest.raises(CommandError, match=r"NOT READY") as raised:
        call_command("migration_readiness", database=alias, stdout=out, stderr=StringIO())
    return raised.value, out.getvalue()


@pytest.mark.parametrize("command", ["verify_root_ids", "adopt_legacy_db", "migrate"])
def test_a_migrated_file_on_a_read_only_mount_is_not_called_damaged(
    command, make_migrated_db, legacy_database, read_only_mount
):
    """A sound file in WAL mode (as `migrate` leaves it) on a read-only file system cannot be
    opened: SQLite must make its -shm beside it ('unable to open database file'). That is the
    folder's refusal (7), as `migrate`'s, never damage with the advice to restore a backup (9,
    which would throw the newest data away); migration_readiness says the same. Nothing is
    written there (nor could be)."""
    source = make_migrated_db("dev")
    path = read_only_mount(source.parent) / source.name
    digest, before = file_sha256(path), _listing(path.parent)
    with legacy_database(path) as alias:
        error = _refused(command, database=alias)
        verdict, report = _readiness(alias)
    assert error.returncode == Exit.READ_ONLY
    assert verdict.returncode == Exit.NOT_PASSED
    for said in (str(error), report):
        assert "is damaged" not in said
        assert "Restore it from a backup" not in said
        assert "file system mounted read-only" in said
    assert (file_sha256(path), _listing(path.parent)) == (digest, before)


@pytest.mark.parametrize(
    "args", [("adopt_legacy_db",), ("adopt_legacy_db", "--check"), ("migrate",)]
)
def test_a_legacy_file_on_a_read_only_mount_is_refused_as_read_only(
    args, make_legacy_db, legacy_database, read_only_mount
):
    """A legacy file on a read-only file system (its permission bits say writable) is refused
    with 7 by adoption, its --check and migrate alike (adoption said 17, 'attempt to write a
    readonly database', and --check that it can be adopted), and migration_readiness says NOT
    READY with migrate's words (it said READY)."""
    source = make_legacy_db("dev")
    path = read_only_mount(source.parent) / source.name
    digest = file_sha256(path)
    with legacy_database(path) as alias:
        error = _refused(*args, database=alias)
        refusal = _refused("migrate", database=alias)
        verdict, report = _readiness(alias)
    assert error.returncode == Exit.READ_ONLY
    assert str(error) == (
        f"The database file {path} cannot be written: it is on a file system mounted "
        "read-only. Make it writable (remount the file system read-write, or change the owner "
        "or permissions) or work on a copy in a writable folder; nothing was changed."
    )
    assert verdict.returncode == Exit.NOT_PASSED
    assert f"- {refusal}\n" in report
    assert file_sha256(path) == digest


def test_a_wal_file_whose_shm_cannot_be_opened_is_not_called_damaged(
    make_migrated_db, legacy_database
):
    """A -shm that SQLite will not open (a symlink: SQLite opens it with O_NOFOLLOW) leaves a
    sound WAL file unopenable ('unable to open database file'): said as such (17), with what to
    look at, not as damage to restore from a backup."""
    path = make_migrated_db("dev")
    shm = path.with_name(f"{path.name}-shm")
    shm.unlink(missing_ok=True)
    shm.symlink_to(path.parent / "elsewhere")
    digest = file_sha256(path)
    with legacy_database(path) as alias:
        error = _refused("verify_root_ids", database=alias)
    assert error.returncode == Exit.DATABASE_ERROR
    assert str(error).startswith(
        f"{path} cannot be opened: SQLite reports 'unable to open database file'. This is not "
        "known to be damage: do not restore a backup over the file for it."
    )
    assert file_sha256(path) == digest


def _damage_a_data_page(path: Path, page: int = 5) -> Path:
    """Overwrite one page of the file's data with 0xAB bytes: the header and the schema (page
    1) still read, the rows on that page do not."""
    (size,) = _select(path, "PRAGMA page_size")[0]
    with path.open("r+b") as handle:
        handle.seek((page - 1) * size)
        handle.write(b"\xab" * size)
    return path


@pytest.mark.parametrize(
    ("command", "migrated"),
    [
        ("verify_root_ids", True),
        ("verify_root_ids", False),
        ("backup_db", True),
        ("backup_db", False),
        ("migrate", False),
        ("adopt_legacy_db", False),
    ],
)
def test_a_damaged_data_page_is_refused_before_work_starts(
    command, migrated, tmp_path, make_legacy_db, make_migrated_db, legacy_database
):
    """A page of data overwritten, the schema intact, is refused as damaged (9) before any work:
    verify_root_ids gave a traceback of 'database disk image is malformed' (1), backup_db made
    its backup folder, then called the copy no sound backup (21), migrate and adoption met it
    counting the rows (1). Nothing is made beside the file (but migrate's lock file, which
    stays), nor in the backup folder."""
    path = _damage_a_data_page((make_migrated_db if migrated else make_legacy_db)("dev"))
    folder = tmp_path / "backups"
    args = ("--dir", str(folder)) if command == "backup_db" else ()
    digest, before = file_sha256(path), _listing(tmp_path)
    with legacy_database(path) as alias:
        error = _refused(command, *args, database=alias)
    assert error.returncode == Exit.DAMAGED
    assert str(error).startswith(f"{path} is damaged: SQLite reports '")
    assert "Restore it from a backup" in str(error)
    after = [f for f in _listing(tmp_path) if not f.name.endswith(".maintenance.lock")]
    assert (file_sha256(path), after) == (digest, before)
    assert not folder.exists()


def test_a_loop_of_symlinks_is_refused_as_naming_no_file(tmp_path, legacy_database):
    """A database path that is a loop of symlinks names no file: migrate refuses it (2; it
    crashed with 'unable to open database file', 1), and so does verify_root_ids, while
    migration_readiness says NOT READY (it said READY, a new database). Nothing is made."""
    path = tmp_path / "loop1.db"
    path.symlink_to(tmp_path / "loop2.db")
    (tmp_path / "loop2.db").symlink_to(path)
    message = f"{path} is a symbolic link that leads back to itself through other links"
    with legacy_database(path) as alias:
        errors = [_refused(command, database=alias) for command in ("migrate", "verify_root_ids")]
        verdict, report = _readiness(alias)
    assert [error.returncode for error in errors] == [Exit.USAGE, Exit.USAGE]
    assert all(str(error).startswith(message) for error in errors)
    assert verdict.returncode == Exit.NOT_PASSED
    assert message in report
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["loop1.db", "loop2.db"]
