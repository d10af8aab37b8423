"""The parent picker names goals by their place in the tree and offers fitting types first."""

from __future__ import annotations

import pytest
from django.urls import reverse

from goals.models import GoalType
from goals.selectors import PLACE_SEPARATOR
from tests.factories import (
    LongTermGoalFactory,
    MidTermGoalFactory,
    ShortTermGoalFactory,
    UltimateGoalFactory,
)

pytestmark = pytest.mark.django_db


def pick_parent(client, term: str, **params) -> list[str]:
    response = client.get(
        reverse("admin:autocomplete"),
        {"term": term, "app_label": "goals", "model_name": "goal", "field_name": "parent"} | params,
    )
    assert response.status_code == 200
    return [result["text"] for result in response.json()["results"]]


def test_goals_of_the_same_name_are_told_apart_by_their_place(admin_client):
    """Two "Next step" goals are offered with their ancestors: Fitness, Strength or Running."""
    fitness = UltimateGoalFactory(name="Fitness")
    MidTermGoalFactory(name="Next step", parent__name="Strength", parent__parent=fitness)
    MidTermGoalFactory(name="Next step", parent__name="Running", parent__parent=fitness)
    labels = pick_parent(admin_client, "Next step")
    assert sorted(labels) == [
        PLACE_SEPARATOR.join(["Fitness", branch, "Next step"]) for branch in ("Running", "Strength")
    ]


def test_goals_of_the_fitting_type_come_first(admin_client):
    """For a short-term goal, mid-term goals are offered before the rest (newer ones included)."""
    root = UltimateGoalFactory(name="Plan")
    MidTermGoalFactory(name="Plan mid", parent__parent=root)
    LongTermGoalFactory(name="Plan long newer", parent=root)
    ShortTermGoalFactory(name="Plan short newest", parent__parent__parent=root)
    labels = pick_parent(admin_client, "Plan", goal_type=GoalType.SHORT_TERM)
    assert labels[0].endswith("Plan mid")
    assert len(labels) == 4
    # A practice session's picker asks for short-term goals first, by its own model.
    labels = pick_parent(admin_client, "Plan", model_name="practicesession")
    assert labels[0].endswith("Plan short newest")


def test_the_chosen_parent_is_shown_by_its_place(admin_client):
    """A goal's form names its current parent by its place in the tree, and loads the script
    that sends the form's type along with the picker's requests."""
    short = ShortTermGoalFactory(name="Deadlift", parent__name="Lift more")
    page = admin_client.get(reverse("admin:goals_goal_change", args=[short.pk])).content.decode()
    place = PLACE_SEPARATOR.join([short.root.name, short.parent.parent.name, "Lift more"])
    assert f'<option value="{short.parent_id}" selected>{place}</option>' in page
    assert "goals/parent_picker.js" in page


def test_the_picker_offers_only_the_users_own_goals(alice, bob):
    """Another owner's goals are never offered, whatever the type asked for."""
    labels = pick_parent(alice.client, "", goal_type=GoalType.PRACTICE_SESSION)
    assert labels and all("Bob" not in label for label in labels)
    assert labels[0].endswith("Alice short")
