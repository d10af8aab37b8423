"""Hostile and broken legacy files: refused clearly and untouched, or migrated losing nothing."""

from __future__ import annotations

import re
import sqlite3
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from goals.legacy.inspection import LegacyDbProblem
from tests.conftest import file_sha256

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


def test_parent_cycles_migrate_and_verify(make_legacy_db, legacy_database, capsys):
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
        _migrate(alias)
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
    # The backfill reports through print(), as only migrations may.
    printed = capsys.readouterr().out
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
