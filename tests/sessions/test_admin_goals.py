"""The goals admin: the tree, constant queries, soft delete, restore and purge with confirmation."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from goals.models import Goal
from goals.selectors import PLACE_SEPARATOR
from goals.services import goal_delete
from goals_project.bases.admin import LiveChoicesForm
from sessions.models import ActivityInstance, MetricValue
from tests.factories import (
    ActivityInstanceFactory,
    PracticeSessionFactory,
    ShortTermGoalFactory,
    short_term_goal_with_sessions,
)

pytestmark = pytest.mark.django_db


def page_sql(client, url) -> list[str]:
    """The statements of one page view, after a first view has filled process-wide caches."""
    client.get(url)
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return [query["sql"] for query in context.captured_queries]


def queries_for(client, url) -> int:
    """Queries of one page view, after a first view has filled process-wide caches."""
    return len(page_sql(client, url))


def test_the_goal_list_shows_each_goals_place_in_the_tree(admin_client):
    """A goal is listed with its ancestors' names, root first, linked to it in its tree; the list
    is not indented (its order is not the tree's) and names the fractals' trees above it."""
    short = ShortTermGoalFactory(
        name="Deadlift 200", parent__name="Lift more", parent__parent__name="Get strong"
    )
    page = admin_client.get(reverse("admin:goals_goal_changelist")).content.decode()
    fractal = short.root.name
    tree = reverse("admin:goals_fractal_tree", args=[short.root_id])
    place = PLACE_SEPARATOR.join([fractal, "Get strong", "Lift more"])
    assert f'<a href="{tree}?focus={short.pk}#goal-{short.pk}">{place}' in page
    assert "padding-left" not in page
    assert f'<a href="{tree}">{fractal}</a>' in page
    assert 'title="Short-term goal">ST</span>' in page


def test_the_goal_list_costs_the_same_queries_at_two_sizes(admin_client):
    """Listing 10 or 60 goals (with paths, fractal and filters) takes the same query count."""
    url = reverse("admin:goals_goal_changelist")
    short_term_goal_with_sessions(3)
    small = queries_for(admin_client, url)
    for _ in range(10):
        short_term_goal_with_sessions(4)
    assert Goal.objects.count() > 50
    assert queries_for(admin_client, url) == small


def query_plan(sql: str) -> str:
    """The database's plan for `sql`, one text; on PostgreSQL with sequential scans made a last
    resort, so that a small test table shows which index the query can use at any size."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_goal_list_reads_the_fractals_through_their_index(admin_client):
    """The fractal filter and the tree links ask for the roots by name: idx_goals_fractals
    gives them alone, in order, where a scan of every goal made the list three times slower at
    100,000 goals than at 1,000 (docs/benchmarks.md, the admin)."""
    for name in ("Swim", "Run", "Lift"):
        ShortTermGoalFactory(parent__parent__name=name)
    sent = page_sql(admin_client, reverse("admin:goals_goal_changelist"))
    fractal_lists = [sql for sql in sent if '"goals"."root_id" = ("goals"."id")' in sql]

    assert len(fractal_lists) == 2  # the filter's choices and the tree links
    for sql in fractal_lists:
        assert "idx_goals_fractals" in query_plan(sql), sql


def test_the_goal_list_counts_the_live_goals_through_their_index(admin_client):
    """The list counts the live goals for its pages: idx_goals_live gives the count from a
    small index, where reading every goal's row made the count most of the page's time at
    200,000 goals (docs/benchmarks.md, the admin)."""
    ShortTermGoalFactory()
    sent = page_sql(admin_client, reverse("admin:goals_goal_changelist"))
    counts = [sql for sql in sent if sql.startswith("SELECT COUNT(*)") and '"goals"' in sql]

    assert len(counts) == 1, counts
    assert "idx_goals_live" in query_plan(counts[0]), counts[0]


def test_a_session_page_costs_the_same_queries_at_two_sizes(admin_client):
    """A session with 2 or 12 activities (and their metric values) takes the same query count."""
    session = PracticeSessionFactory()
    ActivityInstanceFactory.create_batch(2, practice_session=session)
    url = reverse("admin:goals_practicesession_change", args=[session.pk])
    small = queries_for(admin_client, url)
    ActivityInstanceFactory.create_batch(10, practice_session=session)
    assert queries_for(admin_client, url) == small


def test_a_goal_page_lists_children_and_linked_sessions(admin_client):
    """The change page names the goal's children and the sessions linked to it."""
    short = short_term_goal_with_sessions(2)
    session = Goal.objects.filter(parent=short).first()
    page = admin_client.get(reverse("admin:goals_goal_change", args=[short.pk])).content.decode()
    assert session.name in page


def test_deleting_in_the_admin_soft_deletes_the_cascade(admin_client):
    """The delete page previews the cascade; confirming stamps deleted_at and removes nothing."""
    short = short_term_goal_with_sessions(2)
    url = reverse("admin:goals_goal_delete", args=[short.pk])
    preview = admin_client.get(url).content.decode()
    assert "3 goals" in preview and "2 activity instances" in preview
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert Goal.deleted_objects.count() == 3
    assert ActivityInstance.deleted_objects.count() == 2
    assert MetricValue.objects.count() == 2


def test_a_deleted_goal_is_read_only(admin_client):
    """Posting the change form of a deleted goal is refused and the goal stays deleted."""
    short = ShortTermGoalFactory()
    goal_delete(goal=short)
    url = reverse("admin:goals_goal_change", args=[short.pk])
    page = admin_client.get(url).content.decode()
    assert "it is read-only" in page
    response = admin_client.post(url, {"name": "Renamed", "type": short.type, "sort_order": 0})
    assert response.status_code == 403
    reloaded = Goal.all_objects.get(pk=short.pk)
    assert reloaded.deleted_at is not None and reloaded.name == short.name


def test_saving_a_deleted_row_through_a_model_form_keeps_it_deleted():
    """deleted_at is not a form field, so a form save cannot silently restore the row."""
    short = ShortTermGoalFactory()
    goal_delete(goal=short)
    deleted = Goal.all_objects.get(pk=short.pk)

    class GoalForm(LiveChoicesForm):
        class Meta:
            model = Goal
            fields = ["name", "type", "sort_order"]

    form = GoalForm({"name": "Edited", "type": deleted.type, "sort_order": 0}, instance=deleted)
    assert form.is_valid(), form.errors
    form.save()
    reloaded = Goal.all_objects.get(pk=short.pk)
    assert reloaded.name == "Edited"
    assert reloaded.deleted_at == deleted.deleted_at


def test_restore_asks_first_then_restores_the_cascade(admin_client):
    """The restore action shows what it will bring back; the second post restores and logs it."""
    short = short_term_goal_with_sessions(2)
    goal_delete(goal=short)
    url = reverse("admin:goals_goal_changelist") + "?deleted=only"
    data = {"action": "restore_selected", "_selected_action": [short.pk]}
    page = admin_client.post(url, data).content.decode()
    assert "Are you sure you want to restore" in page and "3 goals" in page
    assert Goal.objects.filter(pk=short.pk).count() == 0
    response = admin_client.post(url, {**data, "post": "yes"}, follow=True)
    assert "Restored 1 goal." in response.content.decode()
    assert Goal.deleted_objects.count() == 0
    assert ActivityInstance.deleted_objects.count() == 0
    assert LogEntry.objects.filter(object_id=short.pk).exists()


def test_a_goal_selected_with_its_children_is_one_deletion_and_one_restore(admin_client):
    """Delete, then restore, a mid-term goal with its short-term goals selected too: the goal goes
    first and takes them along, as one deletion, and restoring it brings every row back (the
    children went first, each a deletion of its own, and stayed deleted after the restore)."""
    short = short_term_goal_with_sessions(2)
    sibling = ShortTermGoalFactory(parent=short.parent)
    middle = short.parent
    selected = [short.pk, sibling.pk, middle.pk]
    live = Goal.objects.count()
    url = reverse("admin:goals_goal_changelist")
    data = {"action": "delete_selected", "_selected_action": selected}
    page = admin_client.post(url, data).content.decode()
    assert "with a selected row above, whose cascade takes it" in page
    admin_client.post(url, {**data, "post": "yes"})
    stamps = set(Goal.all_objects.filter(pk__in=selected).values_list("deleted_at", flat=True))
    assert len(stamps) == 1 and None not in stamps
    assert Goal.objects.count() == live - 5  # the three, and the two sessions
    restore = {"action": "restore_selected", "_selected_action": selected}
    page = admin_client.post(url + "?deleted=only", restore).content.decode()
    assert "first" not in page  # no row says to restore another first
    response = admin_client.post(url + "?deleted=only", {**restore, "post": "yes"}, follow=True)
    assert "Restored 1 goal. 2 more of those selected went with them." in (
        response.content.decode()
    )
    assert Goal.objects.count() == live
    assert ActivityInstance.deleted_objects.count() == 0


def test_deleting_a_selection_with_rows_deleted_before_counts_what_it_deleted(admin_client):
    """On the list of all goals, deleting two goals deleted before and a live one says one was
    deleted and two were left as they were (it said three were deleted), keeps the earlier
    deletions' stamps and logs the live one alone; the confirmation page says so too. A
    selection of deleted rows only deletes nothing."""
    earlier = [ShortTermGoalFactory(), ShortTermGoalFactory()]
    for goal in earlier:
        goal_delete(goal=goal)
    stamps = dict(
        Goal.all_objects.filter(pk__in=[g.pk for g in earlier]).values_list("pk", "deleted_at")
    )
    live = ShortTermGoalFactory()
    url = reverse("admin:goals_goal_changelist") + "?deleted=all"
    data = {"action": "delete_selected", "_selected_action": [*stamps, live.pk]}
    page = admin_client.post(url, data).content.decode()
    assert page.count("(deleted already: left as it is)") == 2
    response = admin_client.post(url, {**data, "post": "yes"}, follow=True)
    page = response.content.decode()
    assert "Deleted 1 goal." in page
    assert "2 of those selected were deleted already: left as they were." in page
    assert "Successfully deleted" not in page
    assert Goal.all_objects.get(pk=live.pk).deleted_at is not None
    assert (
        dict(Goal.all_objects.filter(pk__in=list(stamps)).values_list("pk", "deleted_at")) == stamps
    )
    assert list(LogEntry.objects.values_list("object_id", flat=True)) == [live.pk]

    only_deleted = {**data, "_selected_action": list(stamps), "post": "yes"}
    page = admin_client.post(url, only_deleted, follow=True).content.decode()
    assert "None of the selected rows is live: nothing to delete." in page
    assert LogEntry.objects.count() == 1


def test_restoring_inside_a_deleted_parent_explains_what_to_restore(admin_client):
    """A session whose goal is still deleted is not restored; the message names the goal."""
    short = short_term_goal_with_sessions(1)
    session = Goal.objects.get(parent=short)
    goal_delete(goal=session)
    goal_delete(goal=Goal.objects.get(pk=short.pk))
    url = reverse("admin:goals_goal_changelist") + "?deleted=only"
    data = {"action": "restore_selected", "_selected_action": [session.pk], "post": "yes"}
    page = admin_client.post(url, data, follow=True).content.decode()
    assert f"restore &#x27;{short.name}&#x27; first" in page
    assert Goal.all_objects.get(pk=session.pk).deleted_at is not None


def test_purge_asks_first_and_is_for_superusers_only(admin_client, alice):
    """Staff cannot purge; a superuser sees what will be removed, then removes it for good."""
    short = short_term_goal_with_sessions(2)
    goal_delete(goal=short)
    url = reverse("admin:goals_goal_changelist") + "?deleted=only"
    data = {"action": "purge_selected", "_selected_action": [short.pk]}

    own = alice.short
    goal_delete(goal=own)
    staff = alice.client.post(url, {**data, "_selected_action": [own.pk], "post": "yes"})
    assert staff.status_code in {200, 302}
    assert Goal.all_objects.filter(pk=own.pk).exists()

    page = admin_client.post(url, data).content.decode()
    assert "purge" in page and "3 goals" in page and "2 metric values" in page
    assert Goal.all_objects.filter(pk=short.pk).exists()
    response = admin_client.post(url, {**data, "post": "yes"}, follow=True)
    assert "Purged 1 goal." in response.content.decode()
    assert not Goal.all_objects.filter(pk=short.pk).exists()
    assert ActivityInstance.all_objects.filter(root_id=short.root_id).count() == 0


def test_the_deleted_filter_lists_live_rows_by_default(admin_client):
    """Deleted goals are hidden by default, shown with 'deleted only' and 'all'."""
    kept, gone = ShortTermGoalFactory(name="Kept goal"), ShortTermGoalFactory(name="Gone goal")
    goal_delete(goal=gone)
    url = reverse("admin:goals_goal_changelist")
    default = admin_client.get(url).content.decode()
    assert kept.name in default and gone.name not in default
    only = admin_client.get(url, {"deleted": "only"}).content.decode()
    assert gone.name in only and kept.name not in only
    every = admin_client.get(url, {"deleted": "all"}).content.decode()
    assert gone.name in every and kept.name in every


def test_a_goals_targets_and_attributes_read_as_lists_beside_their_json(alice):
    """The goal's and the fractal's pages show targets and attributes as names and values, and
    keep the JSON boxes that edit them; legacy text that is not JSON is shown as it is."""
    Goal.objects.filter(pk=alice.short.pk).update(
        targets='[{"metric": "reps", "value": 10}]', attributes='{"focus": "form"}'
    )
    Goal.objects.filter(pk=alice.fractal.pk).update(attributes="not json")
    page = alice.client.get(reverse("admin:goals_goal_change", args=[alice.short.pk]))
    html = page.content.decode()
    assert "<li><strong>metric</strong>: reps</li><li><strong>value</strong>: 10</li>" in html
    assert "<li><strong>focus</strong>: form</li>" in html
    assert "Targets (JSON)" in html and "Attributes (JSON)" in html
    assert 'name="targets"' in html and 'name="attributes"' in html
    fractal = alice.client.get(reverse("admin:goals_fractal_change", args=[alice.fractal.pk]))
    html = fractal.content.decode()
    assert '<div class="readonly">not json</div>' in html
    assert 'name="attributes"' in html


def test_json_shown_on_a_goal_page_is_escaped(alice):
    Goal.objects.filter(pk=alice.short.pk).update(attributes='{"<b>": "<script>x</script>"}')
    html = alice.client.get(
        reverse("admin:goals_goal_change", args=[alice.short.pk])
    ).content.decode()
    assert "<script>x</script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
