"""The improvement migrations on real-shaped legacy data, on SQLite and PostgreSQL.

Rows of a generated legacy file are loaded into the baseline tables of the test database, then
migrated forward, verified, migrated back to the baseline and compared, and migrated forward again.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from goals_project.bases.exit_codes import Exit
from goals_project.maintenance.verification import root_id_report
from tests.legacy_loading import BASELINE, latest_migrations, migrate_to, normal, snapshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_forward_back_and_forward_again_loses_nothing(legacy_rows):
    """Migrated and verified, then back at the baseline every legacy value is as it was."""
    rows, _ = legacy_rows
    expected = {
        table: {tuple(normal(v) for v in row) for row in values}
        for table, (_, values) in rows.items()
    }
    assert snapshot(rows) == expected
    migrate_to(latest_migrations())
    assert root_id_report().ok
    migrate_to(BASELINE)
    assert snapshot(rows) == expected
    migrate_to(latest_migrations())
    report = root_id_report()
    assert report.ok, [check for check in report.checks if not check.ok]


def _root_of(goal_id: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT root_id FROM goals WHERE id = %s", [goal_id])
        return cursor.fetchone()[0]


def _recovery_root() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM goals WHERE name = 'Recovered records' AND parent_id IS NULL"
        )
        (row,) = cursor.fetchall()
        return row[0]


def test_rows_of_a_deleted_fractal_go_under_the_recovery_root(legacy_rows):
    """Sessions and definitions whose fractal is gone sit under "Recovered records", kept."""
    _, generated = legacy_rows
    migrate_to(latest_migrations())
    recovery = _recovery_root()
    assert _root_of(recovery) == recovery
    for kind in ("sessions_of_deleted_fractal", "session_without_anything"):
        for session_id in generated.dirt_ids[kind]:
            assert _root_of(session_id) == recovery
    with connection.cursor() as cursor:
        for table, kind in (
            ("activity_definitions", "activity_definitions_of_deleted_fractal"),
            ("session_templates", "session_templates_of_deleted_fractal"),
            ("activity_groups", "activity_groups_of_deleted_fractal"),
        ):
            ids = generated.dirt_ids[kind]
            cursor.execute(
                f"SELECT COUNT(*) FROM {table} WHERE root_id = %s AND id IN "
                f"({', '.join(['%s'] * len(ids))})",
                [recovery, *ids],
            )
            assert cursor.fetchone()[0] == len(ids)


def test_parentless_sessions_take_the_root_of_their_linked_goal(legacy_rows):
    """A session without a parent gets the root of the short-term goal it is linked to."""
    migrate_to(latest_migrations())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.id, s.root_id, g.root_id FROM goals s "
            "JOIN practice_session_goals l ON l.practice_session_id = s.id "
            "JOIN goals g ON g.id = l.short_term_goal_id "
            "WHERE s.parent_id IS NULL AND s.type = 'PracticeSession'"
        )
        rows = cursor.fetchall()
    assert rows
    assert all(session_root == goal_root for _, session_root, goal_root in rows)


def test_values_of_deleted_metrics_keep_their_data_through_placeholders(legacy_rows):
    """Metric values of a deleted definition point to a marked, soft-deleted placeholder."""
    _, generated = legacy_rows
    value_ids = generated.dirt_ids["metric_values_with_deleted_definition"]
    migrate_to(latest_migrations())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT m.name, m.deleted_at IS NOT NULL, v.root_id = i.root_id FROM metric_values v "
            "JOIN metric_definitions m ON m.id = v.metric_definition_id "
            "JOIN activity_instances i ON i.id = v.activity_instance_id "
            f"WHERE v.id IN ({', '.join(['%s'] * len(value_ids))})",
            value_ids,
        )
        rows = cursor.fetchall()
    assert len(rows) == len(value_ids)
    assert all(name.startswith("Deleted metric (missing ") for name, _, _ in rows)
    assert all(bool(deleted) and bool(same_root) for _, deleted, same_root in rows)


def test_missing_template_gets_a_placeholder_in_the_session_fractal(legacy_rows):
    """A session's missing template is recreated, with its id, in the session's fractal."""
    _, generated = legacy_rows
    (session_id,) = generated.dirt_ids["session_with_missing_template"]
    migrate_to(latest_migrations())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.name, t.root_id, s.root_id FROM goals s "
            "JOIN session_templates t ON t.id = s.template_id WHERE s.id = %s",
            [session_id],
        )
        name, template_root, session_root = cursor.fetchone()
    assert name.startswith("Session template (missing ")
    assert template_root == session_root


def test_duplicate_names_are_renamed_and_restored(legacy_rows):
    """Live duplicate names in a scope get ' (2)'; migrating back restores the old name."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, root_id, name FROM activity_groups ORDER BY id LIMIT 1")
        group_id, root_id, name = cursor.fetchone()
        cursor.execute(
            "INSERT INTO activity_groups (id, root_id, name, created_at) "
            "VALUES ('dup-group', %s, %s, %s)",
            [root_id, name, "2030-01-01 00:00:00.000001"],
        )
    migrate_to(latest_migrations())
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM activity_groups WHERE id = 'dup-group'")
        assert cursor.fetchone()[0] == f"{name} (2)"
    migrate_to(BASELINE)
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM activity_groups WHERE id IN (%s, 'dup-group')", [group_id])
        assert [row[0] for row in cursor.fetchall()] == [name, name]


VIOLATIONS = {
    "activity stopped before it started": (
        "UPDATE activity_instances SET time_stop = '2020-01-01 00:00:00.000001' WHERE id = %s",
        "activity_instances",
        "1 activity instances stopped before they started",
    ),
    "negative activity duration": (
        "UPDATE activity_instances SET duration_seconds = -5 WHERE id = %s",
        "activity_instances",
        "1 activity instances with a negative duration",
    ),
    "session ending before it starts": (
        "UPDATE goals SET session_end = '2020-01-01 00:00:00.000001' WHERE id = %s",
        "goals WHERE type = 'PracticeSession'",
        "1 practice sessions that end before they start",
    ),
    "negative session duration": (
        "UPDATE goals SET total_duration_seconds = -60 WHERE id = %s",
        "goals WHERE type = 'PracticeSession'",
        "1 goals with a negative duration",
    ),
    "unknown goal type": (
        "UPDATE goals SET type = 'DreamGoal' WHERE id = %s",
        "goals WHERE type = 'NanoGoal'",
        "1 goals with an unknown type",
    ),
}


@pytest.mark.parametrize("kind", list(VIOLATIONS))
def test_constraint_violators_stop_the_migration_unchanged(legacy_rows, kind):
    """A row the new checks would reject stops migrate with the row listed; nothing changes."""
    rows, _ = legacy_rows
    update, source, message = VIOLATIONS[kind]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {source} ORDER BY id LIMIT 1")
        (row_id,) = cursor.fetchone()
        cursor.execute(update, [row_id])
    before = snapshot(rows)
    with pytest.raises(CommandError, match=f"{message} in .*first ids: {row_id}") as refusal:
        call_command("migrate", no_backup=True, stdout=StringIO())
    assert refusal.value.returncode == Exit.CHECKS_VIOLATED
    assert snapshot(rows) == before
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM django_migrations WHERE app = 'goals'")
        assert cursor.fetchone()[0] == 1
        # Repaired, so the fixture can migrate forward again.
        cursor.execute(f"DELETE FROM {update.split()[1]} WHERE id = %s", [row_id])


def test_every_kind_of_violation_is_listed_with_its_own_count(legacy_rows):
    """Checks of one table are read together: each kind keeps its own count and rows."""
    rows, _ = legacy_rows
    # Rows of each kind: counts that differ within each table, rows no other kind takes.
    counts = dict(zip(VIOLATIONS, (2, 1, 3, 2, 1), strict=True))
    changed = {}
    with connection.cursor() as cursor:
        taken: dict[str, int] = {}
        for kind, count in counts.items():
            update, source, _message = VIOLATIONS[kind]
            cursor.execute(
                f"SELECT id FROM {source} ORDER BY id LIMIT %s OFFSET %s",
                [count, taken.get(source, 0)],
            )
            taken[source] = taken.get(source, 0) + count
            changed[kind] = [row_id for (row_id,) in cursor.fetchall()]
            assert len(changed[kind]) == count
            for row_id in changed[kind]:
                cursor.execute(update, [row_id])
    before = snapshot(rows)
    with pytest.raises(CommandError) as refusal:
        call_command("migrate", no_backup=True, stdout=StringIO())
    assert refusal.value.returncode == Exit.CHECKS_VIOLATED
    listed = [line for line in str(refusal.value).splitlines() if line.startswith("- ")]
    assert len(listed) == len(counts)
    for kind, count in counts.items():
        message = VIOLATIONS[kind][2].replace("1 ", f"{count} ", 1)
        (line,) = [line for line in listed if line.startswith(f"- {message} in ")]
        assert f"first ids: {', '.join(sorted(changed[kind]))})" in line
    assert snapshot(rows) == before
    with connection.cursor() as cursor:
        for kind, ids in changed.items():
            table = VIOLATIONS[kind][0].split()[1]
            cursor.execute(f"DELETE FROM {table} WHERE id IN ({', '.join(['%s'] * len(ids))})", ids)


def test_session_linked_to_two_fractals_takes_the_smallest_root(legacy_rows):
    """Links to goals of two fractals are resolved deterministically: the smaller root id."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, (SELECT MIN(g2.id) FROM goals g2 WHERE g2.type = 'ShortTermGoal') "
            "FROM goals WHERE type = 'ShortTermGoal' ORDER BY id DESC LIMIT 1"
        )
        last, first = cursor.fetchone()
        cursor.execute(
            "INSERT INTO goals (id, type, name, completed) "
            "VALUES ('two-fractals', 'PracticeSession', 'Shared', %s)",
            [False],
        )
        for short_term in (last, first):
            cursor.execute(
                "INSERT INTO practice_session_goals VALUES ('two-fractals', %s)", [short_term]
            )
    migrate_to(latest_migrations())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT MIN(g.root_id) FROM practice_session_goals l "
            "JOIN goals g ON g.id = l.short_term_goal_id "
            "WHERE l.practice_session_id = 'two-fractals'"
        )
        (expected,) = cursor.fetchone()
    assert _root_of("two-fractals") == expected
