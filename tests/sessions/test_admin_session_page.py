"""The session page to log practice on: metric values in place, timers that keep what was typed
and keep the session's times, durations and errors in words, constant queries."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
import time_machine
from django.urls import reverse

from goals.models import Goal, MetricDefinition
from sessions.models import ActivityInstance, MetricValue
from sessions.services import (
    activity_instance_delete,
    activity_instance_restore,
    practice_session_times_sync,
)
from tests.admin_forms import page_text
from tests.factories import ActivityInstanceFactory, MetricValueFactory

pytestmark = pytest.mark.django_db

PREFIX = "activity_instances"
START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
# Whatever the rows: the session, its inline (activities, values, metrics, splits, labels), the
# user and permissions; the list's rows with everything their titles name.
QUERIES_SESSION_PAGE = 14
QUERIES_METRIC_VALUES_LIST = 7


class FormFields(HTMLParser):
    """The values a browser would post for the page's change form, as the page renders them."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._in_form = False
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id", "").endswith("_form"):
            self._in_form = True
        if not self._in_form:
            return
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in {"submit", "button"}:
            if attrs.get("type") == "checkbox" and "checked" not in attrs:
                return
            self.data.setdefault(name, []).append(attrs.get("value") or "")
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in attrs:
            self.data[self._select].append(attrs.get("value") or "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = [""]

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea][0] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
            # Browsers drop the newline that follows <textarea>.


def page_url(world) -> str:
    return reverse("admin:goals_practicesession_change", args=[world.session.pk])


def form_of(client, url: str) -> dict[str, list[str]]:
    parser = FormFields()
    parser.feed(client.get(url).content.decode())
    return {name: values for name, values in parser.data.items() if values}


def value_input(world, value: MetricValue) -> str:
    return f"{PREFIX}-0-metric_values-v-{value.pk}"


def test_metric_values_are_edited_added_and_emptied_in_place(alice):
    """On the session page a value is changed, a value of a second metric added and, once
    saved, emptying a value deletes it; other rows stay."""
    reps = MetricDefinition.objects.create(activity=alice.activity, name="reps", unit="times")
    data = form_of(alice.client, page_url(alice))
    data[value_input(alice, alice.value)] = ["50"]
    data[f"{PREFIX}-0-metric_values-n-{reps.pk}-"] = ["8"]
    response = alice.client.post(page_url(alice), {**data, "_continue": "1"})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert MetricValue.objects.get(pk=alice.value.pk).value == 50
    added = MetricValue.objects.get(metric_definition=reps)
    assert (added.value, added.activity_instance_id, added.root_id) == (
        8,
        alice.instance.pk,
        alice.fractal.pk,
    )
    data = form_of(alice.client, page_url(alice))
    data[value_input(alice, alice.value)] = [""]
    alice.client.post(page_url(alice), data)
    assert not MetricValue.objects.filter(pk=alice.value.pk).exists()
    assert MetricValue.objects.filter(pk=added.pk).exists()


def test_a_value_that_is_not_a_number_is_an_error_in_words(alice):
    """Text that is no number is refused with the metric's name; nothing is saved."""
    data = form_of(alice.client, page_url(alice))
    data[value_input(alice, alice.value)] = ["heavy"]
    response = alice.client.post(page_url(alice), data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Alice weight (kg): “heavy” is not a number." in page
    assert 'value="heavy"' in page  # what was typed is still there
    assert MetricValue.objects.get(pk=alice.value.pk).value == 42.5


def test_a_timer_button_saves_what_was_typed_then_starts_the_timer(alice):
    """Pressing Start keeps the values typed meanwhile, starts the timer, and the session's
    start follows; the page shows the running timer's elapsed time."""
    data = form_of(alice.client, page_url(alice))
    data[value_input(alice, alice.value)] = ["61"]
    with time_machine.travel(START, tick=False):
        response = alice.client.post(
            page_url(alice), {**data, "_timer": f"{alice.instance.pk}:start"}
        )
        assert response.status_code == 302
        assert response["Location"] == page_url(alice)
    assert MetricValue.objects.get(pk=alice.value.pk).value == 61
    instance = ActivityInstance.objects.get(pk=alice.instance.pk)
    assert instance.time_start == START
    session = Goal.objects.get(pk=alice.session.pk)
    assert (session.session_start, session.session_end) == (START, None)
    with time_machine.travel(datetime(2026, 3, 1, 11, 5, 0, tzinfo=UTC), tick=False):
        page = alice.client.get(page_url(alice)).content.decode()
    assert f'data-started="{START.isoformat()}"' in page
    assert "1 h 05 min" in page and "Stop timer" in page


def test_stopping_timers_sets_the_sessions_end_and_total(alice):
    """Two timed activities: the session starts at the first start, ends at the last stop, and
    its total is the sum of their durations, shown in hours and minutes."""
    second = ActivityInstanceFactory(
        practice_session=alice.session, activity_definition=alice.activity, sort_order=1
    )
    steps = [
        ("10:00", alice.instance, "start"),
        ("10:30", second, "start"),
        ("10:45", alice.instance, "stop"),
        ("11:10", second, "stop"),
    ]
    for moment, instance, action in steps:
        with time_machine.travel(f"2026-03-01 {moment}:00+00:00", tick=False):
            data = form_of(alice.client, page_url(alice))
            alice.client.post(page_url(alice), {**data, "_timer": f"{instance.pk}:{action}"})
    session = Goal.objects.get(pk=alice.session.pk)
    assert session.session_start == START
    assert session.session_end == datetime(2026, 3, 1, 11, 10, tzinfo=UTC)
    assert session.total_duration_seconds == 45 * 60 + 40 * 60
    page = alice.client.get(page_url(alice)).content.decode()
    assert "1 h 25 min" in page and "45 min" in page and "40 min" in page
    assert "Set by the activities' timers." in page


def test_a_timer_of_another_session_is_not_run_from_this_page(alice, bob):
    """A `_timer` value naming another owner's activity changes nothing of theirs."""
    data = form_of(alice.client, page_url(alice))
    response = alice.client.post(
        page_url(alice), {**data, "_timer": f"{bob.instance.pk}:start"}, follow=True
    )
    assert "That activity is not in this session." in response.content.decode()
    assert ActivityInstance.objects.get(pk=bob.instance.pk).time_start is None


def test_a_stop_time_edited_by_hand_recomputes_the_duration(alice):
    """Times typed on the page set the duration, and the session's times follow."""
    data = form_of(alice.client, page_url(alice))
    data[f"{PREFIX}-0-time_start_0"] = ["2026-03-01"]
    data[f"{PREFIX}-0-time_start_1"] = ["10:00:00"]
    data[f"{PREFIX}-0-time_stop_0"] = ["2026-03-01"]
    data[f"{PREFIX}-0-time_stop_1"] = ["10:20:00"]
    assert alice.client.post(page_url(alice), data).status_code == 302
    assert ActivityInstance.objects.get(pk=alice.instance.pk).duration_seconds == 1200
    data = form_of(alice.client, page_url(alice))
    data[f"{PREFIX}-0-time_stop_1"] = ["11:05:00"]
    alice.client.post(page_url(alice), data)
    assert ActivityInstance.objects.get(pk=alice.instance.pk).duration_seconds == 3900
    session = Goal.objects.get(pk=alice.session.pk)
    assert session.total_duration_seconds == 3900
    assert session.session_end == datetime(2026, 3, 1, 11, 5, tzinfo=UTC)


def test_a_stop_before_the_start_is_an_error_in_words(alice):
    """The check constraint's name is never shown: the error says what is wrong."""
    data = form_of(alice.client, page_url(alice))
    data[f"{PREFIX}-0-time_start_0"] = ["2026-03-01"]
    data[f"{PREFIX}-0-time_start_1"] = ["10:00:00"]
    data[f"{PREFIX}-0-time_stop_0"] = ["2026-03-01"]
    data[f"{PREFIX}-0-time_stop_1"] = ["09:00:00"]
    page = alice.client.post(page_url(alice), data).content.decode()
    assert "The stop time (2026-03-01 09:00:00) is before the start time" in page
    assert "activity_instances_stop_after_start" not in page
    assert ActivityInstance.objects.get(pk=alice.instance.pk).time_stop is None


def test_a_row_deleted_since_the_page_was_opened_is_said_where_it_is_shown(alice):
    """Another person deletes one of the session's activities while this page is open: saving
    says so above the list (the admin shows the row no more, nor its hidden id's error: only
    "Please correct the errors below", again at every save), and nothing is saved."""
    data = form_of(alice.client, page_url(alice))
    data[f"{PREFIX}-0-notes"] = ["typed meanwhile"]
    ActivityInstance.objects.filter(pk=alice.instance.pk).update(deleted_at=START)
    page = alice.client.post(page_url(alice), data).content.decode()
    assert "1 row(s) of this list were deleted, or moved elsewhere, since the page was opened" in (
        page
    )
    assert ActivityInstance.all_objects.get(pk=alice.instance.pk).notes != "typed meanwhile"


def test_the_activity_page_refuses_a_stop_before_the_start_in_words(alice):
    """The activity's own page gives the same words."""
    url = reverse("admin:practice_sessions_activityinstance_change", args=[alice.instance.pk])
    data = form_of(alice.client, url)
    data.update(
        {
            "time_start_0": ["2026-03-01"],
            "time_start_1": ["10:00:00"],
            "time_stop_0": ["2026-03-01"],
            "time_stop_1": ["09:59:00"],
        }
    )
    page = alice.client.post(url, data).content.decode()
    assert "is before the start time" in page
    assert "activity_instances_stop_after_start" not in page


def test_a_session_ending_before_it_starts_is_an_error_in_words(alice):
    """Times typed on an untimed session are checked in words too."""
    data = form_of(alice.client, page_url(alice))
    data.update(
        {
            "session_start_0": ["2026-03-01"],
            "session_start_1": ["10:00:00"],
            "session_end_0": ["2026-03-01"],
            "session_end_1": ["09:00:00"],
        }
    )
    page = alice.client.post(page_url(alice), data).content.decode()
    assert "The session ends (2026-03-01 09:00) before it starts" in page
    assert "goals_session_end_after_start" not in page


def test_session_data_is_shown_readably(alice):
    """Session data reads as a list of names and values beside its JSON box."""
    Goal.objects.filter(pk=alice.session.pk).update(session_data='{"energy": 4, "notes": "ok"}')
    page = alice.client.get(page_url(alice)).content.decode()
    assert "<li><strong>energy</strong>: 4</li>" in page


def test_the_from_template_page_is_linked_from_a_session_and_a_goal(alice, bob):
    """A session links to another session from its template, a goal to a new session under it;
    the page preselects them and names nothing of another owner's given their ids."""
    from_template = reverse("admin:goals_practicesession_from_template")
    session_page = alice.client.get(page_url(alice)).content.decode()
    goal_page = alice.client.get(
        reverse("admin:goals_goal_change", args=[alice.short.pk])
    ).content.decode()
    assert f'href="{from_template}?parent={alice.short.pk}"' in goal_page
    Goal.objects.filter(pk=alice.session.pk).update(template=alice.template)
    session_page = alice.client.get(page_url(alice)).content.decode()
    assert f"{from_template}?template={alice.template.pk}&amp;parent={alice.short.pk}" in (
        session_page
    )
    page = alice.client.get(
        from_template, {"template": alice.template.pk, "parent": alice.short.pk}
    ).content.decode()
    assert "Alice short" in page and '<div class="breadcrumbs">' in page
    page = page_text(
        alice.client.get(from_template, {"template": bob.template.pk, "parent": bob.short.pk})
    )
    assert "Bob" not in page


def _session_with_rows(world, rows: int) -> None:
    for index in range(rows):
        instance = ActivityInstanceFactory(
            practice_session=world.session, activity_definition__root=world.fractal
        )
        MetricValueFactory(activity_instance=instance, value=index)


@pytest.mark.parametrize("rows", [2, 12])
def test_the_session_page_runs_the_same_queries_whatever_its_activities(
    alice, rows, django_assert_num_queries
):
    """Activities, their values, metrics and splits are read once for the page."""
    _session_with_rows(alice, rows)
    alice.client.get(page_url(alice))  # warm caches (content types, session)
    with django_assert_num_queries(QUERIES_SESSION_PAGE):
        assert alice.client.get(page_url(alice)).status_code == 200


@pytest.mark.parametrize("rows", [3, 30])
def test_the_metric_values_list_runs_the_same_queries_whatever_its_rows(
    alice, rows, django_assert_num_queries
):
    """Each row's title (activity, metric, unit, session) comes with the list's query."""
    _session_with_rows(alice, rows)
    url = reverse("admin:practice_sessions_metricvalue_changelist")
    alice.client.get(url)
    with django_assert_num_queries(QUERIES_METRIC_VALUES_LIST):
        page = alice.client.get(url).content.decode()
    assert "Alice squat: Alice weight 42.5 kg (Alice session)" in page


def test_scheduled_sessions_and_metric_values_are_titled_by_names(alice):
    """No ids in the titles of a metric value or a scheduled session."""
    from sessions.models import ProgramBlock, ProgramDay, ScheduledSession

    block = ProgramBlock.objects.create(program=alice.program, name="Base")
    day = ProgramDay.objects.create(block=block, name="Monday", day_number=1)
    scheduled = ScheduledSession.objects.create(day=day, session_template=alice.template)
    assert str(scheduled) == "Alice template on Monday"
    assert str(MetricValue.objects.get(pk=alice.value.pk)) == (
        "Alice squat: Alice weight 42.5 kg (Alice session)"
    )


def timed_pair(world) -> tuple[ActivityInstance, ActivityInstance]:
    """The world's activity timed 10:00-10:45 and a second one 10:30-11:10, the session's times
    following them."""
    first = world.instance
    ActivityInstance.objects.filter(pk=first.pk).update(
        time_start=START, time_stop=START.replace(minute=45), duration_seconds=45 * 60
    )
    second = ActivityInstanceFactory(
        practice_session=world.session,
        activity_definition=world.activity,
        time_start=START.replace(minute=30),
        time_stop=START.replace(hour=11, minute=10),
        duration_seconds=40 * 60,
        sort_order=1,
    )
    practice_session_times_sync(session_id=world.session.pk)
    return ActivityInstance.objects.get(pk=first.pk), second


def session_times(world) -> tuple:
    session = Goal.all_objects.get(pk=world.session.pk)
    return session.session_start, session.session_end, session.total_duration_seconds


def test_deleting_and_restoring_a_timed_activity_keeps_the_sessions_times(alice):
    """Deleted on its own page, the activity leaves the session's end and total; restored from
    the recycle bin, it counts again. The bin's preview changes nothing."""
    _first, second = timed_pair(alice)
    both = (START, datetime(2026, 3, 1, 11, 10, tzinfo=UTC), 85 * 60)
    assert session_times(alice) == both

    delete = reverse("admin:practice_sessions_activityinstance_delete", args=[second.pk])
    assert alice.client.post(delete, {"post": "yes"}).status_code == 302
    assert ActivityInstance.deleted_objects.get().pk == second.pk
    first_only = (START, datetime(2026, 3, 1, 10, 45, tzinfo=UTC), 45 * 60)
    assert session_times(alice) == first_only

    restore = reverse(
        "admin:recycle_bin_action",
        args=["practice_sessions", "activityinstance", second.pk, "restore"],
    )
    assert alice.client.get(restore).status_code == 200  # the preview
    assert session_times(alice) == first_only
    assert alice.client.post(restore).status_code == 302
    assert not ActivityInstance.deleted_objects.exists()
    assert session_times(alice) == both


def test_the_delete_and_restore_actions_of_the_activity_list_keep_the_sessions_times(alice):
    """The list's actions go through the same services as the activity's page."""
    first, _second = timed_pair(alice)
    changelist = reverse("admin:practice_sessions_activityinstance_changelist")
    response = alice.client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [first.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert session_times(alice) == (
        START.replace(minute=30),
        datetime(2026, 3, 1, 11, 10, tzinfo=UTC),
        40 * 60,
    )
    response = alice.client.post(
        f"{changelist}?deleted=only",
        {"action": "restore_selected", "_selected_action": [first.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert session_times(alice) == (START, datetime(2026, 3, 1, 11, 10, tzinfo=UTC), 85 * 60)


def test_deleting_a_running_timer_gives_the_session_its_end(alice):
    """A session with a running timer has no end; once that activity is deleted, the session
    ends at its other activities' last stop."""
    _first, second = timed_pair(alice)
    ActivityInstance.objects.filter(pk=second.pk).update(time_stop=None, duration_seconds=None)
    practice_session_times_sync(session_id=alice.session.pk)
    assert session_times(alice) == (START, None, 45 * 60)
    activity_instance_delete(instance=ActivityInstance.objects.get(pk=second.pk))
    assert session_times(alice) == (START, datetime(2026, 3, 1, 10, 45, tzinfo=UTC), 45 * 60)
    activity_instance_restore(instance=ActivityInstance.all_objects.get(pk=second.pk))
    assert session_times(alice) == (START, None, 45 * 60)
