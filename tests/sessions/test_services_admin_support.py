"""Services behind the admin: purge, linked sessions in the cascade, definitions, owners."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from goals.models import Goal, GoalType, MetricDefinition, PracticeSessionGoal
from goals.services import goal_delete, goal_purge, goal_restore
from goals_project.bases.exit_codes import Exit
from goals_project.bases.services import row_delete, row_purge, row_restore, rows_purge_in_order
from sessions.models import ActivityInstance, MetricValue
from sessions.services import activity_timer_start
from tests.factories import (
    ActivityInstanceFactory,
    MetricDefinitionFactory,
    MetricValueFactory,
    PracticeSessionFactory,
    ShortTermGoalFactory,
    UltimateGoalFactory,
    short_term_goal_with_sessions,
)

pytestmark = pytest.mark.django_db


def parentless_session_linked_to(*goals) -> Goal:
    """A session without a parent that belongs to goals only through practice_session_goals."""
    session = PracticeSessionFactory(parent=None, root=goals[0].root)
    for goal in goals:
        PracticeSessionGoal.objects.create(practice_session=session, short_term_goal=goal)
    ActivityInstanceFactory(practice_session=session)
    return session


def test_the_cascade_takes_sessions_linked_only_to_the_subtree():
    """A parentless session linked only to the deleted goal goes and comes back with it."""
    short = ShortTermGoalFactory()
    session = parentless_session_linked_to(short)
    result = goal_delete(goal=short)
    assert result.counts == {"goals.Goal": 2, "practice_sessions.ActivityInstance": 1}
    assert Goal.all_objects.get(pk=session.pk).deleted_at is not None
    goal_restore(goal=Goal.all_objects.get(pk=short.pk))
    assert Goal.objects.filter(pk=session.pk).exists()
    assert ActivityInstance.objects.filter(practice_session=session).exists()


def test_a_session_also_linked_elsewhere_stays():
    """A parentless session serving a goal outside the subtree is not deleted with it."""
    short = ShortTermGoalFactory()
    other = ShortTermGoalFactory(parent=short.parent)
    session = parentless_session_linked_to(short, other)
    goal_delete(goal=short)
    assert Goal.objects.filter(pk=session.pk).exists()


def test_purge_removes_a_deleted_fractal_and_everything_in_it():
    """Purging a deleted fractal removes its goals, sessions, values and definitions, only those."""
    short = short_term_goal_with_sessions(2)
    fractal = Goal.objects.get(pk=short.root_id)
    kept = MetricValueFactory()
    goal_delete(goal=fractal)
    result = goal_purge(goal=Goal.all_objects.get(pk=fractal.pk))
    assert result.counts["practice_sessions.MetricValue"] == 2
    assert not Goal.all_objects.filter(root_id=fractal.pk).exists()
    assert not MetricDefinition.all_objects.filter(root_id=fractal.pk).exists()
    assert list(MetricValue.objects.all()) == [kept]


def test_purge_refuses_a_live_goal_and_changes_nothing():
    """Only deleted goals can be purged."""
    short = short_term_goal_with_sessions(1)
    with pytest.raises(ValidationError, match="is not deleted: delete it before purging it"):
        goal_purge(goal=short)
    assert Goal.objects.filter(pk=short.pk).exists()


def test_purge_stops_when_rows_outside_still_refer_to_it():
    """A definition used by another fractal's activity cannot be purged; nothing is removed."""
    metric = MetricDefinitionFactory()
    MetricValueFactory(metric_definition=metric, activity_instance=ActivityInstanceFactory())
    row_delete(row=metric)
    with pytest.raises(ValidationError, match="rows outside it still refer to it"):
        row_purge(row=MetricDefinition.all_objects.get(pk=metric.pk))
    assert MetricDefinition.all_objects.filter(pk=metric.pk).exists()


def test_a_definition_takes_its_metrics_along_and_brings_them_back():
    """Deleting an activity definition deletes its metric definitions; restore brings them back."""
    metric = MetricDefinitionFactory()
    activity = metric.activity
    result = row_delete(row=activity)
    assert result.counts["goals.MetricDefinition"] == 1
    assert not MetricDefinition.objects.filter(pk=metric.pk).exists()
    row_restore(row=type(activity).all_objects.get(pk=activity.pk))
    assert MetricDefinition.objects.filter(pk=metric.pk).exists()


def test_restoring_a_metric_of_a_deleted_activity_says_what_to_restore():
    """A metric definition is not restored while its activity is deleted."""
    metric = MetricDefinitionFactory()
    row_delete(row=metric.activity)
    with pytest.raises(ValidationError, match=r"restore '.*' first"):
        row_restore(row=MetricDefinition.all_objects.get(pk=metric.pk))


def test_a_started_timer_cannot_start_again():
    """Starting twice is refused with the time it was started."""
    instance = ActivityInstanceFactory()
    activity_timer_start(instance=instance)
    with pytest.raises(ValidationError, match="was already started at"):
        activity_timer_start(instance=instance)


def test_assign_fractal_owner_gives_unowned_fractals_to_a_user():
    """Without --root, every fractal without an owner goes to the user; owned ones stay."""
    alice = User.objects.create_user("alice")
    bob = User.objects.create_user("bob")
    free = UltimateGoalFactory()
    taken = UltimateGoalFactory(owner=bob)
    out = StringIO()
    call_command("assign_fractal_owner", "alice", stdout=out)
    assert "1 fractal(s) now owned by alice." in out.getvalue()
    assert Goal.objects.get(pk=free.pk).owner == alice
    assert Goal.objects.get(pk=taken.pk).owner == bob


def test_assign_fractal_owner_refuses_to_take_without_reassign():
    """A named fractal of another user is left alone unless --reassign is given."""
    alice = User.objects.create_user("alice")
    taken = UltimateGoalFactory(owner=User.objects.create_user("bob"))
    with pytest.raises(CommandError, match="Add --reassign to take them") as error:
        call_command("assign_fractal_owner", "alice", "--root", taken.pk, stdout=StringIO())
    assert error.value.returncode == Exit.OWNED_ELSEWHERE
    call_command(
        "assign_fractal_owner", "alice", "--root", taken.pk, "--reassign", stdout=StringIO()
    )
    assert Goal.objects.get(pk=taken.pk).owner == alice


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["nobody"], "No user named 'nobody'", Exit.USAGE),
        (
            ["alice", "--root", "not-a-root"],
            "Not the id of a fractal.s root goal: not-a-root",
            Exit.USAGE,
        ),
    ],
)
def test_assign_fractal_owner_explains_bad_arguments(args, message, code):
    """An unknown user or root is a clear error, with the exit status of a wrong argument."""
    User.objects.create_user("alice")
    with pytest.raises(CommandError, match=message) as error:
        call_command("assign_fractal_owner", *args, stdout=StringIO())
    assert error.value.returncode == code


def test_only_ultimate_goals_have_owners():
    """The database refuses an owner on a goal that is not a fractal's root."""
    from django.db import IntegrityError, transaction

    short = ShortTermGoalFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Goal.objects.filter(pk=short.pk).update(owner=User.objects.create_user("carol"))
    assert short.type == GoalType.SHORT_TERM


def test_the_cascade_takes_the_goals_below_a_session_linked_only_to_the_subtree():
    """What hangs below a parentless session goes, comes back and is purged with it."""
    short = ShortTermGoalFactory()
    session = parentless_session_linked_to(short)
    immediate = Goal.objects.create(
        type=GoalType.IMMEDIATE, name="Warm up", parent=session, root_id=session.root_id
    )
    result = goal_delete(goal=short)
    assert result.counts["goals.Goal"] == 3
    assert Goal.all_objects.get(pk=immediate.pk).deleted_at is not None
    goal_restore(goal=Goal.all_objects.get(pk=short.pk))
    assert Goal.objects.filter(pk=immediate.pk).exists()
    goal_delete(goal=Goal.objects.get(pk=short.pk))
    purged = goal_purge(goal=Goal.all_objects.get(pk=short.pk))
    assert purged.counts["goals.Goal"] == 3
    assert not Goal.all_objects.filter(pk__in=[session.pk, immediate.pk]).exists()


def test_purging_a_goal_moves_a_session_left_linked_to_another_fractal_there():
    """A parentless session linked to the purged goal and to another fractal's goal takes that
    fractal's root, with its instances: its root is always one of its linked goals'."""
    short = ShortTermGoalFactory()
    elsewhere = ShortTermGoalFactory()
    session = parentless_session_linked_to(short, elsewhere)
    assert session.root_id == short.root_id != elsewhere.root_id
    goal_delete(goal=short)
    goal_purge(goal=Goal.all_objects.get(pk=short.pk))
    assert Goal.objects.get(pk=session.pk).root_id == elsewhere.root_id
    instance = ActivityInstance.objects.get(practice_session=session)
    assert instance.root_id == elsewhere.root_id
    out = StringIO()
    call_command("verify_root_ids", stdout=out)
    assert "FAIL" not in out.getvalue()


def test_a_refused_purge_names_the_reference_that_stops_it():
    """The refusal names the column that still points at a purged row (a composite key's every
    column on SQLite, the constraint on PostgreSQL), not the first column of some key."""
    short = ShortTermGoalFactory()
    child = PracticeSessionFactory(parent=short)
    with pytest.raises(ValidationError, match="parent") as refused:
        rows_purge_in_order([Goal._base_manager.filter(pk=short.pk)], what=str(short))
    assert "root_id contains" not in str(refused.value)
    assert Goal.objects.filter(pk__in=[short.pk, child.pk]).count() == 2
