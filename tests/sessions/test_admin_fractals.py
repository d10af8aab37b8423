"""The fractal admin: every root goal is a fractal, whichever of the four root types it has."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from goals.models import Goal, GoalType, SessionTemplate
from goals.services import goal_delete
from tests.factories import MidTermGoalFactory, ShortTermGoalFactory
from tests.sessions.conftest import make_world, staff_user

pytestmark = pytest.mark.django_db


def long_term_fractal(name: str, owner=None) -> Goal:
    """A fractal rooted at a long-term goal, with a mid-term goal and a completed short-term one."""
    root = Goal.objects.create(type=GoalType.LONG_TERM, name=name, owner=owner)
    mid = MidTermGoalFactory(parent=root, name=f"{name} mid")
    ShortTermGoalFactory(parent=mid, name=f"{name} short", completed=True)
    return root


def test_the_fractal_list_holds_roots_of_every_root_type_and_nothing_else(admin_client):
    """Roots of the four root types are listed; a long-term goal under an ultimate one is not."""
    inside = MidTermGoalFactory(name="Inside mid")
    roots = [
        Goal.objects.create(type=goal_type, name=f"Root {goal_type}")
        for goal_type in (GoalType.LONG_TERM, GoalType.MID_TERM, GoalType.SHORT_TERM)
    ]
    page = admin_client.get(reverse("admin:goals_fractal_changelist")).content.decode()
    for root in [*roots, inside.root]:
        assert f">{root.name}<" in page
        assert reverse("admin:goals_fractal_analytics", args=[root.pk]) in page
    assert inside.name not in page and inside.parent.name not in page
    filtered = admin_client.get(reverse("admin:goals_fractal_changelist"), {"type": "MidTermGoal"})
    assert f">Root {GoalType.MID_TERM}<" in filtered.content.decode()
    assert list(filtered.context["cl"].result_list) == [roots[1]]


def test_a_long_term_root_has_its_analytics_page(alice):
    """The analytics of a long-term root count its goals done of total; only its owner sees it."""
    root = long_term_fractal("Alice marathon", owner=alice.user)
    url = reverse("admin:goals_fractal_analytics", args=[root.pk])
    response = alice.client.get(url)
    assert response.status_code == 200
    assert response.context["fractal"] == root
    assert response.context["completion"] == [
        ("Long-term goal", 0, 1),
        ("Mid-term goal", 0, 1),
        ("Short-term goal", 1, 1),
    ]
    assert "Analytics of Alice marathon" in response.content.decode()
    bob = make_world(staff_user("bob"), "Bob")
    assert bob.client.get(url).status_code == 404


def test_owner_assignment_gives_a_long_term_root_to_a_user(alice):
    """`assign_fractal_owner --root ID` takes a long-term root, which then shows in the owner's
    fractal list; the id of a goal inside a fractal is refused."""
    root = long_term_fractal("Ownerless marathon")
    page = alice.client.get(reverse("admin:goals_fractal_changelist")).content.decode()
    assert "Ownerless marathon" not in page
    out = StringIO()
    call_command("assign_fractal_owner", "alice", root=[root.pk], stdout=out)
    assert "1 fractal(s) now owned by alice." in out.getvalue()
    assert Goal.objects.get(pk=root.pk).owner == alice.user
    page = alice.client.get(reverse("admin:goals_fractal_changelist")).content.decode()
    assert "Ownerless marathon" in page


def test_a_staff_user_creating_a_root_of_any_root_type_owns_it(alice):
    """A staff user's new long-term root (goal form) and short-term root (fractal form) are
    theirs."""
    response = alice.client.post(
        reverse("admin:goals_goal_add"),
        {"name": "Alice long root", "type": GoalType.LONG_TERM, "sort_order": 0},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    response = alice.client.post(
        reverse("admin:goals_fractal_add"),
        {"name": "Alice short root", "type": GoalType.SHORT_TERM},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    for name in ("Alice long root", "Alice short root"):
        created = Goal.objects.get(name=name)
        assert (created.owner, created.root_id) == (alice.user, created.pk)


def test_the_fractal_form_offers_the_root_types_only(alice):
    """A fractal cannot be created as a goal that needs a parent."""
    url = reverse("admin:goals_fractal_add")
    choices = dict(alice.client.get(url).context["adminform"].form.fields["type"].choices)
    assert set(choices) - {""} == {"UltimateGoal", "LongTermGoal", "MidTermGoal", "ShortTermGoal"}
    response = alice.client.post(url, {"name": "Alice micro", "type": GoalType.MICRO})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Goal.all_objects.filter(name="Alice micro").exists()


def test_a_rows_fractal_is_chosen_among_roots_of_every_root_type(alice):
    """A template's fractal may be a long-term root: offered in the choices and autocomplete,
    saved; a goal inside a fractal is not a choice."""
    root = long_term_fractal("Alice marathon", owner=alice.user)
    url = reverse("admin:goals_sessiontemplate_add")
    choices = alice.client.get(url).context["adminform"].form.fields["root"].queryset
    assert set(choices) == {alice.fractal, root}
    response = alice.client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "goals",
            "model_name": "sessiontemplate",
            "field_name": "root",
            "term": "Alice",
        },
    )
    names = {result["text"] for result in json.loads(response.content)["results"]}
    assert names == {"Alice fractal", "Alice marathon"}
    data = {"name": "Marathon plan", "template_data": '{"activities": []}'}
    refused = alice.client.post(url, {**data, "root": root.children.get().pk})
    assert "Select a valid choice" in refused.content.decode()
    assert alice.client.post(url, {**data, "root": root.pk}).status_code == 302
    assert SessionTemplate.objects.get(name="Marathon plan").root_id == root.pk


def test_a_deleted_fractal_is_listed_once_in_the_recycle_bin(admin_client):
    """A deleted root shows under Goals, not a second time as a fractal."""
    root = long_term_fractal("Dropped marathon")
    goal_delete(goal=root)
    response = admin_client.get(reverse("admin:recycle_bin"))
    assert len(response.context["entries"]) == 1
    assert response.content.decode().count(">Dropped marathon<") == 1
