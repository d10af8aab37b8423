"""The known legacy schema variants, read from the DDL shipped in `ddl/`.

Column sets are taken from the DDL itself (executed into an in-memory database), so the variant
definitions cannot drift from the files they describe.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DDL_DIR = Path(__file__).resolve().parent / "ddl"

LEGACY_TABLES: tuple[str, ...] = (
    "goals",
    "practice_session_goals",
    "activity_groups",
    "activity_definitions",
    "metric_definitions",
    "split_definitions",
    "activity_instances",
    "metric_values",
    "session_templates",
    "programs",
    "program_blocks",
    "program_days",
    "scheduled_sessions",
)


@dataclass(frozen=True)
class SchemaVariant:
    """A legacy schema variant and how far adoption can take it."""

    name: str
    description: str
    supported: bool
    ddl_file: str
    # The migrations whose schema matches the variant's columns: adoption rebuilds to their state.
    adopt_at: tuple[tuple[str, str], ...] = (
        ("goals", "0001_legacy_baseline"),
        ("practice_sessions", "0001_legacy_baseline"),
    )

    @property
    def ddl(self) -> str:
        return (DDL_DIR / self.ddl_file).read_text(encoding="utf-8")


VARIANTS: dict[str, SchemaVariant] = {
    variant.name: variant
    for variant in (
        SchemaVariant(
            name="dev",
            description="current legacy schema (13 tables, before the improvements)",
            supported=True,
            ddl_file="dev.sql",
        ),
        SchemaVariant(
            name="prod",
            description="older legacy schema without split and activity-group columns",
            supported=True,
            ddl_file="prod.sql",
        ),
        SchemaVariant(
            name="script_migrated",
            description="older legacy schema after the earlier standalone improvement script",
            supported=True,
            ddl_file="script_migrated.sql",
            # The script added exactly the columns of goals.0003/practice_sessions.0002.
            adopt_at=(
                ("goals", "0003_add_root_and_audit_columns"),
                ("practice_sessions", "0002_add_root_and_audit_columns"),
            ),
        ),
        SchemaVariant(
            name="pre_sti",
            description="pre-2026 design with a separate practice_sessions table",
            supported=False,
            ddl_file="pre_sti.sql",
        ),
    )
}


def table_columns(connection: sqlite3.Connection) -> dict[str, tuple[str, ...]]:
    """Every user table of a SQLite database and its columns, in declaration order."""
    names = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {
        name: tuple(row[1] for row in connection.execute(f'PRAGMA table_info("{name}")'))
        for name in names
    }


@cache
def variant_columns(name: str) -> dict[str, frozenset[str]]:
    """The tables and column sets that a variant's DDL creates."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.executescript(VARIANTS[name].ddl)
        return {table: frozenset(cols) for table, cols in table_columns(connection).items()}
    finally:
        connection.close()


@cache
def variant_indexes(name: str) -> frozenset[str]:
    """The names of the indexes that a variant's DDL creates: the legacy app's own."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.executescript(VARIANTS[name].ddl)
        return frozenset(
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
        )
    finally:
        connection.close()
