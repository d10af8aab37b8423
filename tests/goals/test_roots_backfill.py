"""The backfill follows the one root rule (goals.roots) over the whole legacy graph.

Each case is a shape of data the legacy app itself wrote, added to a generated dirty file loaded
into the baseline tables, then migrated on the backend under test.
"""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection
from django.utils import timezone

from goals_project.bases.exit_codes import Exit
from goals_project.maintenance.verification import root_id_report
from tests.legacy_loading import BASELINE, latest_migrations, migrate_to, snapshot

pytestmark = pytest.mark.django_db(transaction=True)


def _sql(statement: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def _goal(goal_id: str, goal_type: str, parent_id: str | None = None) -> None:
    _sql(
        "INSERT INTO goals (id, type, name, completed, parent_id) VALUES (%s, %s, %s, %s, %s)",
        [goal_id, goal_type, f"{goal_type} {goal_id}", False, parent_id],
    )


def _root_of(goal_id: str) -> str:
    return _sql("SELECT root_id FROM goals WHERE id = %s", [goal_id])[0][0]


def _parent_of(goal_id: str) -> str | None:
    return _sql("SELECT parent_id FROM goals WHERE id = %s", [goal_id])[0][0]


def _recovery_root() -> str:
    (row,) = _sql("SELECT id FROM goals WHERE name = 'Recovered records' AND parent_id IS NULL")
    return row[0]


def _a_short_term_goal() -> str:
    return _sql("SELECT id FROM goals WHERE type = 'ShortTermGoal' ORDER BY id LIMIT 1")[0][0]


def _session_chain(session_id: str) -> list[str]:
    """Immediate → micro → nano goals under a session, as the legacy app made them."""
    _goal(f"{session_id}-immediate", "ImmediateGoal", session_id)
    _goal(f"{session_id}-micro", "MicroGoal", f"{session_id}-immediate")
    _goal(f"{session_id}-nano", "NanoGoal", f"{session_id}-micro")
    return [f"{session_id}-immediate", f"{session_id}-micro", f"{session_id}-nano"]


def test_goals_under_a_session_linked_only_by_practice_session_goals_follow_it(legacy_rows):
    """A session without a parent belongs to its linked goal's fractal; so do its goals."""
    short_term = _a_short_term_goal()
    _goal("linked-session", "PracticeSession")
    _sql("INSERT INTO practice_session_goals VALUES ('linked-session', %s)", [short_term])
    chain = _session_chain("linked-session")
    migrate_to(latest_migrations())
    fractal = _root_of(short_term)
    assert fractal != _recovery_root()
    assert _root_of("linked-session") == fractal
    assert [_root_of(goal_id) for goal_id in chain] == [fractal] * 3
    assert _parent_of("linked-session-immediate") == "linked-session"
    report = root_id_report()
    assert report.ok, [check for check in report.checks if not check.ok]


def test_goals_under_a_session_with_a_parent_follow_it(legacy_rows):
    short_term = _a_short_term_goal()
    _goal("child-session", "PracticeSession", short_term)
    chain = _session_chain("child-session")
    migrate_to(latest_migrations())
    assert [_root_of(goal_id) for goal_id in chain] == [_root_of(short_term)] * 3


@pytest.mark.parametrize("root_type", ["LongTermGoal", "MidTermGoal", "ShortTermGoal"])
def test_a_fractal_may_start_at_any_of_the_four_root_types(legacy_rows, root_type):
    """A parentless LongTermGoal (or mid- or short-term goal) is a fractal, not an orphan."""
    below = {"LongTermGoal": "MidTermGoal", "MidTermGoal": "ShortTermGoal"}
    _goal("test-root", root_type)
    _sql("UPDATE goals SET name = 'Test' WHERE id = 'test-root'")
    child_type = below.get(root_type, "PracticeSession")
    _goal("test-child", child_type, "test-root")
    _goal("test-session", "PracticeSession")
    _sql("INSERT INTO practice_session_goals VALUES ('test-session', 'test-child')")
    _session_chain("test-session")
    migrate_to(latest_migrations())
    assert _parent_of("test-root") is None
    assert _root_of("test-root") == "test-root"
    for goal_id in ("test-child", "test-session", "test-session-immediate", "test-session-nano"):
        assert _root_of(goal_id) == "test-root"
    assert root_id_report().ok


def test_only_rows_without_a_fractal_go_under_recovered_records(legacy_rows):
    """Goals under an unlinked session without a root, and parentless immediate goals, have no
    fractal: they are kept under "Recovered records", their legacy parent kept where it exists."""
    _goal("lost-session", "PracticeSession")
    lost_chain = _session_chain("lost-session")
    _goal("orphan-immediate", "ImmediateGoal")
    migrate_to(latest_migrations())
    recovery = _recovery_root()
    assert [_root_of(goal_id) for goal_id in ["lost-session", *lost_chain]] == [recovery] * 4
    assert _parent_of("lost-session-immediate") == "lost-session"
    assert _parent_of("orphan-immediate") == recovery
    assert _root_of("orphan-immediate") == recovery


def test_forward_back_restores_the_session_goals_exactly(legacy_rows):
    rows, _ = legacy_rows
    _goal("linked-session", "PracticeSession")
    _sql("INSERT INTO practice_session_goals VALUES ('linked-session', %s)", [_a_short_term_goal()])
    _session_chain("linked-session")
    _goal("orphan-immediate", "ImmediateGoal")
    tables = {table: (columns, []) for table, (columns, _) in rows.items()}
    before = snapshot(tables)
    migrate_to(latest_migrations())
    migrate_to(BASELINE)
    assert snapshot(tables) == before


def _applied() -> set[str]:
    return {f"{app}.{name}" for app, name in _sql("SELECT app, name FROM django_migrations")}


ENFORCING_GOALS = "goals.0005_enforce_root_ids_and_constraints"
ENFORCING_VALUES = "practice_sessions.0003_enforce_root_ids_and_constraints"


def _migrate_stops(rows: str, migration: str) -> str:
    """migrate stops with exit 19, its message matching `rows`, and `migration` not applied;
    the message."""
    with pytest.raises(CommandError, match=rows) as stopped:
        call_command("migrate", no_backup=True, stdout=StringIO())
    assert stopped.value.returncode == Exit.ROOTS_BROKEN
    assert migration not in _applied()
    return str(stopped.value)


def _moved_to_another_fractal(table: str, where: str = "1 = 1") -> tuple[str, str, str]:
    """The first row of `table` given another fractal's root, as a legacy write after the
    backfill would: its id, its root and the other root."""
    row_id, root = _sql(f"SELECT id, root_id FROM {table} WHERE {where} ORDER BY id LIMIT 1")[0]
    other = _sql(
        "SELECT id FROM goals WHERE root_id = id AND id <> %s ORDER BY id LIMIT 1", [root]
    )[0][0]
    _sql(f"UPDATE {table} SET root_id = %s WHERE id = %s", [other, row_id])
    return row_id, root, other


def test_migrate_refuses_rows_that_break_the_rule_and_rolls_the_enforcement_back(legacy_rows):
    """An instance whose root disagrees with its session's when its constraint is to be added
    (a legacy write after the backfill, say) stops migrate with the rows listed: the migration
    that enforces it is rolled back and the row is kept as it was. The way out the message gives
    derives its root by the rule."""
    migrate_to([("goals", "0004_backfill_root_ids")])
    instance_id, session_root, other_root = _moved_to_another_fractal("activity_instances")
    stopped = _migrate_stops(f"agrees with its session's root.*{instance_id}", ENFORCING_VALUES)
    assert not connection.in_atomic_block
    assert f"{ENFORCING_VALUES} cannot enforce it" in stopped
    assert _sql("SELECT root_id FROM activity_instances WHERE id = %s", [instance_id]) == [
        (other_root,)
    ]
    call_command("migrate", "goals", "0003", no_backup=True, stdout=StringIO())
    call_command("migrate", no_backup=True, stdout=StringIO())
    assert _sql("SELECT root_id FROM activity_instances WHERE id = %s", [instance_id]) == [
        (session_root,)
    ]
    assert root_id_report().ok


def test_a_goal_off_its_parents_fractal_stops_the_migration_that_enforces_the_goals_rule(
    legacy_rows,
):
    """A goal moved to another fractal's root after the backfill is refused by goals.0005's
    constraints: nothing of it is applied, and the goal is listed."""
    migrate_to([("goals", "0004_backfill_root_ids")])
    goal_id, _, _ = _moved_to_another_fractal("goals", "parent_id IS NOT NULL")
    _migrate_stops(f"agrees with its parent's root.*{goal_id}", ENFORCING_GOALS)


def test_a_parentless_session_off_its_linked_goals_fractal_is_refused_before_the_constraints(
    legacy_rows,
):
    """No constraint can follow practice_session_goals: goals.0005 checks that part of the
    rule on the rows first, and stops with the session listed."""
    migrate_to([("goals", "0004_backfill_root_ids")])
    session_id, session_root = _sql(
        "SELECT s.id, s.root_id FROM goals s WHERE s.parent_id IS NULL "
        "AND s.type = 'PracticeSession' AND EXISTS (SELECT 1 FROM practice_session_goals l "
        "WHERE l.practice_session_id = s.id) ORDER BY s.id LIMIT 1"
    )[0]
    other_root = _sql(
        "SELECT id FROM goals WHERE root_id = id AND id NOT IN (SELECT g.root_id FROM "
        "practice_session_goals l JOIN goals g ON g.id = l.short_term_goal_id "
        "WHERE l.practice_session_id = %s) ORDER BY id LIMIT 1",
        [session_id],
    )[0][0]
    # The session and everything below it, as a move of the legacy app would leave them.
    for table, column in (("goals", "id"), ("goals", "parent_id")):
        _sql(f"UPDATE {table} SET root_id = %s WHERE {column} = %s", [other_root, session_id])
    _sql(
        "UPDATE goals SET root_id = %s WHERE root_id = %s AND id IN (WITH RECURSIVE below(id) AS "
        "(SELECT id FROM goals WHERE parent_id = %s UNION ALL SELECT g.id FROM goals g "
        "JOIN below b ON g.parent_id = b.id) SELECT id FROM below)",
        [other_root, session_root, session_id],
    )
    _sql(
        "UPDATE activity_instances SET root_id = %s WHERE practice_session_id = %s",
        [other_root, session_id],
    )
    _sql(
        "UPDATE metric_values SET root_id = %s WHERE activity_instance_id IN "
        "(SELECT id FROM activity_instances WHERE practice_session_id = %s)",
        [other_root, session_id],
    )
    _migrate_stops(f"root of a linked goal.*{session_id}", ENFORCING_GOALS)


def test_a_row_refused_for_another_rule_keeps_its_own_error(legacy_rows):
    """A migration enforcing the root rule that fails on another constraint (a session that
    ends before it starts, written after the backfill) is rolled back with that constraint's
    error: not a root report, even with rows breaking the rule on tables a later migration
    enforces it on (an instance moved to another fractal)."""
    migrate_to([("goals", "0004_backfill_root_ids")])
    (session_id,) = _sql("SELECT id FROM goals WHERE type = 'PracticeSession' ORDER BY id LIMIT 1")[
        0
    ]
    start = timezone.now()
    _sql(
        "UPDATE goals SET session_start = %s, session_end = %s WHERE id = %s",
        [start, start - timezone.timedelta(hours=1), session_id],
    )
    _moved_to_another_fractal("activity_instances")
    with pytest.raises(CommandError, match=r"goals_session_end_after_start|CHECK") as raised:
        call_command("migrate", no_backup=True, stdout=StringIO())
    assert raised.value.returncode == Exit.CHECKS_VIOLATED
    assert str(raised.value).startswith(f"{ENFORCING_GOALS} was stopped by the database")
    assert isinstance(raised.value.__cause__, IntegrityError)
    assert ENFORCING_GOALS not in _applied()


def test_a_reference_written_after_the_backfill_to_a_missing_row_is_named_by_its_column(
    legacy_rows,
):
    """A metric value pointing to a metric that does not exist, written after the backfill
    with every other column right, is refused by its foreign key: the error names that
    column and value, not another column of the table's keys."""
    migrate_to([("goals", "0004_backfill_root_ids")])
    # Any value, copied with a new id and a metric that does not exist.
    ((source,),) = _sql("SELECT id FROM metric_values ORDER BY id LIMIT 1")
    names = [
        column.name
        for column in connection.introspection.get_table_description(
            connection.cursor(), "metric_values"
        )
    ]
    copied = ", ".join(
        {"id": "'legacy-late-value'", "metric_definition_id": "'no-such-metric'"}.get(name, name)
        for name in names
    )
    _sql(
        f"INSERT INTO metric_values ({', '.join(names)}) SELECT {copied} FROM metric_values "
        "WHERE id = %s",
        [source],
    )
    out = StringIO()
    with pytest.raises(CommandError, match=r"(?s)metric_definition_id.*no-such-metric") as raised:
        call_command("migrate", no_backup=True, stdout=out)
    assert raised.value.returncode == Exit.CHECKS_VIOLATED
    assert str(raised.value).startswith(f"{ENFORCING_VALUES} was stopped by the database")
    assert ENFORCING_VALUES not in _applied()
    applying = f"Applying {ENFORCING_VALUES}..."
    assert applying in out.getvalue()
    assert f"{applying} OK" not in out.getvalue()


def _order_breakers_reported() -> int:
    out = StringIO()
    call_command("migration_readiness", stdout=out)
    match = re.search(r"(\d+) goals that break the tree's order", out.getvalue())
    return int(match.group(1)) if match else 0


def test_rows_that_break_the_order_are_reported_and_kept_as_they_are(legacy_rows):
    """A legacy nano goal straight under a short-term goal is reported by readiness and kept
    where it is; it takes its parent's root like any other goal."""
    before = _order_breakers_reported()
    short_term = _a_short_term_goal()
    _goal("misplaced", "NanoGoal", short_term)
    assert _order_breakers_reported() == before + 1
    migrate_to(latest_migrations())
    assert _parent_of("misplaced") == short_term
    assert _root_of("misplaced") == _root_of(short_term)


def test_rows_the_legacy_app_wrote_after_the_backfill_have_a_way_out(legacy_rows):
    """A session and an activity the legacy app wrote after goals.0004 (no root_id, none of the
    new columns) stop migrate with exit 19 and the way out; following it (back to goals.0003,
    then migrate) migrates them and keeps them."""
    migrate_to([("goals", "0004_backfill_root_ids")])
    short_term = _a_short_term_goal()
    activity = _sql("SELECT id FROM activity_definitions ORDER BY id LIMIT 1")[0][0]
    now = timezone.now()
    _sql(
        "INSERT INTO goals (id, type, name, completed, parent_id, created_at, updated_at) "
        "VALUES ('legacy-late', 'PracticeSession', 'Written late', %s, %s, %s, %s)",
        [False, short_term, now, now],
    )
    _sql(
        "INSERT INTO activity_instances (id, practice_session_id, activity_definition_id, "
        "created_at) VALUES ('legacy-late-instance', 'legacy-late', %s, %s)",
        [activity, now],
    )
    with pytest.raises(CommandError, match="legacy-late") as stopped:
        call_command("migrate", no_backup=True, stdout=StringIO())
    assert stopped.value.returncode == Exit.ROOTS_BROKEN
    assert (
        "run `manage.py migrate goals 0003` (it puts back what 0004 changed and keeps these "
        "rows) and `manage.py migrate` again" in str(stopped.value)
    )
    call_command("migrate", "goals", "0003", no_backup=True, stdout=StringIO())
    call_command("migrate", no_backup=True, stdout=StringIO())
    call_command("verify_root_ids", stdout=StringIO())
    assert _root_of("legacy-late") == _root_of(short_term)
    assert _sql("SELECT root_id FROM activity_instances WHERE id = 'legacy-late-instance'") == [
        (_root_of(short_term),)
    ]


def test_a_value_the_legacy_app_wrote_after_the_backfill_stops_the_enforcing_migration(
    legacy_rows,
):
    """A metric value written after goals.0004 (no root_id) is refused where metric_values gets
    its constraints in place (a NULL in a column made NOT NULL): exit 19 with the value listed,
    and the way out migrates it."""
    migrate_to([("goals", "0004_backfill_root_ids")])
    instance_id, instance_root = _sql(
        "SELECT id, root_id FROM activity_instances ORDER BY id LIMIT 1"
    )[0]
    definition_id = _sql("SELECT id FROM metric_definitions ORDER BY id LIMIT 1")[0][0]
    _sql(
        "INSERT INTO metric_values (id, activity_instance_id, metric_definition_id, value) "
        "VALUES ('legacy-late-value', %s, %s, 12.5)",
        [instance_id, definition_id],
    )
    _migrate_stops("no NULL root_id.*legacy-late-value", ENFORCING_VALUES)
    call_command("migrate", "goals", "0003", no_backup=True, stdout=StringIO())
    call_command("migrate", no_backup=True, stdout=StringIO())
    assert _sql("SELECT root_id FROM metric_values WHERE id = 'legacy-late-value'") == [
        (instance_root,)
    ]
