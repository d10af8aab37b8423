"""Reads over the goal tree: the root_id verification report."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, connections

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

ROOT_TABLES: tuple[str, ...] = (
    "goals",
    "activity_instances",
    "metric_values",
    "metric_definitions",
    "split_definitions",
    "activity_groups",
    "activity_definitions",
    "session_templates",
    "programs",
)

# Per table: SQL conditions over alias t naming rows whose root disagrees with their chain.
CHAIN_CHECKS: dict[str, tuple[tuple[str, str], ...]] = {
    "goals": (
        (
            "agrees with its parent's root",
            "t.parent_id IS NOT NULL AND t.root_id <> "
            "(SELECT p.root_id FROM goals p WHERE p.id = t.parent_id)",
        ),
        (
            "is its own root when it is a top UltimateGoal",
            "t.parent_id IS NULL AND t.type = 'UltimateGoal' AND t.root_id <> t.id",
        ),
        (
            "is the root of a linked goal for a session without a parent",
            "t.parent_id IS NULL AND t.type = 'PracticeSession' AND EXISTS (SELECT 1 FROM "
            "practice_session_goals l WHERE l.practice_session_id = t.id) AND t.root_id NOT IN "
            "(SELECT g.root_id FROM practice_session_goals l JOIN goals g "
            "ON g.id = l.short_term_goal_id WHERE l.practice_session_id = t.id)",
        ),
    ),
    "activity_instances": (
        (
            "agrees with its session's root",
            "t.root_id <> (SELECT s.root_id FROM goals s WHERE s.id = t.practice_session_id)",
        ),
    ),
    "metric_values": (
        (
            "agrees with its activity instance's root",
            "t.root_id <> (SELECT i.root_id FROM activity_instances i "
            "WHERE i.id = t.activity_instance_id)",
        ),
    ),
    "metric_definitions": (
        (
            "agrees with its activity's root",
            "t.root_id <> "
            "(SELECT a.root_id FROM activity_definitions a WHERE a.id = t.activity_id)",
        ),
    ),
    "split_definitions": (
        (
            "agrees with its activity's root",
            "t.root_id <> "
            "(SELECT a.root_id FROM activity_definitions a WHERE a.id = t.activity_id)",
        ),
    ),
}


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


def root_id_report(*, using: str = DEFAULT_DB_ALIAS) -> RootIdReport:
    """Verify root_id on every table that carries it, with set-based SQL, and the plan's indexes."""
    connection = connections[using]
    checks: list[RootIdCheck] = []
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        for table in ROOT_TABLES:
            checks += _table_checks(connection, cursor, table, tables)
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


def _table_checks(connection, cursor, table: str, tables: set[str]) -> list[RootIdCheck]:
    if table not in tables:
        return [RootIdCheck(table=table, check="table exists", failures=1)]
    columns = {
        column.name: column
        for column in connection.introspection.get_table_description(cursor, table)
    }
    if "root_id" not in columns:
        return [RootIdCheck(table=table, check="has a root_id column", failures=1)]
    checks = [
        RootIdCheck(
            table=table,
            check="root_id is NOT NULL in the schema",
            failures=int(bool(columns["root_id"].null_ok)),
        )
    ]
    quoted = connection.ops.quote_name(table)
    conditions = [
        ("no NULL root_id", "t.root_id IS NULL"),
        (
            "no root_id pointing to a missing goal",
            "t.root_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM goals r WHERE r.id = t.root_id)",
        ),
        (
            "no root_id pointing to a goal that is not a root",
            "EXISTS (SELECT 1 FROM goals r WHERE r.id = t.root_id AND (r.root_id <> r.id "
            "OR r.parent_id IS NOT NULL OR r.type <> 'UltimateGoal'))",
        ),
        *CHAIN_CHECKS.get(table, ()),
    ]
    for label, condition in conditions:
        cursor.execute(f"SELECT COUNT(*) FROM {quoted} t WHERE {condition}")  # noqa: S608
        failures = cursor.fetchone()[0]
        sample: tuple[str, ...] = ()
        if failures:
            cursor.execute(
                f"SELECT t.id FROM {quoted} t WHERE {condition} "  # noqa: S608
                f"ORDER BY t.id LIMIT {SAMPLE_SIZE}"
            )
            sample = tuple(row[0] for row in cursor.fetchall())
        checks.append(RootIdCheck(table=table, check=label, failures=failures, sample_ids=sample))
    return checks


# Deeper chains than this are cycles left in legacy data; the walk stops there.
MAX_TREE_DEPTH = 64


def goal_ancestor_names(
    *, goal_ids: list[str], using: str = DEFAULT_DB_ALIAS
) -> dict[str, list[str]]:
    """Each goal's ancestors' names, root first, for a page of goals in one recursive query."""
    if not goal_ids:
        return {}
    placeholders = ", ".join(["%s"] * len(goal_ids))
    sql = (
        "WITH RECURSIVE chain(start_id, id, parent_id, depth) AS ("  # noqa: S608 - placeholders
        f"SELECT id, id, parent_id, 0 FROM goals WHERE id IN ({placeholders}) "
        "UNION ALL SELECT c.start_id, g.id, g.parent_id, c.depth + 1 FROM goals g "
        "JOIN chain c ON g.id = c.parent_id WHERE c.depth < %s) "
        "SELECT c.start_id, g.name FROM chain c JOIN goals g ON g.id = c.id "
        "WHERE c.depth > 0 ORDER BY c.start_id, c.depth DESC"
    )
    names: dict[str, list[str]] = {goal_id: [] for goal_id in goal_ids}
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [*goal_ids, MAX_TREE_DEPTH])
        for start_id, name in cursor.fetchall():
            names[start_id].append(name)
    return names
