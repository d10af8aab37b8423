"""The session page for staff with some permissions only: what they may only see is read-only,
never an error page, and what they may not do is refused before anything is saved."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from goals.models import Goal, MetricDefinition
from sessions.models import ActivityInstance, MetricValue
from tests.admin_forms import form_data

pytestmark = pytest.mark.django_db


def with_permissions(world, *codenames: str) -> None:
    """The world's owner keeps only `codenames` among their permissions."""
    world.user.user_permissions.set(Permission.objects.filter(codename__in=codenames))


def page_url(world) -> str:
    return reverse("admin:goals_practicesession_change", args=[world.session.pk])


@pytest.mark.parametrize(
    "codenames",
    [
        ("view_practicesession", "view_activityinstance", "view_metricvalue"),
        ("view_practicesession", "change_practicesession", "view_activityinstance"),
    ],
    ids=["view only", "change the session, view its activities"],
)
def test_activities_seen_without_change_permission_show_their_values_read_only(codenames, alice):
    """A user who may only view the session's activities gets the page (it was an error page:
    the metric grid, a form field, was read as the instance's attribute), with each metric's
    values as text and no input to change them."""
    with_permissions(alice, *codenames)
    response = alice.client.get(page_url(alice))
    assert response.status_code == 200
    page = response.content.decode()
    assert '<tr><th scope="row">Alice weight (kg)</th><td>42.5</td></tr>' in page
    assert "metric_values-v-" not in page


def without(world, *codenames: str) -> None:
    """The world's owner keeps every permission of the two apps except `codenames`."""
    world.user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["goals", "practice_sessions"]
        ).exclude(codename__in=codenames)
    )


def test_the_metric_grid_adds_and_deletes_values_only_with_those_permissions(alice):
    """Without the permissions to add and to delete metric values, the grid has no blank input,
    a new value's input posted anyway adds nothing, and a value emptied (which deletes it) is
    the grid's error: nothing is saved. Changing a value stays allowed."""
    reps = MetricDefinition.objects.create(activity=alice.activity, name="reps", unit="times")
    new_value = f"activity_instances-0-metric_values-n-{reps.pk}-"
    recorded = f"activity_instances-0-metric_values-v-{alice.value.pk}"
    url = page_url(alice)
    assert f'name="{new_value}"' in alice.client.get(url).content.decode()
    without(alice, "add_metricvalue", "delete_metricvalue")

    page = alice.client.get(url).content.decode()
    assert f'name="{new_value}"' not in page and f'name="{recorded}"' in page
    data = form_data(alice.client.get(url))
    response = alice.client.post(url, {**data, new_value: "8", recorded: "50"})
    assert response.status_code == 302
    assert not MetricValue.objects.filter(metric_definition=reps).exists()
    assert MetricValue.objects.get(pk=alice.value.pk).value == 50

    response = alice.client.post(url, {**data, recorded: "", "description": "typed"})
    assert response.status_code == 200
    assert (
        "Alice weight (kg): emptying a value deletes it, and you may not delete metric values. "
        "Enter the value again."
    ) in response.content.decode()
    assert MetricValue.objects.get(pk=alice.value.pk).value == 50
    assert Goal.objects.get(pk=alice.session.pk).description != "typed"


def test_the_metric_grid_shows_values_as_text_without_the_permission_to_change_them(alice):
    """Without the permission to change metric values, the recorded ones are text in the grid
    and a changed value posted anyway is not saved."""
    without(alice, "change_metricvalue")
    url = page_url(alice)
    page = alice.client.get(url).content.decode()
    assert '<tr><th scope="row">Alice weight (kg)</th><td>42.5</td></tr>' in page
    data = form_data(alice.client.get(url))
    recorded = f"activity_instances-0-metric_values-v-{alice.value.pk}"
    assert alice.client.post(url, {**data, recorded: "50"}).status_code == 302
    assert MetricValue.objects.get(pk=alice.value.pk).value == 42.5


def test_a_timer_is_started_from_the_session_page_only_by_who_may_change_the_activity(alice):
    """A user who may change the session but only view its activities is offered no timer
    button, and a `_timer` posted anyway is refused (403) before anything is saved, as the
    activity's own timer page refuses it."""
    with_permissions(
        alice,
        "view_goal",
        "view_practicesession",
        "change_practicesession",
        "view_activityinstance",
        "view_metricvalue",
    )
    url = page_url(alice)
    response = alice.client.get(url)
    assert 'name="_timer"' not in response.content.decode()
    data = form_data(response)
    timer = {"_timer": f"{alice.instance.pk}:start", "description": "typed"}
    assert alice.client.post(url, {**data, **timer}).status_code == 403
    assert ActivityInstance.objects.get(pk=alice.instance.pk).time_start is None
    assert Goal.objects.get(pk=alice.session.pk).description != "typed"
    own_page = reverse(
        "admin:practice_sessions_activityinstance_timer", args=[alice.instance.pk, "start"]
    )
    assert alice.client.post(own_page).status_code == 403


@pytest.mark.parametrize("page", ["session", "activity"])
def test_a_timer_action_that_is_neither_start_nor_stop_saves_nothing(page, alice):
    """An unknown `_timer` action is refused (403) before the page's form is saved: no
    statement writes to the database (the form was saved, then the refusal rolled it back)."""
    if page == "session":
        url, value, field = page_url(alice), f"{alice.instance.pk}:explode", "description"
    else:
        url = reverse("admin:practice_sessions_activityinstance_change", args=[alice.instance.pk])
        value, field = "explode", "notes"
    data = form_data(alice.client.get(url))
    with CaptureQueriesContext(connection) as queries:
        response = alice.client.post(url, {**data, "_timer": value, field: "typed"})
    assert response.status_code == 403
    writes = [
        query["sql"]
        for query in queries
        if query["sql"].split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}
    ]
    assert writes == []
    assert Goal.objects.get(pk=alice.session.pk).description != "typed"
    assert ActivityInstance.objects.get(pk=alice.instance.pk).notes != "typed"
