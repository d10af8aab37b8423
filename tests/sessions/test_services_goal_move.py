"""Moving a goal to another fractal moves the root of everything that hangs off it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from goals.models import Goal, PracticeSession, PracticeSessionGoal
from goals.services import goal_move
from goals_project.maintenance.verification import root_id_report
from sessions.models import ActivityInstance, MetricValue
from tests.factories import (
    ActivityInstanceFactory,
    LongTermGoalFactory,
    MidTermGoalFactory,
    ShortTermGoalFactory,
    UltimateGoalFactory,
    short_term_goal_with_sessions,
)

pytestmark = pytest.mark.django_db


def test_move_carries_subtree_sessions_instances_and_values():
    """The subtree, its sessions, their activity instances and metric values take the new root."""
    short = short_term_goal_with_sessions(3)
    linked_only = PracticeSession.objects.create(name="Linked", root=short.root)
    PracticeSessionGoal.objects.create(practice_session=linked_only, short_term_goal=short)
    target = MidTermGoalFactory()
    goal_move(goal=short, new_parent=target)
    new_root = target.root_id
    assert set(Goal.objects.filter(parent=short).values_list("root_id", flat=True)) == {new_root}
    assert Goal.objects.get(pk=linked_only.pk).root_id == new_root
    assert set(ActivityInstance.objects.values_list("root_id", flat=True)) == {new_root}
    assert set(MetricValue.objects.values_list("root_id", flat=True)) == {new_root}
    assert root_id_report().ok


def test_a_session_linked_to_goals_moved_one_by_one_follows_the_last():
    """A session without a parent linked to two short-term goals of one fractal stays with the
    one left behind when the other moves, and follows when that one moves too: its root is
    always the root of a goal it is linked to, with its instances."""
    long = LongTermGoalFactory()
    mid = MidTermGoalFactory(parent=long)
    first, second = ShortTermGoalFactory(parent=mid), ShortTermGoalFactory(parent=mid)
    session = PracticeSession.objects.create(name="Shared", root=first.root)
    for short in (first, second):
        PracticeSessionGoal.objects.create(practice_session=session, short_term_goal=short)
    instance = ActivityInstanceFactory(practice_session=session)
    target = MidTermGoalFactory()
    goal_move(goal=first, new_parent=target)
    assert Goal.objects.get(pk=session.pk).root_id == long.root_id
    assert root_id_report().ok
    goal_move(goal=second, new_parent=target)
    assert Goal.objects.get(pk=session.pk).root_id == target.root_id
    assert ActivityInstance.objects.get(pk=instance.pk).root_id == target.root_id
    assert root_id_report().ok


def test_move_takes_constant_queries():
    """The number of queries does not grow with the subtree."""
    small, large = short_term_goal_with_sessions(1), short_term_goal_with_sessions(6)
    target = MidTermGoalFactory()
    with CaptureQueriesContext(connection) as moving_small:
        goal_move(goal=small, new_parent=target)
    with CaptureQueriesContext(connection) as moving_large:
        goal_move(goal=large, new_parent=target)
    # One of them finds the sessions taken along whose template would stay behind.
    assert len(moving_large) == len(moving_small) <= 13


def test_move_under_own_subtree_is_refused():
    """A goal cannot move under one of its descendants."""
    mid = MidTermGoalFactory()
    child = ShortTermGoalFactory(parent=mid)
    with pytest.raises(ValidationError, match="cannot move under itself or one of its desc"):
        goal_move(goal=mid, new_parent=child)
    with pytest.raises(ValidationError, match="cannot move under itself"):
        goal_move(goal=mid, new_parent=mid)
    assert Goal.objects.get(pk=mid.pk).parent_id != child.pk


def test_ultimate_goal_cannot_move():
    """An ultimate goal stays the top of its fractal."""
    with pytest.raises(ValidationError, match="root stays a root"):
        goal_move(goal=UltimateGoalFactory(), new_parent=LongTermGoalFactory())
