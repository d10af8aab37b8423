"""Staff see and touch only their own fractals' rows, on every admin page; superusers see all."""

from __future__ import annotations

import json
import uuid

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from goals.models import Goal, GoalType, SessionTemplate
from goals.selectors import PLACE_SEPARATOR
from goals.services import goal_delete
from sessions.models import ActivityInstance, MetricValue
from tests.admin_forms import page_text

pytestmark = pytest.mark.django_db


def rows_of(world) -> dict[str, object]:
    """One row per registered model of a world, keyed by admin URL prefix."""
    return {
        "goals_goal": world.short,
        "goals_fractal": world.fractal,
        "goals_practicesession": world.session,
        "goals_activitydefinition": world.activity,
        "goals_metricdefinition": world.metric,
        "goals_sessiontemplate": world.template,
        "practice_sessions_activityinstance": world.instance,
        "practice_sessions_metricvalue": world.value,
        "practice_sessions_program": world.program,
    }


VIEWS = ["change", "delete", "history"]


@pytest.mark.parametrize("view", VIEWS)
def test_another_owners_rows_answer_not_found(alice, bob, view):
    """A guessed id of another owner's row is a 404 in change, delete and history views."""
    for prefix, row in rows_of(bob).items():
        response = alice.client.get(reverse(f"admin:{prefix}_{view}", args=[row.pk]))
        assert response.status_code == 404, prefix
        own = rows_of(alice)[prefix]
        assert alice.client.get(reverse(f"admin:{prefix}_{view}", args=[own.pk])).status_code == (
            200
        ), prefix


def test_lists_show_only_own_rows_and_own_fractals_in_filters(alice, bob):
    """No changelist, nor its filter sidebar, names a row of another owner."""
    for model in admin.site._registry:
        opts = model._meta
        if (
            opts.app_label not in {"goals", "practice_sessions"}
            or opts.model_name == "legacyrepair"
        ):
            continue
        response = alice.client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert response.status_code == 200, opts.label
        page = page_text(response)
        assert "Bob" not in page, opts.label
    goals_page = alice.client.get(reverse("admin:goals_goal_changelist")).content.decode()
    assert "Alice fractal" in goals_page and "Alice short" in goals_page


def test_search_and_guessed_fractal_filter_find_nothing_of_another_owner(alice, bob):
    """Searching for another owner's goal, or filtering on their fractal's id, lists nothing."""
    url = reverse("admin:goals_goal_changelist")
    page = alice.client.get(url, {"q": "Bob"}).content.decode()
    assert "0 goals" in page and "Bob short" not in page
    page = alice.client.get(url, {"fractal": bob.fractal.pk}).content.decode()
    assert "Bob short" not in page and "Bob fractal" not in page


def test_autocomplete_lists_only_own_live_rows(alice, bob):
    """The parent autocomplete offers own live goals only, never another owner's or deleted."""
    goal_delete(goal=Goal.objects.get(pk=alice.session.pk))
    response = alice.client.get(
        reverse("admin:autocomplete"),
        {"app_label": "goals", "model_name": "goal", "field_name": "parent", "term": ""},
    )
    assert response.status_code == 200
    # Each offered goal is named by its place in the tree, its own name last.
    names = {
        result["text"].rsplit(PLACE_SEPARATOR, 1)[-1]
        for result in json.loads(response.content)["results"]
    }
    assert "Alice short" in names
    assert "Alice session" not in names
    assert not any("Bob" in name for name in names)


def test_a_save_refuses_another_owners_goal_as_parent(alice, bob):
    """Choosing another owner's goal as parent is an invalid choice; nothing is saved."""
    response = alice.client.post(
        reverse("admin:goals_goal_add"),
        {"name": "Sneaky", "type": GoalType.SHORT_TERM, "parent": bob.short.pk, "sort_order": 0},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Goal.all_objects.filter(name="Sneaky").exists()


def test_an_inline_refuses_another_owners_activity(alice, bob):
    """The activity inline of a session does not accept another owner's activity definition."""
    url = reverse("admin:goals_practicesession_change", args=[alice.session.pk])
    prefix = "activity_instances"
    data = {
        "name": "Alice session",
        "parent": alice.short.pk,
        f"{prefix}-TOTAL_FORMS": "2",
        f"{prefix}-INITIAL_FORMS": "1",
        f"{prefix}-0-id": alice.instance.pk,
        f"{prefix}-0-practice_session": alice.session.pk,
        f"{prefix}-0-activity_definition": alice.activity.pk,
        f"{prefix}-0-sort_order": "0",
        f"{prefix}-1-practice_session": alice.session.pk,
        f"{prefix}-1-activity_definition": bob.activity.pk,
        f"{prefix}-1-sort_order": "1",
    }
    response = alice.client.post(url, data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert ActivityInstance.objects.filter(practice_session=alice.session).count() == 1


def test_the_raw_id_label_does_not_name_another_owners_row(alice, bob):
    """A raw-id field given another owner's id shows no label, and the save is refused."""
    url = reverse("admin:practice_sessions_metricvalue_add")
    own = alice.client.get(url, {"activity_instance": alice.instance.pk}).content.decode()
    assert "Alice squat" in own
    other = page_text(alice.client.get(url, {"activity_instance": bob.instance.pk}))
    assert "Bob" not in other
    response = alice.client.post(
        url,
        {"activity_instance": bob.instance.pk, "metric_definition": alice.metric.pk, "value": 1},
    )
    assert "Select a valid choice" in response.content.decode()


def test_history_and_recycle_bin_are_scoped(alice, bob):
    """The recycle bin lists own deleted rows only."""
    goal_delete(goal=Goal.objects.get(pk=alice.short.pk))
    goal_delete(goal=Goal.objects.get(pk=bob.short.pk))
    page = page_text(alice.client.get(reverse("admin:recycle_bin")))
    assert "Alice short" in page
    assert "Bob" not in page


def test_superusers_see_every_owner(alice, bob, admin_client):
    """A superuser's goal list holds both owners' goals."""
    page = admin_client.get(reverse("admin:goals_goal_changelist")).content.decode()
    assert "Alice short" in page and "Bob short" in page


def test_a_fractal_created_by_staff_belongs_to_them(alice):
    """A new ultimate goal of a staff user gets them as owner, and then shows in their lists."""
    response = alice.client.post(
        reverse("admin:goals_goal_add"),
        {"name": "Alice second", "type": GoalType.ULTIMATE, "sort_order": 0},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Goal.objects.get(name="Alice second").owner == alice.user


def test_templates_of_another_owner_are_not_offered(alice, bob):
    """Creating a session from a template lists own templates only."""
    page = alice.client.get(reverse("admin:goals_practicesession_from_template")).content.decode()
    assert "Alice template" in page
    assert "Bob template" not in page
    assert SessionTemplate.objects.count() == 2


def _same_answer(first, second, *, ids: tuple[str, str]) -> None:
    """Two responses that must not tell their ids apart: same status, same body once the ids
    themselves (echoed back in a form) and the per-response CSRF token are set aside."""
    assert first.status_code == second.status_code

    def normalized(response, echoed: str) -> str:
        return page_text(response).replace(echoed, "<id>")

    assert normalized(first, ids[0]) == normalized(second, ids[1])


def _post_inline_row_with_id(world, row_id: str):
    """alice's session form, its activity inline's existing row pointing at `row_id`."""
    prefix = "activity_instances"
    return world.client.post(
        reverse("admin:goals_practicesession_change", args=[world.session.pk]),
        {
            "name": "Alice session",
            "parent": world.short.pk,
            f"{prefix}-TOTAL_FORMS": "1",
            f"{prefix}-INITIAL_FORMS": "1",
            f"{prefix}-0-id": row_id,
            f"{prefix}-0-practice_session": world.session.pk,
            f"{prefix}-0-activity_definition": world.activity.pk,
            f"{prefix}-0-sort_order": "0",
        },
    )


def test_an_inline_row_with_another_owners_id_answers_like_a_random_id(alice, bob):
    """A hidden inline id set to another owner's row gets the very answer a made-up id gets, and
    neither changes that row."""
    random_id = str(uuid.uuid4())
    foreign = _post_inline_row_with_id(alice, bob.instance.pk)
    made_up = _post_inline_row_with_id(alice, random_id)
    _same_answer(foreign, made_up, ids=(bob.instance.pk, random_id))
    assert foreign.status_code == 200
    assert "1 row(s) of this list were deleted, or moved elsewhere, since the page was" in (
        foreign.content.decode()
    )
    assert ActivityInstance.objects.get(pk=bob.instance.pk).practice_session_id == bob.session.pk
    assert _post_inline_row_with_id(alice, alice.instance.pk).status_code == 302  # her own row


def test_view_on_site_answers_alike_for_another_owners_row_and_a_random_id(alice, bob, settings):
    """/admin/r/<content type>/<id>/ words its 404 the same for another owner's row and for an
    id that does not exist, even on debug pages."""
    settings.DEBUG = True  # the debug 404 page shows the exception's message
    content_type = ContentType.objects.get_for_model(Goal)
    random_id = str(uuid.uuid4())
    foreign = alice.client.get(f"/admin/r/{content_type.pk}/{bob.short.pk}/")
    made_up = alice.client.get(f"/admin/r/{content_type.pk}/{random_id}/")
    assert foreign.status_code == 404
    _same_answer(foreign, made_up, ids=(bob.short.pk, random_id))


def test_the_session_pages_metric_inputs_reach_only_its_own_values(alice, bob):
    """Inputs named after another owner's metric value or metric, posted with alice's session
    form, change and create nothing: the grid reads only the cells it rendered."""
    prefix = "activity_instances-0-metric_values"
    response = alice.client.post(
        reverse("admin:goals_practicesession_change", args=[alice.session.pk]),
        {
            "name": "Alice session",
            "parent": alice.short.pk,
            "activity_instances-TOTAL_FORMS": "1",
            "activity_instances-INITIAL_FORMS": "1",
            "activity_instances-0-id": alice.instance.pk,
            "activity_instances-0-practice_session": alice.session.pk,
            "activity_instances-0-activity_definition": alice.activity.pk,
            "activity_instances-0-sort_order": "0",
            f"{prefix}-v-{alice.value.pk}": "42.5",
            f"{prefix}-v-{bob.value.pk}": "1",
            f"{prefix}-n-{bob.metric.pk}-": "2",
        },
    )
    assert response.status_code == 302
    assert MetricValue.objects.get(pk=bob.value.pk).value == 42.5
    assert MetricValue.objects.filter(metric_definition=bob.metric).count() == 1


def test_the_template_picker_and_the_analytics_name_no_other_owner(alice, bob):
    """The template's activity selects offer own activities only; the analytics page of another
    owner's fractal is not found."""
    page = page_text(
        alice.client.get(reverse("admin:goals_sessiontemplate_change", args=[alice.template.pk]))
    )
    assert "Alice squat" in page and "Bob" not in page
    url = reverse("admin:goals_fractal_analytics", args=[bob.fractal.pk])
    assert alice.client.get(url, {"metric": bob.metric.pk}).status_code == 404
