"""Properties of the improvement migrations over random legacy graphs, on SQLite and PostgreSQL.

Each example is a small legacy database written into the baseline tables: fractals rooted at any
of the four root types, subtrees that follow the tree's order and rows that break it, sessions
with a parent, linked only through practice_session_goals or not at all, goals under sessions,
definitions, templates, programs, instances and values, and the dirt of real files (deleted
fractals, dangling references, cycles, wrong roots, duplicate names, text timestamps). Migrated
forward, every row must sit in the fractal that its legacy chain names, computed here from the
legacy rows alone, or under "Recovered records" when the chain names none; every legacy value
must be unchanged or recorded in `legacy_repairs` with its old value; and migrating back to the
baseline must give every legacy value back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from goals.roots import ROOT_TABLES
from goals_project.maintenance.legacy.schemas import LEGACY_TABLES, VARIANTS, table_columns
from goals_project.maintenance.verification import root_id_report
from tests.legacy_loading import (
    BASELINE,
    latest_migrations,
    load,
    migrate_held,
    migrate_to,
    normal,
)

pytestmark = pytest.mark.django_db(transaction=True)

# The legacy app's tree, top down; a fractal may start at any of the first four types.
ROOT_TYPES = ("UltimateGoal", "LongTermGoal", "MidTermGoal", "ShortTermGoal")
SESSION = "PracticeSession"
TREE_ORDER = (*ROOT_TYPES, SESSION, "ImmediateGoal", "MicroGoal", "NanoGoal")
BELOW_SESSIONS = TREE_ORDER[5:]
RECOVERY_NAME = "Recovered records"
# Legacy ids sort after any uuid4 the migration creates ("x" > "f"): which of a legacy id and a
# created id is smaller never depends on chance, so an example fails every time or never.
ID_PREFIX = "x"
# Few names, so that duplicate names in one scope (repaired by renaming) are common.
NAMES = ("Alpha", "Beta")
TIMESTAMPS = ("2025-06-01 07:30:00.123456", "2025-06-02 08:00:00", None)
LATER = "2025-06-03 09:15:00.000001"


def _legacy_columns() -> dict[str, tuple[str, ...]]:
    import sqlite3

    memory = sqlite3.connect(":memory:")
    try:
        memory.executescript(VARIANTS["dev"].ddl)
        return {table: tuple(columns) for table, columns in table_columns(memory).items()}
    finally:
        memory.close()


LEGACY_COLUMNS = _legacy_columns()


def _key_columns(table: str) -> tuple[str, ...]:
    return ("id",) if "id" in LEGACY_COLUMNS[table] else LEGACY_COLUMNS[table]


# -- building a legacy graph ---------------------------------------------------------------------


@dataclass
class LegacyGraph:
    """Rows of the baseline's legacy tables, as dicts of their legacy columns."""

    tables: dict[str, list[dict]] = field(
        default_factory=lambda: {table: [] for table in LEGACY_TABLES}
    )
    counter: int = 0

    def new_id(self, kind: str) -> str:
        self.counter += 1
        return f"{ID_PREFIX}{kind}{self.counter:03d}"

    def add(self, table: str, **values) -> str:
        row = dict.fromkeys(LEGACY_COLUMNS[table])
        row.update(values)
        self.tables[table].append(row)
        return row.get("id")

    def ids(self, table: str, **where) -> list[str]:
        return [
            row["id"]
            for row in self.tables[table]
            if all(row[column] == value for column, value in where.items())
        ]

    def goal(self, draw, goal_type: str, parent: str | None, goal_id: str | None = None) -> str:
        values = {
            "id": goal_id or self.new_id("g"),
            "type": goal_type,
            "name": draw(st.sampled_from(NAMES)),
            "description": draw(st.sampled_from(("", "Keep going.", None))),
            "completed": draw(st.sampled_from((0, 1))),
            "created_at": draw(st.sampled_from(TIMESTAMPS)),
            "updated_at": draw(st.sampled_from(TIMESTAMPS)),
            "parent_id": parent,
        }
        if goal_type == SESSION:
            start = draw(st.sampled_from(TIMESTAMPS))
            values.update(
                session_start=start,
                session_end=draw(st.sampled_from((None, LATER))) if start else None,
                duration_minutes=draw(st.sampled_from((None, 0, 45))),
                total_duration_seconds=draw(st.sampled_from((None, 2700))),
                session_data='{"notes": "Good session"}',
            )
        return self.add("goals", **values)

    def rows(self) -> dict[str, tuple[tuple[str, ...], list[tuple]]]:
        """In the shape tests.legacy_loading.load takes."""
        return {
            table: (
                LEGACY_COLUMNS[table],
                [tuple(row[c] for c in LEGACY_COLUMNS[table]) for row in rows],
            )
            for table, rows in self.tables.items()
        }


def _child_type(draw, parent_type: str) -> str:
    """Mostly the next type in the tree's order; sometimes any type (legacy rows break it)."""
    position = TREE_ORDER.index(parent_type)
    if position + 1 < len(TREE_ORDER) and draw(st.integers(0, 3)):
        return TREE_ORDER[position + 1]
    return draw(st.sampled_from(TREE_ORDER))


@st.composite
def legacy_graphs(draw) -> LegacyGraph:
    graph = LegacyGraph()
    missing = st.builds(lambda: None).map(lambda _: graph.new_id("-missing-"))
    deleted_fractals = [graph.new_id("-deleted-") for _ in range(draw(st.integers(0, 1)))]

    roots = [
        graph.goal(draw, draw(st.sampled_from(ROOT_TYPES)), None)
        for _ in range(draw(st.integers(1, 3)))
    ]
    # Parentless sessions: linked only through practice_session_goals, or not at all.
    linked_only, unlinked = [], []
    for _ in range(draw(st.integers(0, 3))):
        session = graph.goal(draw, SESSION, None)
        (linked_only if draw(st.booleans()) else unlinked).append(session)
    # Dirt among the goals: parentless goals that belong below a session, dangling parents
    # (some pointing to a deleted fractal), and cycles.
    for _ in range(draw(st.integers(0, 1))):
        graph.goal(draw, draw(st.sampled_from(BELOW_SESSIONS)), None)
    for _ in range(draw(st.integers(0, 1))):
        parent = draw(st.sampled_from(deleted_fractals) | missing if deleted_fractals else missing)
        graph.goal(draw, draw(st.sampled_from(TREE_ORDER)), parent)
    for _ in range(draw(st.integers(0, 1))):
        ring = [graph.new_id("g") for _ in range(draw(st.integers(1, 3)))]
        for position, goal_id in enumerate(ring):
            parent = ring[(position + 1) % len(ring)]
            graph.goal(draw, draw(st.sampled_from(TREE_ORDER)), parent, goal_id=goal_id)
    # Goals below any goal: subtrees of the fractals, sessions with a parent, immediate, micro
    # and nano goals under sessions, rows below orphans and cycles.
    for _ in range(draw(st.integers(0, 10))):
        parent = draw(st.sampled_from(graph.ids("goals")))
        (parent_type,) = [row["type"] for row in graph.tables["goals"] if row["id"] == parent]
        graph.goal(draw, _child_type(draw, parent_type), parent)
    goal_ids = graph.ids("goals")
    sessions = graph.ids("goals", type=SESSION)
    short_terms = graph.ids("goals", type="ShortTermGoal") or goal_ids
    # Links: a linked-only session's short-term goal(s), sometimes of two fractals, sometimes a
    # goal of another type or a missing one; sessions with a parent are linked to it or not.
    links = set()
    for session in linked_only:
        targets = st.sampled_from(short_terms) | st.sampled_from(goal_ids) | missing
        for target in draw(st.lists(targets, min_size=1, max_size=2)):
            links.add((session, target))
    for row in graph.tables["goals"]:
        if row["type"] == SESSION and row["parent_id"] and draw(st.booleans()):
            links.add((row["id"], row["parent_id"]))
    for session, target in sorted(links):
        graph.add("practice_session_goals", practice_session_id=session, short_term_goal_id=target)
    # Legacy root_id on goals: NULL, a fractal's root (right or wrong), any goal, the goal
    # itself, a deleted fractal or a missing goal. For an unlinked session it names its fractal.
    for row in graph.tables["goals"]:
        row["root_id"] = draw(
            st.none()
            | st.sampled_from(roots)
            | st.sampled_from(goal_ids)
            | st.just(row["id"])
            | st.sampled_from([*deleted_fractals, None])
            | missing
        )

    def owner_root():
        """A definition's legacy root_id: a fractal, some other goal, or one that is gone."""
        return draw(
            st.sampled_from(roots)
            | st.sampled_from(goal_ids)
            | st.sampled_from(deleted_fractals or roots)
            | missing
        )

    def one_of(ids: list[str], *, none: bool = False):
        choices = (st.sampled_from(ids) if ids else missing) | missing
        return draw(choices | st.none() if none else choices)

    for _ in range(draw(st.integers(0, 2))):
        graph.add(
            "activity_groups",
            id=graph.new_id("ag"),
            root_id=owner_root(),
            name=draw(st.sampled_from(NAMES)),
            description="",
            created_at=draw(st.sampled_from(TIMESTAMPS)),
            sort_order=0,
        )
    for _ in range(draw(st.integers(0, 3))):
        graph.add(
            "activity_definitions",
            id=graph.new_id("ad"),
            root_id=owner_root(),
            name=draw(st.sampled_from(NAMES)),
            description="",
            created_at=draw(st.sampled_from(TIMESTAMPS)),
            has_sets=draw(st.sampled_from((0, 1))),
            has_metrics=1,
            metrics_multiplicative=0,
            has_splits=draw(st.sampled_from((0, 1))),
            group_id=one_of(graph.ids("activity_groups"), none=True),
        )
    activities = graph.ids("activity_definitions")
    for _ in range(draw(st.integers(0, 3))):
        graph.add(
            "metric_definitions",
            id=graph.new_id("md"),
            activity_id=one_of(activities),
            name=draw(st.sampled_from(NAMES)),
            unit="kg",
            created_at=draw(st.sampled_from(TIMESTAMPS)),
            deleted_at=draw(st.sampled_from((None, None, LATER))),
            is_active=1,
            is_top_set_metric=0,
            is_multiplicative=1,
        )
    for _ in range(draw(st.integers(0, 2))):
        graph.add(
            "split_definitions",
            id=graph.new_id("sd"),
            activity_id=one_of(activities),
            name=draw(st.sampled_from(NAMES)),
            order=0,
            created_at=draw(st.sampled_from(TIMESTAMPS)),
        )
    for _ in range(draw(st.integers(0, 2))):
        graph.add(
            "session_templates",
            id=graph.new_id("st"),
            name=draw(st.sampled_from(NAMES)),
            description=None,
            root_id=owner_root(),
            created_at=draw(st.sampled_from(TIMESTAMPS)),
            template_data="{}",
        )
    templates = graph.ids("session_templates")
    for row in graph.tables["goals"]:
        if row["type"] == SESSION:
            row["template_id"] = one_of(templates, none=True)
    for _ in range(draw(st.integers(0, 1))):
        graph.add(
            "programs",
            id=graph.new_id("pr"),
            root_id=owner_root(),
            name="Season plan",
            description="",
            start_date="2025-06-01 00:00:00",
            end_date="2025-09-01 00:00:00",
            created_at=draw(st.sampled_from(TIMESTAMPS)),
            updated_at=draw(st.sampled_from(TIMESTAMPS)),
            is_active=1,
            goal_ids="[]",
            weekly_schedule="{}",
        )
    for _ in range(draw(st.integers(0, 1))):
        graph.add(
            "program_blocks",
            id=graph.new_id("pb"),
            program_id=one_of(graph.ids("programs")),
            name="Block",
        )
    for _ in range(draw(st.integers(0, 1))):
        graph.add(
            "program_days",
            id=graph.new_id("pd"),
            block_id=one_of(graph.ids("program_blocks")),
            day_number=1,
        )
    for _ in range(draw(st.integers(0, 1))):
        graph.add(
            "scheduled_sessions",
            id=graph.new_id("ss"),
            day_id=one_of(graph.ids("program_days")),
            session_template_id=one_of(templates, none=True),
            is_completed=0,
        )
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.sampled_from(TIMESTAMPS))
        graph.add(
            "activity_instances",
            id=graph.new_id("ai"),
            practice_session_id=one_of(sessions),
            activity_definition_id=one_of(activities),
            created_at=draw(st.sampled_from(TIMESTAMPS)),
            time_start=start,
            time_stop=draw(st.sampled_from((None, LATER))) if start else None,
            duration_seconds=draw(st.sampled_from((None, 0, 300))),
        )
    instances = graph.ids("activity_instances")
    for _ in range(draw(st.integers(0, 5))):
        graph.add(
            "metric_values",
            id=graph.new_id("mv"),
            activity_instance_id=one_of(instances),
            # A missing definition is a deleted metric, as in about half of real values.
            metric_definition_id=one_of(graph.ids("metric_definitions")),
            value=draw(st.sampled_from((1.5, 80.0))),
            split_definition_id=one_of(graph.ids("split_definitions"), none=True),
        )
    return graph


# -- the oracle: the root rule, from the legacy rows alone ---------------------------------------


class Oracle:
    """Where each legacy row belongs by its legacy chain; None when the chain names no fractal.

    Goals are solved as a fixpoint: start with no fractal anywhere except the roots, and apply
    the rule to every goal until nothing changes; a session takes the smallest fractal among its
    linked goals that have one, so a value only ever gets smaller and the loop ends.
    """

    def __init__(self, graph: LegacyGraph) -> None:
        self.graph = graph
        goals = {row["id"]: row for row in graph.tables["goals"]}
        links: dict[str, list[str]] = {}
        for link in graph.tables["practice_session_goals"]:
            links.setdefault(link["practice_session_id"], []).append(link["short_term_goal_id"])
        root: dict[str, str | None] = {
            goal_id: goal_id if row["parent_id"] is None and row["type"] in ROOT_TYPES else None
            for goal_id, row in goals.items()
        }

        def rule(row: dict) -> str | None:
            if row["parent_id"] is not None:
                return root.get(row["parent_id"])
            if row["type"] != SESSION:
                return None
            if row["id"] in links:
                found = [root.get(target) for target in links[row["id"]]]
                return min((r for r in found if r is not None), default=None)
            return root.get(row["root_id"])

        changed = True
        while changed:
            changed = False
            for goal_id, row in goals.items():
                if root[goal_id] == goal_id:
                    continue
                new = rule(row)
                if new != root[goal_id]:
                    root[goal_id] = new
                    changed = True
        self.goal_roots = root

    def roots(self) -> dict[str, dict[str, str | None]]:
        """table → {row id: expected root}."""
        by_id = {
            table: {row["id"]: row for row in self.graph.tables[table]} for table in ROOT_TABLES
        }
        goals = self.goal_roots

        def through(table: str, row_id: str | None, resolve) -> str | None:
            return resolve(by_id[table][row_id]) if row_id in by_id[table] else None

        def activity(row):
            return goals.get(row["root_id"])

        def instance(row):
            return goals.get(row["practice_session_id"])

        return {
            "goals": dict(goals),
            "activity_groups": {
                i: goals.get(r["root_id"]) for i, r in by_id["activity_groups"].items()
            },
            "activity_definitions": {
                i: activity(r) for i, r in by_id["activity_definitions"].items()
            },
            "session_templates": {
                i: goals.get(r["root_id"]) for i, r in by_id["session_templates"].items()
            },
            "programs": {i: goals.get(r["root_id"]) for i, r in by_id["programs"].items()},
            "metric_definitions": {
                i: through("activity_definitions", r["activity_id"], activity)
                for i, r in by_id["metric_definitions"].items()
            },
            "split_definitions": {
                i: through("activity_definitions", r["activity_id"], activity)
                for i, r in by_id["split_definitions"].items()
            },
            "activity_instances": {i: instance(r) for i, r in by_id["activity_instances"].items()},
            "metric_values": {
                i: through("activity_instances", r["activity_instance_id"], instance)
                for i, r in by_id["metric_values"].items()
            },
        }

    def parents(self) -> dict[str, str | None]:
        """A goal's expected parent: its own, or the recovery root (None here) for a goal that
        belongs below a session but has no parent."""
        return {
            row["id"]: row["parent_id"]
            for row in self.graph.tables["goals"]
            if row["parent_id"] is not None or row["type"] in (*ROOT_TYPES, SESSION)
        }


# -- reading the database ------------------------------------------------------------------------


def _sql(statement: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def _legacy_values() -> dict[str, dict[tuple, dict[str, object]]]:
    """Every legacy column of every legacy row, keyed by primary key."""
    quote = connection.ops.quote_name
    values = {}
    for table in LEGACY_TABLES:
        columns = LEGACY_COLUMNS[table]
        key = _key_columns(table)
        rows = _sql(f"SELECT {', '.join(map(quote, columns))} FROM {quote(table)}")
        values[table] = {
            tuple(row[columns.index(c)] for c in key): dict(
                zip(columns, map(normal, row), strict=True)
            )
            for row in rows
        }
    return values


def _at_baseline() -> bool:
    applied = MigrationRecorder(connection).applied_migrations()
    return {key for key in applied if key[0] in {"goals", "practice_sessions"}} == set(BASELINE)


def _empty_baseline() -> None:
    if not _at_baseline():
        migrate_to(BASELINE)
    for table in reversed(LEGACY_TABLES):
        _sql(f"DELETE FROM {connection.ops.quote_name(table)}")


@pytest.fixture
def baseline_tables(baseline_schema):
    """The baseline's legacy tables, empty; the latest schema again afterwards."""


def _migrate_forward(held: bool) -> None:
    """To the latest migrations; with `held`, as inside migrate's one transaction
    (legacy_loading.migrate_held)."""
    (migrate_held if held else migrate_to)(latest_migrations())


def _check_migration(graph: LegacyGraph, held: bool = False) -> None:
    load(graph.rows())
    before = _legacy_values()
    _migrate_forward(held)

    report = root_id_report()
    assert report.ok, [check for check in report.checks if not check.ok]

    recovery_roots = _sql(
        "SELECT id FROM goals WHERE name = %s AND parent_id IS NULL", [RECOVERY_NAME]
    )
    assert len(recovery_roots) <= 1
    recovery = recovery_roots[0][0] if recovery_roots else None
    oracle = Oracle(graph)
    for table, expected in oracle.roots().items():
        actual = dict(_sql(f"SELECT id, root_id FROM {connection.ops.quote_name(table)}"))
        wrong = {
            row_id: (actual[row_id], root or RECOVERY_NAME)
            for row_id, root in expected.items()
            if actual[row_id] != (root or recovery) or actual[row_id] is None
        }
        assert not wrong, f"{table}: row → (root, expected): {wrong}"
    # The instances' added columns: updated_at is the stop of the timer, else the creation
    # (filled where the legacy row had none); the order 0, not completed.
    unfilled = [
        row
        for row in _sql(
            "SELECT id, updated_at, time_stop, created_at, sort_order, completed "
            "FROM activity_instances"
        )
        if row[1] is None or row[1] != (row[2] or row[3]) or row[4] != 0 or row[5]
    ]
    assert not unfilled, f"instances' added columns: {unfilled}"
    parents = dict(_sql("SELECT id, parent_id FROM goals"))
    expected_parents = oracle.parents()
    moved = {
        goal_id: parents[goal_id]
        for (goal_id,) in before["goals"]
        if parents[goal_id] != expected_parents.get(goal_id, recovery)
    }
    assert not moved, f"goals whose parent changed: {moved}"

    # Every legacy value is unchanged, or its change is recorded with the old value.
    after = _legacy_values()
    repairs: dict[tuple[str, str, str], list] = {}
    for table, row_id, column, old in _sql(
        "SELECT table_name, row_id, column_name, old_value FROM legacy_repairs "
        "WHERE column_name <> '*' ORDER BY id"
    ):
        repairs.setdefault((table, row_id, column), []).append(old)
    unrecorded = []
    for table, rows in before.items():
        for key, values in rows.items():
            assert key in after[table], f"{table} row {key} is gone"
            for column, value in values.items():
                if after[table][key][column] == value:
                    continue
                old = repairs.get((table, str(key[0]), column), [])
                if not old or old[0] != (None if value is None else str(value)):
                    unrecorded.append((table, key, column, value, after[table][key][column], old))
    assert not unrecorded, f"changed without a repair of the old value: {unrecorded}"

    migrate_to(BASELINE)
    assert _legacy_values() == before


# Each example migrates forward and back (about 5 s): a third of the profile's examples.
@hypothesis_settings(max_examples=max(1, hypothesis_settings.default.max_examples // 3))
@given(graph=legacy_graphs(), held=st.booleans())
def test_every_row_lands_in_its_legacy_fractal_and_every_value_survives(
    baseline_tables, graph, held
):
    """Migrated, each row is in the fractal its legacy chain names (or under "Recovered
    records" when it names none), the database's checks pass, every changed legacy value is
    recorded with its old value, and migrating back restores every legacy value; whether the
    migrations run as in migrate's one transaction (`held`) or not."""
    try:
        _check_migration(graph, held)
    finally:
        _empty_baseline()


# -- bugs the property found, kept as plain examples ---------------------------------------------

# A legacy id that sorts after every uuid4, so the recovery root's id is always the smaller one.
LAST_UUID = "ffffffff-ffff-4fff-bfff-ffffffffffff"


@pytest.mark.parametrize("lost_goal", ["missing", "under a deleted fractal"])
def test_a_session_linked_to_a_fractal_and_a_lost_goal_belongs_to_the_fractal(
    baseline_tables, lost_goal
):
    """A session without a parent linked to a short-term goal of a fractal and to a goal that
    has no fractal (deleted, or under a deleted fractal) belongs to that fractal."""
    graph = LegacyGraph()
    graph.add("goals", id=LAST_UUID, type="ShortTermGoal", name="Test", completed=0)
    graph.add("goals", id="session", type=SESSION, name="Practice", completed=0)
    if lost_goal == "under a deleted fractal":
        graph.add(
            "goals", id="lost", type="ShortTermGoal", name="Lost", completed=0, parent_id="gone"
        )
    for target in (LAST_UUID, "lost"):
        graph.add(
            "practice_session_goals", practice_session_id="session", short_term_goal_id=target
        )
    load(graph.rows())
    migrate_to(latest_migrations())
    assert _sql("SELECT root_id FROM goals WHERE id = 'session'") == [(LAST_UUID,)]
