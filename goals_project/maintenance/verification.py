"""The root_id verification: every row's root checked, and the constraints enforcing it present."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections, migrations

from goals.roots import CHAINS, GOAL_ROOT_CHECKS, PARENTLESS_SESSION_STRAYED, ROOT_TABLES
from goals_project.bases.constraints import CompositeForeignKey
from goals_project.bases.exit_codes import Exit
from goals_project.bases.progress import Step, silent

SAMPLE_SIZE = 10

# The improvement plan's 26 named indexes, by table.
PLAN_INDEXES: dict[str, tuple[str, ...]] = {
    "goals": (
        "idx_goals_parent_id",
        "idx_goals_root_id",
        "idx_goals_type",
        "idx_goals_created_at",
        "idx_goals_parent_type",
        "idx_goals_root_type",
        "idx_goals_completed",
        "idx_goals_practice_sessions",
    ),
    "activity_instances": (
        "idx_activity_instances_session",
        "idx_activity_instances_definition",
        "idx_activity_instances_root",
        "idx_activity_instances_root_date",
        "idx_activity_instances_session_created",
    ),
    "metric_values": (
        "idx_metric_values_instance",
        "idx_metric_values_definition",
        "idx_metric_values_root",
        "idx_metric_values_root_metric",
    ),
    "metric_definitions": (
        "idx_metric_definitions_activity",
        "idx_metric_definitions_root",
        "idx_metric_definitions_active",
    ),
    "split_definitions": ("idx_split_definitions_activity", "idx_split_definitions_root"),
    "activity_definitions": ("idx_activity_definitions_group", "idx_activity_definitions_root"),
    "activity_groups": ("idx_activity_groups_root",),
    "session_templates": ("idx_session_templates_root",),
}

# The indexes the models declare beyond the plan's (tested equal to the models' Meta): the dev
# schema's partial indexes on practice sessions, kept under their legacy names, the owners', the
# fractals' by name and the live goals' (the admin's lists), and the one that lets going back
# find a column's repairs.
OTHER_INDEXES: dict[str, tuple[str, ...]] = {
    "legacy_repairs": ("idx_legacy_repairs_column",),
    "goals": (
        "idx_session_start",
        "idx_session_end",
        "idx_template_id",
        "idx_session_duration",
        "idx_goals_owner",
        "idx_goals_fractals",
        "idx_goals_live",
    ),
}

PARENTLESS_SESSION_CHECK = (
    "is the root of a linked goal for a session without a parent",
    PARENTLESS_SESSION_STRAYED,
)


def chain_checks(table: str) -> list[tuple[str, str]]:
    """(label, SQL condition over alias t naming rows whose root disagrees with the rule)."""
    checks = []
    chain = CHAINS.get(table)
    if chain is not None:
        checks.append(
            (
                f"agrees with {chain.parent}'s root",
                chain.disagrees_sql("t"),
            )
        )
    if table == "goals":
        checks.append(PARENTLESS_SESSION_CHECK)
    return checks


@dataclass(frozen=True)
class RootIdCheck:
    """One verified property: its table, what it says, and the rows that break it."""

    table: str
    check: str
    failures: int
    sample_ids: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.failures == 0


@dataclass(frozen=True)
class RootIdReport:
    """Every check of `verify_root_ids`; `ok` only when all of them hold."""

    checks: tuple[RootIdCheck, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> int:
        return sum(not check.ok for check in self.checks)


def root_id_report(
    *,
    using: str = DEFAULT_DB_ALIAS,
    data_only: bool = False,
    only: Iterable[str] = ROOT_TABLES,
    step: Step = silent,
) -> RootIdReport:
    """Verify root_id on every table that carries it, with set-based SQL; then that the database
    enforces the root rule (goals.roots) and has the plan's indexes.

    `data_only` checks the rows alone (of the tables `only` names): what migrate lists when a
    constraint of the rule refuses a row. `step` is told each table as its checks start.
    """
    connection = connections[using]
    checks: list[RootIdCheck] = []
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        for table in (table for table in ROOT_TABLES if table in only):
            step(f"checking root_id on {table}")
            checks += _table_checks(connection, cursor, table, tables, data_only=data_only)
        if data_only:
            return RootIdReport(checks=tuple(checks))
        step("checking the root constraints and the plan's indexes")
        for table in ROOT_TABLES:
            if table in tables:
                checks.append(_enforcement_check(connection, cursor, table))
        for table, names in PLAN_INDEXES.items():
            present = (
                set(connection.introspection.get_constraints(cursor, table))
                if table in tables
                else set()
            )
            missing = tuple(name for name in names if name not in present)
            checks.append(
                RootIdCheck(
                    table=table,
                    check=f"has its {len(names)} plan indexes",
                    failures=len(missing),
                    sample_ids=missing,
                )
            )
    return RootIdReport(checks=tuple(checks))


def _table_checks(
    connection, cursor, table: str, tables: set[str], *, data_only: bool
) -> list[RootIdCheck]:
    if table not in tables:
        return [RootIdCheck(table=table, check="table exists", failures=1)]
    columns = {
        column.name: column
        for column in connection.introspection.get_table_description(cursor, table)
    }
    if "root_id" not in columns:
        return [RootIdCheck(table=table, check="has a root_id column", failures=1)]
    checks = []
    if not data_only:
        checks.append(
            RootIdCheck(
                table=table,
                check="root_id is NOT NULL in the schema",
                failures=int(bool(columns["root_id"].null_ok)),
            )
        )
    conditions = [
        ("no NULL root_id", "t.root_id IS NULL"),
        (
            "no root_id pointing to a missing goal",
            "t.root_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM goals r WHERE r.id = t.root_id)",
        ),
        (
            "no root_id pointing to a goal that is not its own root",
            "EXISTS (SELECT 1 FROM goals r WHERE r.id = t.root_id AND r.root_id <> r.id)",
        ),
        *chain_checks(table),
    ]
    if table == "goals":
        # The goals table's own checks (what makes a goal a root), compiled from the constraints
        # themselves, on the columns present (owner comes with a later migration).
        conditions += [
            (check.violation_error_message.rstrip("."), _violation_sql(check, connection))
            for check in GOAL_ROOT_CHECKS
            if "owner" in columns or "owner" not in check.name
        ]
    return checks + [_rows_check(cursor, table, label, cond) for label, cond in conditions]


def _rows_check(cursor, table: str, label: str, condition: str) -> RootIdCheck:
    """How many rows of `table` (alias t) meet `condition`, and the first of them."""
    quoted = connection_quote(table)
    cursor.execute(f"SELECT COUNT(*) FROM {quoted} t WHERE {condition}")  # noqa: S608
    failures = cursor.fetchone()[0]
    sample: tuple[str, ...] = ()
    if failures:
        cursor.execute(
            f"SELECT t.id FROM {quoted} t WHERE {condition} "  # noqa: S608
            f"ORDER BY t.id LIMIT {SAMPLE_SIZE}"
        )
        sample = tuple(shown_id(row[0]) for row in cursor.fetchall())
    return RootIdCheck(table=table, check=label, failures=failures, sample_ids=sample)


def shown_id(value) -> str:
    """An id as a message shows it: text as it is, a blob (which an SQLite text column keeps)
    as its SQL literal, anything else as its text."""
    if isinstance(value, bytes):
        return f"X'{value.hex()}'"
    return str(value)


def blob_reference_fix(table: str, column: str, blobs: Iterable[bytes], *, nullable: bool) -> str:
    """What to do about references in `table.column` stored as `blobs` (all of them, or an
    iterator over them: read until one will not do). An SQLite text column keeps a blob as a
    blob, and a blob equals no text, so the row it names is never found. Casting helps only
    where every blob's bytes are text that stays text and makes an id: not the empty blob, not
    bytes that are no UTF-8, and not text that reads as a number, which a legacy column of
    numeric affinity (declared STRING) would store as one. NULL is offered only where the
    column takes it."""
    if all(_is_text_id(blob) for blob in blobs):
        return (
            f"store them as text (after a backup): UPDATE {table} SET {column} = "  # noqa: S608
            f"CAST({column} AS TEXT) WHERE typeof({column}) = 'blob'"
        )
    none = ", or to NULL where it stands for none" if nullable else ""
    return (
        "some are no text that makes an id, so casting them would not help: set each to the id "  # noqa: S608
        f"it stands for{none} (after a backup); find them with: "
        f"SELECT rowid, * FROM {table} WHERE typeof({column}) = 'blob'"
    )


def _is_text_id(blob: bytes) -> bool:
    """Whether `blob` holds text a cast makes an id of: not empty (the id would be ''), UTF-8,
    and not a number (as SQLite reads one: digits, a decimal point, an exponent)."""
    try:
        text = blob.decode()
    except UnicodeDecodeError:
        return False
    try:
        float(text)
    except ValueError:
        return bool(text)
    return False


def unenforced_root_report(*, using: str = DEFAULT_DB_ALIAS) -> RootIdReport:
    """The rows checked against the part of the root rule that no constraint holds."""
    with connections[using].cursor() as cursor:
        return RootIdReport(checks=(_rows_check(cursor, "goals", *PARENTLESS_SESSION_CHECK),))


def roots_broken(report: RootIdReport, *, migration: str, refused: str = "") -> CommandError:
    """The error that stops `migrate` when rows break the root rule as `migration` is to
    enforce it: the rows, what the database refused (`refused`), and the way out."""
    failures = [
        f"- {check.table}: {check.check}: {check.failures} row(s) "
        f"(first: {', '.join(check.sample_ids)})"
        for check in report.checks
        if not check.ok
    ]
    return CommandError(
        f"Rows break the root rule, so {migration} cannot enforce it; it was rolled back.\n"
        + "\n".join(failures)
        + (f"\nThe database refused: {refused}" if refused else "")
        + "\nThe backup taken before migrating is unchanged. Where goals.0004 ran in an "
        "earlier migrate, rows like these were written by the legacy app since: stop it, then "
        "run `manage.py migrate goals 0003` (it puts back what 0004 changed and keeps these "
        "rows) and `manage.py migrate` again, which derives their roots. Where it ran in this "
        "one, or if they persist, report this with the ids above (verify_root_ids lists them).",
        returncode=Exit.ROOTS_BROKEN,
    )


def _violation_sql(check, connection) -> str:
    """SQL over alias t naming the goals that break a CheckConstraint of goals.roots (a row
    breaks a check when its condition is false; NULL passes, as in the database)."""
    from goals.models import Goal

    query = Goal._base_manager.filter(check.condition).values("pk").query
    where, params = query.where.as_sql(query.get_compiler(connection=connection), connection)
    where = where % tuple(connection.schema_editor().quote_value(param) for param in params)
    quoted = connection.ops.quote_name("goals")
    return f"NOT COALESCE(({where.replace(quoted + '.', 't.')}), TRUE)"


def expected_enforcement(table: str) -> list:
    """The constraints of the root rule that `table`'s model declares (goals.roots)."""
    from django.apps import apps

    for model in apps.get_models():
        if model._meta.db_table == table and not model._meta.proxy:
            return [
                constraint
                for constraint in model._meta.constraints
                if isinstance(constraint, CompositeForeignKey)
                or constraint.name.endswith("_id_root_key")
                or constraint in GOAL_ROOT_CHECKS
            ]
    return []


def root_rule_tables(migration) -> set[str]:
    """The tables on which `migration` adds a constraint of the root rule (goals.roots) or makes
    root_id NOT NULL: a row it refuses there may be one that breaks the rule."""
    from django.apps import apps

    tables = {
        constraint.name: table
        for table in ROOT_TABLES
        for constraint in expected_enforcement(table)
    }

    def enforced(operation) -> set[str]:
        if isinstance(operation, migrations.AddConstraint):
            table = tables.get(operation.constraint.name)
            return {table} if table else set()
        if isinstance(operation, migrations.AlterField):
            if operation.name == "root" and not operation.field.null:
                return {apps.get_model(migration.app_label, operation.model_name)._meta.db_table}
            return set()
        return set().union(*map(enforced, getattr(operation, "operations", ())))

    return set().union(*map(enforced, migration.operations))


def _enforcement_check(connection, cursor, table: str) -> RootIdCheck:
    """Whether the database holds the constraints that enforce the root rule on `table`."""
    expected = expected_enforcement(table)
    present = set(connection.introspection.get_constraints(cursor, table))
    if connection.vendor == "sqlite":
        present |= _sqlite_structural_names(cursor, table, expected)
    missing = tuple(constraint.name for constraint in expected if constraint.name not in present)
    return RootIdCheck(
        table=table,
        check=f"the database enforces its root ({len(expected)} constraints)",
        failures=len(missing),
        sample_ids=missing,
    )


def _sqlite_structural_names(cursor, table: str, expected: list) -> set[str]:
    """SQLite keeps no names for foreign keys: match them (and unique keys) by their columns."""
    cursor.execute(f"PRAGMA foreign_key_list({table})")
    keys: dict[int, dict] = {}
    for key_id, _seq, to_table, column, to_column, on_update, *_ in cursor.fetchall():
        key = keys.setdefault(key_id, {"to": to_table, "on_update": on_update, "pairs": []})
        key["pairs"].append((column, to_column))
    foreign = {
        (tuple(c for c, _ in k["pairs"]), k["to"], tuple(t for _, t in k["pairs"]), k["on_update"])
        for k in keys.values()
    }
    cursor.execute(f"PRAGMA index_list({table})")
    unique = set()
    for _seq, index, is_unique, *_ in cursor.fetchall():
        if is_unique:
            cursor.execute(f"PRAGMA index_info({connection_quote(index)})")
            unique.add(tuple(row[2] for row in cursor.fetchall()))
    names = set()
    for constraint in expected:
        if isinstance(constraint, CompositeForeignKey):
            shape = (constraint.columns, constraint.to_table, constraint.to_columns)
            if (*shape, constraint.on_update) in foreign:
                names.add(constraint.name)
        elif _key_fields(constraint) == ("id", "root") and ("id", "root_id") in unique:
            names.add(constraint.name)
    return names


def _key_fields(constraint) -> tuple[str, ...]:
    """The fields of a unique constraint, given as fields or as F() expressions (goals.roots)."""
    fields = tuple(getattr(constraint, "fields", ()))
    expressions = getattr(constraint, "expressions", ())
    return fields or tuple(getattr(expression, "name", "") for expression in expressions)


def connection_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
