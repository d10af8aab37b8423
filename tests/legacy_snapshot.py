"""Reading legacy SQLite files directly, to compare them before and after an operation."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from goals_project.maintenance.legacy.schemas import LEGACY_TABLES, table_columns

Snapshot = dict[str, dict[tuple, tuple]]


def legacy_snapshot(path: Path, columns: dict[str, tuple[str, ...]] | None = None) -> Snapshot:
    """Every row of every legacy table, keyed by primary key, restricted to `columns`."""
    connection = sqlite3.connect(path)
    try:
        columns = columns or legacy_columns(path)
        snapshot: Snapshot = {}
        for table in LEGACY_TABLES:
            names = columns[table]
            key = ("practice_session_id", "short_term_goal_id") if "id" not in names else ("id",)
            select = ", ".join(f'"{name}"' for name in (*key, *names))
            rows = connection.execute(f'SELECT {select} FROM "{table}"')
            snapshot[table] = {row[: len(key)]: row[len(key) :] for row in rows}
        return snapshot
    finally:
        connection.close()


def legacy_columns(path: Path) -> dict[str, tuple[str, ...]]:
    """The columns each legacy table of the file has, sorted by name."""
    connection = sqlite3.connect(path)
    try:
        found = table_columns(connection)
        return {table: tuple(sorted(found[table])) for table in LEGACY_TABLES}
    finally:
        connection.close()
