"""Loading rows of a generated legacy file into the baseline tables of the test database."""

from __future__ import annotations

import datetime
import sqlite3
from pathlib import Path

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from goals_project.maintenance.legacy.schemas import LEGACY_TABLES
from goals_project.maintenance.migration_executor import RecordingExecutor, held_transaction

BASELINE = [("goals", "0001_legacy_baseline"), ("practice_sessions", "0001_legacy_baseline")]


def migrate_to(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def migrate_held(targets) -> None:
    """migrate_to as inside migrate's one transaction on SQLite, whose migrations are noted
    (migration_executor.held_transaction): the backfill then writes the columns
    practice_sessions.0002 added without reading them first, as nothing else writes here."""
    with held_transaction(connection):
        executor = RecordingExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(targets)


def latest_migrations() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return [
        key
        for key in executor.loader.graph.leaf_nodes()
        if key[0] in {"goals", "practice_sessions"}
    ]


def normal(value):
    """Values as the legacy file holds them, whatever the backend returns."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def legacy_rows_of(path: Path) -> dict[str, tuple[tuple[str, ...], list[tuple]]]:
    source = sqlite3.connect(path)
    try:
        rows = {}
        for table in LEGACY_TABLES:
            cursor = source.execute(f'SELECT * FROM "{table}"')
            columns = tuple(description[0] for description in cursor.description)
            rows[table] = (columns, cursor.fetchall())
        return rows
    finally:
        source.close()


def load(rows) -> None:
    with connection.cursor() as cursor:
        boolean = {
            (table, column.name)
            for table in LEGACY_TABLES
            for column in connection.introspection.get_table_description(cursor, table)
            if "bool" in str(column.type_code).lower() or column.type_code == 16
        }
        for table, (columns, values) in rows.items():
            names = ", ".join(connection.ops.quote_name(name) for name in columns)
            marks = ", ".join(["%s"] * len(columns))
            converted = [
                tuple(
                    bool(value) if (table, name) in boolean and value is not None else value
                    for name, value in zip(columns, row, strict=True)
                )
                for row in values
            ]
            cursor.executemany(
                f"INSERT INTO {connection.ops.quote_name(table)} ({names}) VALUES ({marks})",
                converted,
            )


def snapshot(rows) -> dict[str, set[tuple]]:
    snapshot = {}
    with connection.cursor() as cursor:
        for table, (columns, _) in rows.items():
            names = ", ".join(connection.ops.quote_name(name) for name in columns)
            cursor.execute(f"SELECT {names} FROM {connection.ops.quote_name(table)}")
            snapshot[table] = {tuple(normal(v) for v in row) for row in cursor.fetchall()}
    return snapshot
