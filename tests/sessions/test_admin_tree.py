"""A fractal's tree page: tree order, folded sessions, constant queries, links, isolation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from goals.models import Goal, PracticeSession, PracticeSessionGoal
from goals.selectors import PLACE_SEPARATOR
from goals.services import goal_delete
from tests.admin_forms import page_text
from tests.factories import (
    LongTermGoalFactory,
    MidTermGoalFactory,
    PracticeSessionFactory,
    ShortTermGoalFactory,
    UltimateGoalFactory,
)

pytestmark = pytest.mark.django_db


def tree_of(client, fractal, **params) -> str:
    response = client.get(reverse("admin:goals_fractal_tree", args=[fractal.pk]), params)
    assert response.status_code == 200
    return response.content.decode()


def goal_ids_in_order(page: str) -> list[str]:
    return re.findall(r'<li id="goal-([^"]+)"', page)


def test_goals_come_in_tree_order_each_under_its_parent(admin_client):
    """Each goal follows its parent; siblings by sort_order, then by creation."""
    root = UltimateGoalFactory(name="Fitness")
    later = LongTermGoalFactory(name="Endurance", parent=root, sort_order=2)
    first = LongTermGoalFactory(name="Strength", parent=root, sort_order=1)
    mid_b = MidTermGoalFactory(name="Deadlift", parent=first)
    mid_a = MidTermGoalFactory(name="Squat", parent=first)
    run = MidTermGoalFactory(name="Run 10k", parent=later)
    page = tree_of(admin_client, root)
    assert goal_ids_in_order(page) == [root.pk, first.pk, mid_b.pk, mid_a.pk, later.pk, run.pk]
    # Nested: Strength's list closes after its mid-term goals, before Endurance opens.
    strength = page.index(f'id="goal-{first.pk}"')
    assert strength < page.index("Deadlift") < page.index("Squat") < page.index("Endurance")
    assert page.count("<details open>") == 3  # the branches with children, unfolded


def test_sessions_are_folded_and_counted_under_their_goals(admin_client):
    """A goal's sessions (children, and sessions without a parent linked to it) sit in one
    folded list with their count; a session's own goals hang under it."""
    short = ShortTermGoalFactory(name="Next step")
    now = timezone.now()
    older = PracticeSessionFactory(name="Monday", parent=short, session_start=now - timedelta(2))
    newer = PracticeSessionFactory(name="Wednesday", parent=short, session_start=now)
    linked = PracticeSession.objects.create(name="Linked only", root=short.root, session_start=now)
    PracticeSessionGoal.objects.create(practice_session=linked, short_term_goal=short)
    page = tree_of(admin_client, short.root)
    assert "<summary>3 practice sessions</summary>" in page
    assert "<details><summary>3 practice sessions" in page  # folded
    assert page.index("Wednesday") < page.index("Monday")  # newest first
    assert "Linked only" in page
    assert f'id="goal-{older.pk}"' in page and f'id="goal-{newer.pk}"' in page


def test_focus_opens_the_sessions_around_a_goal(admin_client):
    """Opened from a session's page, the tree unfolds the sessions list holding it."""
    session = PracticeSessionFactory(name="Tuesday")
    page = tree_of(admin_client, session.root, focus=session.pk)
    assert "<details open><summary>1 practice session</summary>" in page
    assert '<mark class="goal-focus">' in page


def test_the_type_is_a_short_badge_with_its_label(admin_client):
    """Each line starts with a two- or three-letter type, titled with the type's name."""
    short = ShortTermGoalFactory(name="A goal with a rather long name that would wrap")
    page = tree_of(admin_client, short.root)
    assert '<span class="goal-type" title="Short-term goal">ST</span>' in page
    assert 'title="A goal with a rather long name that would wrap"' in page


def test_deleted_goals_are_left_out_and_orphans_listed_apart(admin_client):
    """Deleted goals are not in the tree; a live row under a deleted goal is listed apart."""
    short = ShortTermGoalFactory(name="Gone goal")
    kept = ShortTermGoalFactory(name="Kept goal", parent=short.parent)
    goal_delete(goal=short)
    PracticeSession.objects.create(name="Stray session", root=short.root)
    page = tree_of(admin_client, short.root)
    assert "Gone goal" not in page and "Kept goal" in page
    assert "not reached from its root" in page
    assert page.index("not reached") < page.index("Stray session")
    assert kept.pk in goal_ids_in_order(page)


def _fractal_of(size: int) -> Goal:
    root = UltimateGoalFactory()
    for _ in range(size):
        short = ShortTermGoalFactory(parent__parent__parent=root)
        PracticeSessionFactory(parent=short)
    return root


def test_the_whole_tree_costs_the_same_queries_at_two_sizes(
    admin_client, django_assert_num_queries
):
    """A fractal of 10 or 400 goals and sessions loads in one page at one query count."""
    small = _fractal_of(2)
    tree_of(admin_client, small)
    with CaptureQueriesContext(connection) as queries:
        tree_of(admin_client, small)
    big = _fractal_of(100)
    assert Goal.objects.filter(root=big).count() > 400
    with django_assert_num_queries(len(queries)):
        page = tree_of(admin_client, big)
    assert len(goal_ids_in_order(page)) == Goal.objects.filter(root=big).count()


def test_the_tree_is_linked_from_the_fractal_list_and_a_goals_page(admin_client):
    """The fractal list has a Tree link per fractal; a goal's page opens the tree at it."""
    short = ShortTermGoalFactory(name="Next step")
    tree = reverse("admin:goals_fractal_tree", args=[short.root_id])
    fractals = admin_client.get(reverse("admin:goals_fractal_changelist")).content.decode()
    assert f'href="{tree}"' in fractals
    page = admin_client.get(reverse("admin:goals_goal_change", args=[short.pk])).content.decode()
    assert f"{tree}?focus={short.pk}#goal-{short.pk}" in page
    ancestors = [short.root.name, short.parent.parent.name, short.parent.name, "Next step"]
    assert PLACE_SEPARATOR.join(ancestors) in page


def test_another_owners_tree_answers_not_found(alice, bob):
    """Staff open their own fractal's tree; another owner's is a 404, as an unknown id."""
    assert tree_of(alice.client, alice.fractal).count(">Alice short</a>") == 1
    url = reverse("admin:goals_fractal_tree", args=[bob.fractal.pk])
    assert alice.client.get(url).status_code == 404
    unknown = reverse("admin:goals_fractal_tree", args=["no-such-id"])
    assert alice.client.get(unknown).status_code == 404
    assert "Bob" not in page_text(alice.client.get(reverse("admin:goals_goal_changelist")))


def test_a_deleted_fractals_tree_says_where_to_restore_it(admin_client):
    """The tree of a deleted fractal points to the recycle bin instead of listing rows."""
    root = UltimateGoalFactory(name="Old plan")
    goal_delete(goal=root)
    page = tree_of(admin_client, Goal.all_objects.get(pk=root.pk))
    assert "This fractal was deleted" in page and reverse("admin:recycle_bin") in page
