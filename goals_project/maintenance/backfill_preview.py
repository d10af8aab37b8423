"""What goals.0004 will repair, found by running it where nothing is kept (never a restatement).

The backfill's rules live in goals.0004 and nowhere else; a report that predicts what it will do
asks it. On SQLite the database is copied with SQLite's backup API into a temporary file, which is
adopted (if it is a legacy file) and migrated up to goals.0004 by Django's own executor, exactly as
`migrate` would; its `legacy_repairs` then hold every change the backfill would make. The copy is
deleted afterwards, and the user's file is only read. On PostgreSQL the same migrations run inside
one transaction that is rolled back (PostgreSQL's DDL is transactional).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

from django.core.management.base import CommandError, OutputWrapper
from django.core.management.color import no_style
from django.db import DatabaseError, connections, transaction
from django.db.migrations.executor import MigrationExecutor

from goals.roots import ROOT_TABLES
from goals_project.bases.progress import Reporter, reporting
from goals_project.maintenance.aliases import database_alias
from goals_project.maintenance.backward_safety import CREATED, FINGERPRINT
from goals_project.maintenance.legacy.adoption import legacy_db_adopt
from goals_project.maintenance.legacy.inspection import DbState, LegacyDbError
from goals_project.maintenance.legacy.preflight import MIGRATE_SPACE_FACTOR

BACKFILL = ("goals", "0004_backfill_root_ids")
# How long the rolled-back run on PostgreSQL waits for a table lock the app holds.
POSTGRESQL_LOCK_TIMEOUT = "5s"


class ScratchSpaceError(Exception):
    """The temporary folder cannot hold the copy and its migration."""


@dataclass(frozen=True)
class PredictedRepair:
    """How many values of one column (or, with column '*', rows of one table) the backfill changes
    (creates) for one reason, as it records them in legacy_repairs."""

    table: str
    column: str
    reason: str
    count: int


@dataclass
class BackfillPreview:
    repairs: list[PredictedRepair] = field(default_factory=list)
    # Rows under the 'Recovered records' root afterwards, by table (the root itself not counted).
    recovered: dict[str, int] = field(default_factory=dict)
    # What the backfill prints while it runs, line by line.
    messages: list[str] = field(default_factory=list)
    # Why nothing could be predicted, when it could not.
    error: str | None = None
    # The refusal the migrations up to the backfill made on the copy, which migrate will make.
    refusal: str | None = None


def backfill_preview(*, using: str, reader: str, state: DbState) -> BackfillPreview:
    """Run the migrations up to goals.0004 on a throw-away copy of the database behind `using`
    (read through the alias `reader`) and report what the backfill did there."""
    connection = connections[using]
    try:
        if connection.vendor == "sqlite":
            with _scratch_copy(using, reader) as scratch:
                if state == DbState.LEGACY:
                    legacy_db_adopt(using=scratch, enable_wal=False)
                return _run_backfill(scratch)
        with transaction.atomic(using=using):
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{POSTGRESQL_LOCK_TIMEOUT}'")
            preview = _run_backfill(using)
            transaction.set_rollback(True, using=using)
            return preview
    except CommandError as error:  # a migration's own refusal (a blob id, a root rule broken)
        return BackfillPreview(error=str(error), refusal=str(error))
    except (DatabaseError, sqlite3.Error, LegacyDbError, ScratchSpaceError) as error:
        return BackfillPreview(error=str(error))


@contextlib.contextmanager
def _scratch_copy(using: str, reader: str) -> Iterator[str]:
    """An alias for a temporary copy of the SQLite database `reader` reads, removed on exit.

    The backup API copies page by page into the file (memory stays bounded) in one read
    transaction, so the copy is one snapshot; it reads through a -wal without checkpointing it.
    """
    source = connections[reader]
    with source.cursor() as cursor:
        cursor.execute("PRAGMA page_count")
        (pages,) = cursor.fetchone()
        cursor.execute("PRAGMA page_size")
        size = pages * cursor.fetchone()[0]
    temporary = Path(tempfile.gettempdir())
    needed = MIGRATE_SPACE_FACTOR * size
    free = shutil.disk_usage(temporary).free
    if free < needed:
        raise ScratchSpaceError(
            f"the temporary folder {temporary} has {free} bytes free and the copy needs about "
            f"{needed} ({MIGRATE_SPACE_FACTOR} x {size}); set TMPDIR to a folder with more room"
        )
    alias = f"{using}__backfill_preview"
    with tempfile.TemporaryDirectory(prefix="fractal-readiness-") as folder:
        path = Path(folder) / "copy.sqlite3"
        target = sqlite3.connect(path)
        try:
            source.connection.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
        with database_alias(alias, {**connections.settings[using], "NAME": str(path)}):
            yield alias


def _run_backfill(alias: str) -> BackfillPreview:
    """Apply the pending migrations up to goals.0004 on `alias`, as `migrate` applies them, and
    read what the backfill recorded."""
    connection = connections[alias]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan([BACKFILL])
    printed = io.StringIO()
    # The backfill's warnings (what it recovered, replaced or renamed), as migrate shows them.
    said = Reporter(stdout=OutputWrapper(printed), stderr=OutputWrapper(printed), style=no_style())
    with reporting(said):
        executor.migrate([BACKFILL], plan=plan)
    preview = _recorded(connection)
    preview.messages = [line.strip() for line in printed.getvalue().splitlines() if line.strip()]
    return preview


def _recorded(connection) -> BackfillPreview:
    backfill = import_module("goals.migrations.0004_backfill_root_ids")
    quote = connection.ops.quote_name
    preview = BackfillPreview()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, reason, COUNT(*) FROM legacy_repairs "
            "WHERE migration = %s AND column_name <> %s "
            "GROUP BY table_name, column_name, reason ORDER BY table_name, column_name, reason",
            (backfill.MIGRATION, FINGERPRINT),
        )
        preview.repairs = [PredictedRepair(*row) for row in cursor.fetchall()]
        cursor.execute(
            "SELECT g.id FROM goals g JOIN legacy_repairs r ON r.row_id = g.id "
            "WHERE r.migration = %s AND r.column_name = %s AND r.table_name = 'goals' "
            "AND g.parent_id IS NULL AND g.name = %s",
            (backfill.MIGRATION, CREATED, backfill.RECOVERY_NAME),
        )
        found = cursor.fetchone()
        if found is None:
            return preview
        for table in ROOT_TABLES:
            cursor.execute(
                f"SELECT COUNT(*) FROM {quote(table)} WHERE root_id = %s AND id <> %s",  # noqa: S608
                (found[0], found[0]),
            )
            count = cursor.fetchone()[0]
            if count:
                preview.recovered[table] = count
    return preview
