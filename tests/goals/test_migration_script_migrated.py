"""A file the earlier standalone script had already changed reaches the same final state."""

from __future__ import annotations

import sqlite3
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from goals_project.bases.exit_codes import Exit
from goals_project.devdata.generator import legacy_db_generate
from goals_project.maintenance.backward_safety import HELD_BEFORE
from goals_project.maintenance.legacy.schemas import LEGACY_TABLES
from goals_project.maintenance.verification import root_id_report

pytestmark = pytest.mark.sqlite_only


def test_script_migrated_file_is_corrected_and_verified(tmp_path, legacy_database):
    """Wrong, missing and self-made roots of the earlier script are corrected; verify passes."""
    generated = legacy_db_generate(
        path=tmp_path / "script.db",
        variant="script_migrated",
        fractals=4,
        sessions_per_fractal=25,
        seed=5,
    )
    assert generated.dirt["wrong_root_other_fractal"] > 0
    assert generated.dirt["session_own_root"] == 1
    with legacy_database(generated.path) as alias:
        call_command("migrate", database=alias, stdout=StringIO())
        report = root_id_report(using=alias)
    assert report.ok, [check for check in report.checks if not check.ok]
    connection = sqlite3.connect(generated.path)
    (orphan,) = generated.dirt_ids["session_own_root"]
    root = connection.execute("SELECT root_id FROM goals WHERE id = ?", (orphan,)).fetchone()[0]
    recovery = connection.execute(
        "SELECT id FROM goals WHERE name = 'Recovered records'"
    ).fetchone()[0]
    corrected = connection.execute(
        "SELECT COUNT(*) FROM legacy_repairs "
        "WHERE column_name = 'root_id' AND old_value IS NOT NULL"
    ).fetchone()[0]
    connection.close()
    assert root == recovery != orphan
    assert corrected >= generated.dirt["wrong_root_other_fractal"]


def _legacy_values(path) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every row of every legacy table, every column, by name: the columns' order in a table is
    not data (adoption keeps the file's where it can, a rebuild writes the model's)."""
    connection = sqlite3.connect(path)
    try:
        values = {}
        for table in LEGACY_TABLES:
            columns = sorted(row[1] for row in connection.execute(f'PRAGMA table_info("{table}")'))
            listed = ", ".join(f'"{column}"' for column in columns)
            rows = connection.execute(f'SELECT {listed} FROM "{table}"').fetchall()
            values[table] = (columns, sorted(rows, key=repr))
        return values
    finally:
        connection.close()


def test_going_back_gives_the_adopted_script_migrated_file_exactly(tmp_path, legacy_database):
    """Forward then back to goals.0003 (where it was adopted): every legacy value is as it was,
    the NULLs of the columns the earlier script had added included."""
    generated = legacy_db_generate(
        path=tmp_path / "script.db",
        variant="script_migrated",
        fractals=4,
        sessions_per_fractal=25,
        seed=5,
    )
    with legacy_database(generated.path) as alias:
        call_command("adopt_legacy_db", database=alias, stdout=StringIO())
        adopted = _legacy_values(generated.path)
        call_command("migrate", database=alias, no_backup=True, stdout=StringIO())
        assert _legacy_values(generated.path) != adopted
        call_command("migrate", "goals", "0003", database=alias, no_backup=True, stdout=StringIO())
    assert _legacy_values(generated.path) == adopted


def test_going_below_where_a_script_migrated_file_was_adopted_is_refused(tmp_path, legacy_database):
    """Going back past goals.0003 would drop the columns the earlier script had added, with the
    values the file held in them (soft deletes, roots, stamps): refused with exit 24, naming
    the two migrations and the rows, and nothing is changed. It went ahead before, exit 0."""
    generated = legacy_db_generate(
        path=tmp_path / "script.db", variant="script_migrated", fractals=2, seed=3
    )
    with legacy_database(generated.path) as alias:
        call_command("migrate", database=alias, no_backup=True, stdout=StringIO())
        call_command("migrate", "goals", "0003", database=alias, no_backup=True, stdout=StringIO())
        before = _legacy_values(generated.path)
        with pytest.raises(CommandError) as refused:
            call_command(
                "migrate", "goals", "0002", database=alias, no_backup=True, stdout=StringIO()
            )
    message = str(refused.value)
    assert refused.value.returncode == Exit.WOULD_DISCARD
    assert message.startswith(
        "Going back over practice_sessions.0002_add_root_and_audit_columns, "
        "goals.0003_add_root_and_audit_columns would discard data:"
    )
    assert f"- goals: {_holding(generated.path, 'goals')} row(s) {HELD_BEFORE}" in message
    assert "- metric_values: " in message
    assert _legacy_values(generated.path) == before


def _holding(path, table: str) -> int:
    """The rows of `table` holding a value in a column the earlier script added and
    goals.0003 adds."""
    columns = {"goals": ("deleted_at", "sort_order")}[table]
    held = " OR ".join(f"{column} IS NOT NULL" for column in columns)
    connection = sqlite3.connect(path)
    try:
        return connection.execute(f"SELECT COUNT(*) FROM {table} WHERE {held}").fetchone()[0]
    finally:
        connection.close()
