"""The admin on broken data and invalid input: pages render, forms answer with errors, never 500."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from goals.models import Goal
from goals.selectors import MAX_TREE_DEPTH

pytestmark = pytest.mark.django_db


def _set_parent(goal_id: str, parent_id: str) -> None:
    # Raw SQL: the model never lets a goal become its own ancestor, legacy files did.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE goals SET parent_id = %s WHERE id = %s", [parent_id, goal_id])


def test_the_goal_list_renders_goals_whose_parents_form_a_cycle(alice, admin_client):
    """Two goals that are each other's parent and a goal that is its own parent still list."""
    first = Goal.objects.create(type="MidTermGoal", name="Cycle first", parent=alice.fractal)
    second = Goal.objects.create(type="ShortTermGoal", name="Cycle second", parent=first)
    alone = Goal.objects.create(type="LongTermGoal", name="Own parent", parent=alice.fractal)
    _set_parent(first.pk, second.pk)
    _set_parent(alone.pk, alone.pk)
    response = admin_client.get(reverse("admin:goals_goal_changelist"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Cycle first" in page and "Cycle second" in page and "Own parent" in page
    # The walk up the tree stops at MAX_TREE_DEPTH instead of going round for ever.
    assert f"padding-left: {1.5 * MAX_TREE_DEPTH}em" in page


def test_the_page_of_a_goal_that_is_its_own_parent_renders(alice, admin_client):
    """A goal whose parent is itself opens in the admin, listing itself as its child."""
    alone = Goal.objects.create(type="LongTermGoal", name="Own parent", parent=alice.fractal)
    _set_parent(alone.pk, alone.pk)
    response = admin_client.get(reverse("admin:goals_goal_change", args=[alone.pk]))
    assert response.status_code == 200
    assert f'href="{reverse("admin:goals_goal_change", args=[alone.pk])}">Own parent</a>' in (
        response.content.decode()
    )
