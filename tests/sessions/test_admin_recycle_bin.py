"""The recycle bin per deletion: one entry per delete with its counts, Restore and Purge on the
entry (previewed by the code that acts), the migration's placeholders apart, isolation."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from goals.models import Goal, LegacyRepair, MetricDefinition, PracticeSession, PracticeSessionGoal
from goals.services import goal_delete
from goals_project.bases.services import row_delete
from sessions.models import ActivityInstance, MetricValue, Program
from tests.admin_forms import page_text
from tests.factories import (
    MetricDefinitionFactory,
    MidTermGoalFactory,
    PracticeSessionFactory,
    ShortTermGoalFactory,
    UltimateGoalFactory,
    short_term_goal_with_sessions,
)

pytestmark = pytest.mark.django_db
BIN = "admin:recycle_bin"


def action_url(row, action: str) -> str:
    opts = row._meta.concrete_model._meta
    return reverse(
        "admin:recycle_bin_action", args=[opts.app_label, opts.model_name, row.pk, action]
    )


def bin_page(client, **params) -> str:
    response = client.get(reverse(BIN), params)
    assert response.status_code == 200
    return page_text(response)


def entries(page: str) -> list[str]:
    return re.findall(r'<tr class="deletion">(.*?)</tr>', page, re.S)


def mid_term_goal_with_branches(branches: int, sessions: int) -> Goal:
    mid = MidTermGoalFactory(name="Get stronger")
    for _ in range(branches):
        short = ShortTermGoalFactory(parent=mid)
        for _ in range(sessions):
            PracticeSessionFactory(parent=short)
            ActivityInstance.objects.create(
                practice_session=Goal.objects.filter(parent=short).last(),
                activity_definition=MetricDefinitionFactory(activity__root=mid.root).activity,
            )
    return mid


def test_one_delete_is_one_entry_with_its_counts(admin_client):
    """A mid-term goal deleted with 2 short-term goals, 4 sessions and 4 activities is one entry
    naming the goal, when, and the rows of each kind; its rows are not listed one by one."""
    mid = mid_term_goal_with_branches(2, 2)
    goal_delete(goal=mid)
    page = bin_page(admin_client)
    [entry] = entries(page)
    assert ">Get stronger</a>" in entry and "Mid-term goal" in entry
    assert "7 goals, 4 activity instances" in entry
    assert action_url(mid, "restore") in entry and action_url(mid, "purge") in entry
    assert page.count("Short-term goal") == 0


def test_deletions_are_listed_newest_first_each_once(admin_client):
    """Two deletions are two entries, the newer first; a session linked only to a deleted goal
    and a fractal's definitions deleted with it are not entries of their own."""
    short = ShortTermGoalFactory(name="First gone")
    linked = PracticeSession.objects.create(name="Linked only", root=short.root)
    PracticeSessionGoal.objects.create(practice_session=linked, short_term_goal=short)
    goal_delete(goal=short)
    root = UltimateGoalFactory(name="Second gone")
    MetricDefinitionFactory(activity__root=root, name="Reps")
    goal_delete(goal=root)
    found = entries(bin_page(admin_client))
    assert len(found) == 2
    assert (
        ">Second gone</a>" in found[0]
        and "1 goal, 1 activity definition, 1 metric definition" in found[0]
    )
    assert ">First gone</a>" in found[1] and "2 goals" in found[1]


def test_a_child_of_a_deleted_parent_says_so_before_asking(admin_client):
    """A session deleted before its goal: its entry says to restore the goal first and offers no
    Restore; its confirmation page says so too, without a button that would promise rows."""
    short = short_term_goal_with_sessions(1)
    session = Goal.objects.get(parent=short)
    goal_delete(goal=session)
    goal_delete(goal=Goal.objects.get(pk=short.pk))
    newer, older = entries(bin_page(admin_client))
    assert f">{short.name}</a>" in newer and action_url(short, "restore") in newer
    assert f">{session.name}</a>" in older
    assert f"Inside “{short.name}”, deleted too: restore that first." in older
    assert action_url(session, "restore") not in older
    page = admin_client.get(action_url(session, "restore")).content.decode()
    assert f"restore &#x27;{short.name}&#x27; first" in page
    assert "Yes, restore" not in page


def test_restore_from_an_entry_previews_exactly_what_it_restores(admin_client):
    """The confirmation counts what the restore brings back; Yes (not a danger button) does it."""
    short = short_term_goal_with_sessions(2)
    goal_delete(goal=short)
    url = action_url(short, "restore")
    page = admin_client.get(url).content.decode()
    assert "<li>3 goals</li><li>2 activity instances</li>" in page
    assert '<input type="submit" class="default" value="Yes, restore">' in page
    assert "delete-confirmation" not in page
    response = admin_client.post(url, follow=True)
    assert "Restored 1 goal." in response.content.decode()
    assert Goal.deleted_objects.count() == 0 and ActivityInstance.deleted_objects.count() == 0
    assert entries(response.content.decode()) == []


def test_a_fractals_purge_preview_counts_every_row_purge_removes(admin_client):
    """Purging a deleted fractal removes exactly the rows its preview counted, links and
    programs included."""
    short = short_term_goal_with_sessions(2)
    root = short.root
    linked = PracticeSession.objects.create(name="Linked only", root=root)
    PracticeSessionGoal.objects.create(practice_session=linked, short_term_goal=short)
    Program.objects.create(
        name="Plan", root=root, start_date="2026-01-01T00:00:00Z", end_date="2026-02-01T00:00:00Z"
    )
    goal_delete(goal=Goal.objects.get(pk=root.pk))
    url = action_url(root, "purge")
    page = admin_client.get(url).content.decode()
    previewed = {name: int(count) for count, name in re.findall(r"<li>(\d+) ([^<]+)</li>", page)}
    before = {
        "goals": Goal.all_objects.count(),
        "practice session goals": PracticeSessionGoal.objects.count(),
        "programs": Program.objects.count(),
        "metric values": MetricValue.objects.count(),
    }
    assert previewed["goals"] == 7 and previewed["programs"] == 1
    assert previewed["practice session goals"] == 1
    admin_client.post(url)
    for name, count in before.items():
        removed = (
            count
            - {
                "goals": Goal.all_objects.count(),
                "practice session goals": PracticeSessionGoal.objects.count(),
                "programs": Program.objects.count(),
                "metric values": MetricValue.objects.count(),
            }[name]
        )
        assert removed == previewed[name], name


def test_staff_restore_their_own_deletions_and_cannot_purge(alice, bob):
    """Staff see Restore but no Purge; purging answers 403; another owner's deletion is a 404
    on every action, as an unknown id."""
    goal_delete(goal=Goal.objects.get(pk=alice.short.pk))
    goal_delete(goal=Goal.objects.get(pk=bob.short.pk))
    page = bin_page(alice.client)
    assert "Alice short" in page and "Bob" not in page and "Purge</a>" not in page
    assert alice.client.get(action_url(alice.short, "purge")).status_code == 403
    assert alice.client.post(action_url(alice.short, "purge")).status_code == 403
    for action in ("restore", "purge"):
        assert alice.client.get(action_url(bob.short, action)).status_code == 404
        assert alice.client.post(action_url(bob.short, action)).status_code == 404
    unknown = action_url(alice.short, "restore").replace(alice.short.pk, "no-such-row")
    assert alice.client.get(unknown).status_code == 404
    assert Goal.all_objects.get(pk=bob.short.pk).deleted_at is not None
    alice.client.post(action_url(alice.short, "restore"))
    assert Goal.objects.filter(pk=alice.short.pk).exists()


def test_the_migrations_placeholders_are_not_a_users_deletions(admin_client):
    """A deleted placeholder the migration made is listed apart, not as a deletion."""
    placeholder = MetricDefinitionFactory(name="Deleted metric (missing 1a2b3c4d)")
    row_delete(row=placeholder)
    LegacyRepair.objects.create(
        table_name=MetricDefinition._meta.db_table,
        row_id=placeholder.pk,
        column_name=LegacyRepair.CREATED_ROW,
        reason="placeholder for metric_values.metric_definition_id",
        migration="goals.0004_backfill_root_ids",
    )
    page = bin_page(admin_client)
    assert entries(page) == []
    assert "Kept by the migration" in page and "1 metric definition" in page


def test_older_deletions_follow_on_the_next_page(admin_client, monkeypatch):
    """Past a page of deletions, a link lists the older ones."""
    monkeypatch.setattr("goals_project.admin_site.RECYCLE_BIN_ENTRIES", 2)
    goals = [ShortTermGoalFactory(name=f"Gone {n}") for n in range(3)]
    for goal in goals:
        goal_delete(goal=goal)
    page = bin_page(admin_client)
    assert [">Gone 2</a>" in e for e in entries(page)] == [True, False]
    older = re.search(r'href="\?before=([^"]+)">Older deletions', page).group(1)
    page = admin_client.get(reverse(BIN) + "?before=" + older).content.decode()
    assert len(entries(page)) == 1 and ">Gone 0</a>" in page


def test_the_bin_costs_the_same_queries_at_two_sizes(admin_client, django_assert_num_queries):
    """One small deletion, or many deletions of many rows, cost the bin the same queries."""
    goal_delete(goal=short_term_goal_with_sessions(1))
    admin_client.get(reverse(BIN))
    with CaptureQueriesContext(connection) as small:
        admin_client.get(reverse(BIN))
    for _ in range(6):
        goal_delete(goal=short_term_goal_with_sessions(4))
    row_delete(row=MetricDefinitionFactory())
    with django_assert_num_queries(len(small)):
        page = bin_page(admin_client)
    assert len(entries(page)) == 8
