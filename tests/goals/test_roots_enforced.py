"""The database itself holds the root rule (goals.roots), whatever writes: the ORM, update(),
raw SQL. Writes are committed (transactional tests) so that the database answers, not Django."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from goals.models import Goal, GoalType, MetricDefinition, SessionTemplate
from goals_project.maintenance.verification import root_id_report
from sessions.models import ActivityInstance, MetricValue
from tests.factories import (
    ActivityDefinitionFactory,
    LongTermGoalFactory,
    MetricValueFactory,
    UltimateGoalFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def value():
    return MetricValueFactory()


def _refused(statement: str, params=()) -> None:
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)


def _root_of(table: str, row_id: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT root_id FROM {table} WHERE id = %s", [row_id])
        return cursor.fetchone()[0]


def test_a_child_goal_cannot_leave_its_parents_fractal(value):
    session = value.activity_instance.practice_session
    _refused("UPDATE goals SET root_id = %s WHERE id = %s", [UltimateGoalFactory().pk, session.pk])


def test_an_instance_a_value_and_a_metric_follow_their_chain(value):
    other = UltimateGoalFactory().pk
    _refused("UPDATE activity_instances SET root_id = %s", [other])
    _refused("UPDATE metric_values SET root_id = %s", [other])
    _refused("UPDATE metric_definitions SET root_id = %s", [other])
    with pytest.raises(IntegrityError), transaction.atomic():
        MetricValue.objects.filter(pk=value.pk).update(root_id=other)
    with pytest.raises(IntegrityError), transaction.atomic():
        ActivityInstance.objects.update(root_id=other)


def test_every_root_id_names_a_goal_that_is_its_own_root(value):
    long_term = value.activity_instance.practice_session.parent.parent.parent
    _refused(
        "UPDATE activity_definitions SET root_id = %s WHERE id = %s",
        [long_term.pk, value.metric_definition.activity_id],
    )
    SessionTemplate.objects.create(name="Template", root=value.root)
    _refused("UPDATE session_templates SET root_id = %s", [long_term.pk])
    # A root type without a parent is its own root; a goal with a parent never is.
    _refused("UPDATE goals SET root_id = %s WHERE id = %s", [long_term.pk, long_term.pk])
    fractal = LongTermGoalFactory(parent=None)
    assert fractal.root_id == fractal.pk
    _refused("UPDATE goals SET root_id = %s WHERE id = %s", [value.root_id, fractal.pk])
    _refused(
        "INSERT INTO goals (id, type, name, root_id, sort_order, created_at, updated_at) "
        "VALUES ('stray', 'ImmediateGoal', 'Stray', %s, 0, %s, %s)",
        [value.root_id, "2026-01-01 00:00:00", "2026-01-01 00:00:00"],
    )


def test_moving_a_subtree_is_one_update_the_database_carries_down(value):
    """Parent and root of the subtree's top goal change; goals, instances and values follow."""
    session = value.activity_instance.practice_session
    short_term = session.parent
    target = LongTermGoalFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE goals SET parent_id = %s, root_id = %s WHERE id = %s",
            [target.pk, target.root_id, short_term.pk],
        )
    assert _root_of("goals", session.pk) == target.root_id
    assert _root_of("activity_instances", value.activity_instance_id) == target.root_id
    assert _root_of("metric_values", value.pk) == target.root_id
    assert root_id_report().ok


def test_unmaking_a_root_that_rows_name_is_refused(value):
    """A fractal's root cannot stop being a root while rows name it."""
    fractal = value.root
    _refused(
        "UPDATE goals SET parent_id = %s, root_id = %s WHERE id = %s",
        [LongTermGoalFactory().pk, UltimateGoalFactory().pk, fractal.pk],
    )


def test_an_owner_only_on_a_root(value):
    from django.contrib.auth.models import User

    user = User.objects.create_user("owner")
    session = value.activity_instance.practice_session
    with pytest.raises(IntegrityError), transaction.atomic():
        Goal.objects.filter(pk=session.pk).update(owner=user)
    fractal = LongTermGoalFactory(parent=None)
    Goal.objects.filter(pk=fractal.pk).update(owner=user)
    assert Goal.objects.get(pk=fractal.pk).owner == user


def test_the_models_derive_the_root_from_the_rule():
    fractal = Goal.objects.create(type=GoalType.MID_TERM, name="Mid-term fractal")
    assert fractal.root_id == fractal.pk
    activity = ActivityDefinitionFactory(root=fractal)
    metric = MetricDefinition.objects.create(activity=activity, name="Reps", unit="")
    assert metric.root_id == fractal.pk


def _latest_state():
    from django.db.migrations.loader import MigrationLoader

    return MigrationLoader(connection).project_state()


def _failing_enforcement(report) -> dict[str, tuple[str, ...]]:
    return {
        check.table: check.sample_ids
        for check in report.checks
        if not check.ok and check.check.startswith("the database enforces")
    }


@pytest.mark.sqlite_only
def test_the_enforcement_survives_a_later_table_rebuild_on_sqlite(value):
    """Django rebuilds a SQLite table from the model state on AlterField; the constraints are in
    that state, so the rebuilt table has them. Removed from the state, verify_root_ids says so."""
    from django.db import migrations, models

    before = _latest_state()
    widen = migrations.AlterField("goal", "name", models.CharField(max_length=300))
    after = before.clone()
    widen.state_forwards("goals", after)
    with connection.schema_editor() as editor:
        widen.database_forwards("goals", editor, before, after)
    try:
        assert root_id_report().ok
        _refused("UPDATE metric_values SET root_id = %s", [UltimateGoalFactory().pk])
        drop = migrations.RemoveConstraint("goal", "goals_root_follows_parent")
        dropped = after.clone()
        drop.state_forwards("goals", dropped)
        with connection.schema_editor() as editor:
            drop.database_forwards("goals", editor, after, dropped)
        assert _failing_enforcement(root_id_report()) == {"goals": ("goals_root_follows_parent",)}
        with connection.schema_editor() as editor:
            drop.database_backwards("goals", editor, dropped, after)
    finally:
        with connection.schema_editor() as editor:
            widen.database_backwards("goals", editor, after, before)
    assert root_id_report().ok


@pytest.mark.postgresql_only
def test_verify_names_a_missing_constraint_on_postgresql(value):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE metric_values DROP CONSTRAINT metric_values_root_follows_activity_instance"
        )
        failing = _failing_enforcement(root_id_report())
        transaction.set_rollback(True)
    assert failing == {"metric_values": ("metric_values_root_follows_activity_instance",)}
    assert root_id_report().ok
