"""Soft delete with cascade, exact restore, and names reusable after delete."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from goals.models import ActivityDefinition, Goal
from goals.services import goal_delete, goal_restore
from goals_project.bases.services import row_restore
from sessions.models import ActivityInstance, MetricValue
from tests.factories import (
    ActivityDefinitionFactory,
    short_term_goal_with_sessions,
)

pytestmark = pytest.mark.django_db


def test_deleting_a_goal_soft_deletes_its_subtree_and_sessions():
    """The goal, its sessions and their activity instances are stamped, not removed."""
    short = short_term_goal_with_sessions(2)
    result = goal_delete(goal=short)
    assert result.counts == {"goals.Goal": 3, "practice_sessions.ActivityInstance": 2}
    assert not Goal.objects.filter(pk=short.pk).exists()
    assert Goal.all_objects.filter(pk=short.pk).exists()
    assert Goal.deleted_objects.count() == 3
    assert ActivityInstance.objects.count() == 0
    assert ActivityInstance.all_objects.count() == 2
    assert MetricValue.objects.count() == 2  # kept; they hang off the deleted instances


def test_restore_brings_back_exactly_what_the_deletion_took():
    """A session deleted on its own earlier stays deleted when its goal is restored."""
    short = short_term_goal_with_sessions(3)
    earlier = Goal.objects.filter(parent=short).first()
    goal_delete(goal=earlier)
    goal_delete(goal=Goal.all_objects.get(pk=short.pk))
    goal_restore(goal=Goal.all_objects.get(pk=short.pk))
    assert Goal.objects.filter(parent=short).count() == 2
    assert Goal.deleted_objects.get().pk == earlier.pk
    assert ActivityInstance.deleted_objects.get().practice_session_id == earlier.pk


def test_delete_then_restore_leaves_every_row_as_it_was():
    """No foreign key or root_id is nulled by the round trip."""
    short = short_term_goal_with_sessions(2)
    before = sorted(
        ActivityInstance.all_objects.values_list("id", "practice_session_id", "root_id")
    )
    goals_before = sorted(Goal.all_objects.values_list("id", "parent_id", "root_id"))
    goal_delete(goal=short)
    goal_restore(goal=Goal.all_objects.get(pk=short.pk))
    assert (
        sorted(ActivityInstance.all_objects.values_list("id", "practice_session_id", "root_id"))
        == before
    )
    assert sorted(Goal.all_objects.values_list("id", "parent_id", "root_id")) == goals_before
    assert Goal.deleted_objects.count() == 0


def test_cascade_takes_constant_queries(django_assert_num_queries):
    """The number of queries does not grow with the subtree."""
    small, large = short_term_goal_with_sessions(1), short_term_goal_with_sessions(5)
    with django_assert_num_queries(4):
        goal_delete(goal=small)
    with django_assert_num_queries(4):
        goal_delete(goal=large)


def test_restore_inside_a_deleted_parent_is_refused():
    """Restoring a session whose goal is still deleted says what to restore first."""
    short = short_term_goal_with_sessions(1)
    session = Goal.objects.get(parent=short)
    goal_delete(goal=short)
    with pytest.raises(ValidationError, match=r"restore '.*' first"):
        goal_restore(goal=Goal.all_objects.get(pk=session.pk))


def test_names_are_reusable_after_delete_and_restore_refuses_a_taken_name():
    """A deleted definition's name can be reused; restoring it then is refused clearly."""
    first = ActivityDefinitionFactory(name="Squat")
    with transaction.atomic(), pytest.raises(IntegrityError):
        ActivityDefinition.objects.create(name="Squat", root=first.root)
    first.delete()
    ActivityDefinition.objects.create(name="Squat", root=first.root)
    deleted = ActivityDefinition.all_objects.get(pk=first.pk)
    with pytest.raises(ValidationError, match="name is used by another live row"):
        row_restore(row=deleted)
    assert ActivityDefinition.all_objects.get(pk=first.pk).deleted_at is not None
