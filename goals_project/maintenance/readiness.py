"""The migration readiness assessment, generated from the real database (reads only)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from goals.roots import TREE_ORDER, parent_type
from goals_project.bases.progress import Step, silent
from goals_project.maintenance.aliases import database_alias, sqlite_read_only_settings
from goals_project.maintenance.backfill_preview import PredictedRepair, backfill_preview
from goals_project.maintenance.backups import (
    Backup,
    backup_dir,
    backup_folder_problem,
    backups_list,
)
from goals_project.maintenance.legacy.adoption import (
    legacy_db_check_writable,
    legacy_db_inspect_alias,
)
from goals_project.maintenance.legacy.inspection import (
    BASELINE_MIGRATION,
    DbState,
    LegacyDbError,
    LegacyDbProblem,
)
from goals_project.maintenance.legacy.preflight import (
    DiskNeed,
    disk_refusal,
    legacy_data_check,
    legacy_db_refusals,
    migrate_disk_needs,
)
from goals_project.maintenance.legacy.schemas import LEGACY_TABLES
from goals_project.maintenance.verification import root_id_report

# Child and parent types that follow the tree's order (goals.roots).
_IN_ORDER = " OR ".join(
    f"(g.type = '{child}' AND p.type = '{parent_type(child)}')"
    for child in TREE_ORDER
    if parent_type(child) is not None
)

PHASES = {
    ("goals", "0001_legacy_baseline"): "adoption",
    ("practice_sessions", "0001_legacy_baseline"): "adoption",
    ("goals", "0002_check_legacy_data"): "check",
    ("goals", "0003_add_root_and_audit_columns"): "phase 1: root_id and audit columns",
    ("practice_sessions", "0002_add_root_and_audit_columns"): "phase 1: root_id and audit columns",
    ("goals", "0004_backfill_root_ids"): "phase 1: repairs and root_id backfill",
    ("goals", "0005_enforce_root_ids_and_constraints"): "phase 2: constraints",
    ("practice_sessions", "0003_enforce_root_ids_and_constraints"): "phase 2: constraints",
    ("goals", "0007_add_indexes"): "phase 3: indexes",
    ("goals", "0009_add_fractals_index"): "phase 3: indexes",
    ("goals", "0010_add_live_goals_index"): "phase 3: indexes",
    ("practice_sessions", "0004_add_indexes"): "phase 3: indexes",
}
# Measured on the 1M-metric-value benchmark file (about 1.4M rows in all): 18 s on SQLite, with
# the backup (docs/benchmarks.md, the seventh round).
SECONDS_PER_ROW = 13e-6
FRESH_BACKUP = timedelta(hours=24)

# What the backfill keeps as it is, counted on the legacy columns: (what, SQL, what happens). What
# it repairs is not listed here: goals.0004 itself says, in a dry run (goals.backfill_preview).
KEPT_AS_THEY_ARE = (
    (
        "goals that break the tree's order (a type under a parent of another type than the one "
        "above it)",
        "SELECT COUNT(*) FROM goals g JOIN goals p ON p.id = g.parent_id "  # noqa: S608
        f"WHERE NOT ({_IN_ORDER})",
        "kept as they are; the admin refuses only changes that would break the order further",
    ),
)


@dataclass(frozen=True)
class DataProblem:
    what: str
    count: int
    action: str
    blocking: bool = False


@dataclass(frozen=True)
class PendingMigration:
    label: str
    phase: str
    summary: str


@dataclass
class ReadinessReport:
    """What the migration will meet and do, and whether the database is ready for it."""

    database: str
    engine: str
    state: str
    row_counts: dict[str, int] = field(default_factory=dict)
    pending: list[PendingMigration] = field(default_factory=list)
    problems: list[DataProblem] = field(default_factory=list)
    # What goals.0004 will change, from a dry run of it (goals.backfill_preview).
    repairs: list[PredictedRepair] = field(default_factory=list)
    recovered: dict[str, int] = field(default_factory=dict)
    backfill_says: list[str] = field(default_factory=list)
    integrity: str = "not checked"
    newest_backup: Backup | None = None
    backup_fresh: bool = False
    disk: list[DiskNeed] = field(default_factory=list)
    estimated_seconds: float = 0.0
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.reasons


def migration_readiness(*, using: str = DEFAULT_DB_ALIAS, step: Step = silent) -> ReadinessReport:
    """Assess the database behind `using` without changing it.

    A SQLite file is read through a read-only connection, so not even a -wal is checkpointed;
    what `migrate` would refuse is found by the checks `migrate` itself runs before it changes
    anything. `step` is told each step as it starts.
    """
    connection = connections[using]
    name = str(connection.settings_dict["NAME"])
    report = ReadinessReport(database=name, engine=connection.vendor, state="")
    step(f"inspecting {name}")
    try:
        found = legacy_db_inspect_alias(using=using)
    except LegacyDbError as error:
        report.state = (
            "a write cut off, waiting to be rolled back"
            if error.problem == LegacyDbProblem.HOT_JOURNAL
            else "refused"
        )
        report.reasons.append(str(error))
        return report
    report.state = (
        f"legacy '{found.variant}' file, not adopted yet"
        if found.state_before == DbState.LEGACY
        else str(found.state_before)
    )
    if connection.vendor == "postgresql" and not _baseline_recorded(connection):
        return _postgresql_without_our_schema(report, connection)
    in_memory = connection.vendor == "sqlite" and found.path is None
    if found.state_before in (DbState.MISSING, DbState.NEW) and not in_memory:
        try:
            legacy_db_check_writable(using=using)
        except LegacyDbError as error:
            report.reasons.append(str(error))  # migrate would refuse it: say so here too
        else:
            report.notes.append("No data yet: migrate creates a new database.")
        report.pending = _pending(None, legacy=False)
        return report
    if in_memory:
        report.state = "in-memory database"
    step("counting rows and looking for data problems, changing nothing")
    with _read_only(using, found.path) as reader:
        _assess(report, found, using=using, reader=reader)
    return report


def _baseline_recorded(connection) -> bool:
    recorder = MigrationRecorder(connection)
    return recorder.has_table() and BASELINE_MIGRATION in recorder.applied_migrations()


def _postgresql_without_our_schema(report: ReadinessReport, connection) -> ReadinessReport:
    """A PostgreSQL database where the project's first migration has not run: empty (migrate
    makes the schema), or holding a table of ours by name that no migration of ours made
    (migrate would fail making it). Its tables are not read as ours."""
    report.state = "no Fractal Goals schema yet"
    report.pending = _pending(connection, legacy=False)
    taken = sorted(set(connection.introspection.table_names()) & set(LEGACY_TABLES))
    if taken:
        report.reasons.append(
            f"The database holds tables named as this project's ({', '.join(taken[:5])}) that "
            "its migrations did not make, so migrate would fail making its own. Point "
            "DATABASE_URL at an empty database, or at one migrate made; nothing was changed."
        )
    else:
        report.notes.append("No data yet: migrate makes the schema in this database.")
    return report


def _assess(report: ReadinessReport, found, *, using: str, reader: str) -> None:
    connection = connections[reader]
    try:
        legacy_db_check_writable(using=using)
    except LegacyDbError as error:
        report.reasons.append(str(error))
    report.row_counts = _row_counts(connection)
    report.pending = _pending(connection, legacy=found.state_before == DbState.LEGACY)
    if found.state_before == DbState.LEGACY:
        refusals = legacy_db_refusals(
            using=reader, path=found.path, variant=found.variant, other_tables=found.other_tables
        )
        report.reasons += [str(refusal) for refusal in refusals]
    if any(item.label == "goals.0004_backfill_root_ids" for item in report.pending):
        report.problems = _data_problems(connection)
        _predict_repairs(report, found, using=using, reader=reader)
    elif connection.vendor and not report.pending:
        verified = root_id_report(using=reader)
        if not verified.ok:
            report.reasons.append(f"verify_root_ids: {verified.failed} checks fail.")
    report.integrity = _integrity(connection)
    if report.integrity not in ("ok", INTEGRITY_NOT_RUN):
        report.reasons.append(f"Integrity check failed: {report.integrity}.")
    for problem in report.problems:
        if problem.blocking:
            report.reasons.append(f"{problem.count} {problem.what}: {problem.action}.")
    _assess_backup(report, using)
    report.disk = migrate_disk_needs(
        using=using,
        found=found,
        backup=bool(settings.FRACTAL_BACKUP_BEFORE_MIGRATE),
        reader=reader,
    )
    refusal = disk_refusal(report.disk, path=found.path or report.database)
    if refusal is not None:
        report.reasons.append(str(refusal))
    report.estimated_seconds = sum(report.row_counts.values()) * SECONDS_PER_ROW


@contextlib.contextmanager
def _read_only(using: str, path: Path | None) -> Iterator[str]:
    """An alias for the database behind `using` that cannot change it: for a SQLite file, a
    connection in SQLite's read-only mode; other databases are only read anyway."""
    if path is None or connections[using].vendor != "sqlite":
        yield using
        return
    with database_alias(f"{using}__read_only", sqlite_read_only_settings(using, path)) as alias:
        yield alias


def _row_counts(connection) -> dict[str, int]:
    with connection.cursor() as cursor:
        present = set(connection.introspection.table_names(cursor))
        counts = {}
        for table in (*LEGACY_TABLES, "legacy_repairs"):
            if table in present:
                cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
                counts[table] = cursor.fetchone()[0]
        return counts


def _pending(connection, *, legacy: bool) -> list[PendingMigration]:
    """The goal and session migrations `migrate` would apply: all of them for a legacy file
    (adoption records none) and, without a `connection`, for a database not made yet (the
    migration files alone are read: nothing is opened, so nothing is created)."""
    executor = MigrationExecutor(connection) if connection is not None else None
    graph = executor.loader.graph if executor else MigrationLoader(None).graph
    targets = [node for node in graph.leaf_nodes() if node[0] in {"goals", "practice_sessions"}]
    if legacy or executor is None:
        plan = [graph.nodes[node] for target in targets for node in graph.forwards_plan(target)]
        plan = list(dict.fromkeys(plan))
    else:
        plan = [migration for migration, _ in executor.migration_plan(targets)]
    pending = []
    for migration in plan:
        key = (migration.app_label, migration.name)
        if key[0] not in {"goals", "practice_sessions"}:
            continue
        doc = sys.modules[type(migration).__module__].__doc__ or ""
        summary = (
            " ".join(doc.strip().split("\n\n")[0].split())
            if doc.strip()
            else ", ".join(operation.describe() for operation in migration.operations[:3])
        )
        phase = PHASES.get(key, "other")
        if key[1].startswith("0001"):
            if legacy:
                summary = "Adopt the legacy tables at the baseline (every row and value kept)."
            else:
                phase = "baseline"  # a new database: nothing to adopt
        pending.append(PendingMigration(f"{key[0]}.{key[1]}", phase, summary))
    return pending


def _predict_repairs(report: ReadinessReport, found, *, using: str, reader: str) -> None:
    """What the backfill will change, from a dry run of it; none when migrate stops before it."""
    if report.reasons or any(problem.blocking for problem in report.problems):
        report.notes.append(
            "What the backfill will repair is not predicted: migrate stops before it (the "
            "reasons below)."
        )
        return
    preview = backfill_preview(using=using, reader=reader, state=found.state_before)
    if preview.refusal is not None:
        report.reasons.append(preview.refusal)
        return
    if preview.error is not None:
        report.notes.append(
            f"What the backfill will repair could not be predicted: {preview.error}"
        )
        return
    report.repairs = preview.repairs
    report.recovered = preview.recovered
    report.backfill_says = preview.messages


def _data_problems(connection) -> list[DataProblem]:
    problems = []
    with connection.cursor() as cursor:
        present = set(connection.introspection.table_names(cursor))
        for what, sql, action in KEPT_AS_THEY_ARE:
            if not all(table in present for table in ("goals", "practice_session_goals")):
                break
            cursor.execute(sql)
            count = cursor.fetchone()[0]
            if count:
                problems.append(DataProblem(what, count, action))
    check = legacy_data_check()
    for violation in check.find_violations(connection):
        what = (
            f"{violation['what']} in {violation['table']} "
            f"(first ids: {', '.join(violation['ids'])})"
        )
        action = f"migrate will stop; {violation['fix']}"
        problems.append(DataProblem(what, violation["count"], action, blocking=True))
    return problems


# What the report says where no integrity check exists to run.
INTEGRITY_NOT_RUN = "not run (PostgreSQL has no equivalent of SQLite's integrity_check)"


def _integrity(connection) -> str:
    if connection.vendor != "sqlite":
        return INTEGRITY_NOT_RUN
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA integrity_check")
        rows = [row[0] for row in cursor.fetchall()]
    return "ok" if rows == ["ok"] else "; ".join(rows[:5])


def _assess_backup(report: ReadinessReport, using: str) -> None:
    verified = [backup for backup in backups_list(using=using) if backup.verified]
    report.newest_backup = verified[0] if verified else None
    if report.newest_backup is not None:
        created = parse_datetime(report.newest_backup.created_at or "")
        report.backup_fresh = created is not None and timezone.now() - created < FRESH_BACKUP
    if report.backup_fresh:
        return
    if settings.FRACTAL_BACKUP_BEFORE_MIGRATE:
        problem = backup_folder_problem(backup_dir(using=using))
        if problem is not None:  # migrate would refuse for it: say so here too
            report.reasons.append(str(problem))
            return
        report.notes.append(
            "No fresh verified backup; migrate will take and verify one before it changes anything."
        )
    elif report.pending:
        report.reasons.append(
            "No verified backup from the last 24 hours, and migrate will not take one "
            "(FRACTAL_BACKUP_BEFORE_MIGRATE is off): run manage.py backup_db first."
        )
