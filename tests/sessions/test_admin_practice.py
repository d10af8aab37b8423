"""Sessions in the admin: timers, sessions from templates, and the fractal analytics page."""

from __future__ import annotations

import json

import pytest
import time_machine
from django.urls import reverse

from goals.models import Goal, GoalType, PracticeSessionGoal, SessionTemplate
from sessions.models import ActivityInstance
from tests.admin_forms import page_text
from tests.factories import ActivityDefinitionFactory

pytestmark = pytest.mark.django_db


def timer(world, action: str, follow: bool = True):
    url = reverse(
        "admin:practice_sessions_activityinstance_timer", args=[world.instance.pk, action]
    )
    back = reverse("admin:goals_practicesession_change", args=[world.session.pk])
    return world.client.post(f"{url}?next={back}", follow=follow)


def test_timer_buttons_start_and_stop_an_activity(alice):
    """Start sets time_start; stop sets time_stop and duration_seconds; both go back to the page."""
    with time_machine.travel("2026-03-01 10:00:00+00:00", tick=False):
        response = timer(alice, "start", follow=False)
    assert response.status_code == 302
    assert response["Location"].endswith(
        reverse("admin:goals_practicesession_change", args=[alice.session.pk])
    )
    with time_machine.travel("2026-03-01 10:01:30+00:00", tick=False):
        timer(alice, "stop")
    instance = ActivityInstance.objects.get(pk=alice.instance.pk)
    assert instance.time_start.isoformat() == "2026-03-01T10:00:00+00:00"
    assert instance.time_stop.isoformat() == "2026-03-01T10:01:30+00:00"
    assert instance.duration_seconds == 90


def test_stopping_a_stopped_timer_is_an_error_message(alice):
    """A second stop answers with a message, changes nothing and does not crash."""
    timer(alice, "start")
    timer(alice, "stop")
    before = ActivityInstance.objects.get(pk=alice.instance.pk)
    page = timer(alice, "stop").content.decode()
    assert "was already stopped at" in page
    after = ActivityInstance.objects.get(pk=alice.instance.pk)
    assert (after.time_stop, after.duration_seconds) == (before.time_stop, before.duration_seconds)


def test_stopping_a_timer_never_started_is_an_error_message(alice):
    """Stop before start answers with a message."""
    assert "has not been started" in timer(alice, "stop").content.decode()


def test_the_timer_of_another_owner_is_not_found(alice, bob):
    """Another owner's activity cannot be timed by guessing its id."""
    url = reverse("admin:practice_sessions_activityinstance_timer", args=[bob.instance.pk, "start"])
    assert alice.client.post(url).status_code == 404
    assert ActivityInstance.objects.get(pk=bob.instance.pk).time_start is None


def test_the_session_page_shows_activities_with_metric_values_and_timer(alice):
    """The inline lists each activity with its metric values and a start button."""
    page = alice.client.get(
        reverse("admin:goals_practicesession_change", args=[alice.session.pk])
    ).content.decode()
    assert "Alice squat" in page
    assert "Alice weight (kg)" in page
    assert f'name="activity_instances-0-metric_values-v-{alice.value.pk}" value="42.5"' in page
    assert "Start timer" in page


def test_the_timer_actions_of_the_activity_list(alice):
    """The list actions start and then stop the selected activities."""
    url = reverse("admin:practice_sessions_activityinstance_changelist")
    data = {"_selected_action": [alice.instance.pk]}
    alice.client.post(url, {**data, "action": "start_timer"})
    alice.client.post(url, {**data, "action": "stop_timer"})
    instance = ActivityInstance.objects.get(pk=alice.instance.pk)
    assert instance.time_stop is not None and instance.duration_seconds is not None


def test_a_session_is_created_from_a_template(alice):
    """The session is under the chosen goal, linked to it, with the template's activities."""
    url = reverse("admin:goals_practicesession_from_template")
    response = alice.client.post(
        url, {"template": alice.template.pk, "parent": alice.short.pk, "name": "Tuesday"}
    )
    assert response.status_code == 302
    session = Goal.objects.get(name="Tuesday")
    assert session.type == GoalType.PRACTICE_SESSION
    assert session.parent_id == alice.short.pk and session.root_id == alice.fractal.pk
    assert session.template_id == alice.template.pk
    assert PracticeSessionGoal.objects.filter(
        practice_session=session, short_term_goal=alice.short
    ).exists()
    activities = list(session.activity_instances.values_list("activity_definition_id", flat=True))
    assert activities == [alice.activity.pk]


def test_a_template_with_invalid_json_is_refused_with_a_message(alice):
    """A template whose data is not JSON creates nothing and says why."""
    SessionTemplate.objects.filter(pk=alice.template.pk).update(template_data="{not json")
    sessions = Goal.all_objects.filter(type=GoalType.PRACTICE_SESSION).count()
    response = alice.client.post(
        reverse("admin:goals_practicesession_from_template"),
        {"template": alice.template.pk, "parent": alice.short.pk},
    )
    assert response.status_code == 200
    assert "invalid JSON in template_data" in response.content.decode()
    assert Goal.all_objects.filter(type=GoalType.PRACTICE_SESSION).count() == sessions


def test_a_templates_activities_are_picked_in_order(alice):
    """The template form lists the fractal's activities in selects; the order picked is the
    order written to template_data, which keeps its other keys."""
    second = ActivityDefinitionFactory(name="Alice lunge", root=alice.fractal)
    SessionTemplate.objects.filter(pk=alice.template.pk).update(
        template_data=json.dumps({"activities": [alice.activity.pk], "notes": "keep"})
    )
    url = reverse("admin:goals_sessiontemplate_change", args=[alice.template.pk])
    page = alice.client.get(url).content.decode()
    assert "Alice fractal: Alice lunge" in page
    assert f'<option value="{alice.activity.pk}" selected>' in page
    response = alice.client.post(
        url,
        {
            "name": "Alice template",
            "root": alice.fractal.pk,
            "activities": [second.pk, "", alice.activity.pk, second.pk],
        },
    )
    assert response.status_code == 302
    data = json.loads(SessionTemplate.objects.get(pk=alice.template.pk).template_data)
    assert data == {"activities": [second.pk, alice.activity.pk, second.pk], "notes": "keep"}


def test_a_template_refuses_another_owners_activity(alice, bob):
    """Another owner's activity id posted into the picker is an invalid choice; nothing saved."""
    url = reverse("admin:goals_sessiontemplate_change", args=[alice.template.pk])
    before = SessionTemplate.objects.get(pk=alice.template.pk).template_data
    response = alice.client.post(
        url, {"name": "Alice template", "root": alice.fractal.pk, "activities": [bob.activity.pk]}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert "Bob" not in page_text(response)
    assert SessionTemplate.objects.get(pk=alice.template.pk).template_data == before


def test_the_analytics_page_shows_the_fractals_figures(alice, bob):
    """Charts with titled axes, practice time in hours and minutes, goals as done of total, the
    chosen metric's series on a date axis; 404 for other owners."""
    Goal.objects.filter(pk=alice.session.pk).update(total_duration_seconds=5400)
    Goal.objects.filter(pk=alice.short.pk).update(completed=True)
    url = reverse("admin:goals_fractal_analytics", args=[alice.fractal.pk])
    page = alice.client.get(url, {"metric": alice.metric.pk}).content.decode()
    assert "1 h 30 min" in page
    assert "Practice sessions per week" in page and "Week beginning" in page
    assert "Alice weight (kg)" in page  # the metric chart's y axis
    assert "1 of 1" in page  # short-term goals done of total
    assert page.count("<svg") >= 3 and "42.5" in page
    assert "pygal-tooltips" not in page  # no script loaded from elsewhere
    other = reverse("admin:goals_fractal_analytics", args=[bob.fractal.pk])
    assert alice.client.get(other).status_code == 404
