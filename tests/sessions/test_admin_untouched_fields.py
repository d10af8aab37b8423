"""Save pressed on a page whose fields were not changed: every row keeps the values read from the
database (a legacy NULL stays NULL, a time keeps its microseconds), the session's times are not
recomputed, and the history says so."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.admin.models import LogEntry
from django.forms.models import model_to_dict
from django.urls import reverse

from goals.models import Goal, SessionTemplate
from sessions.models import ActivityInstance, ProgramBlock, ProgramDay, ScheduledSession
from tests.admin_forms import form_data

pytestmark = pytest.mark.django_db

# Legacy times carry microseconds, which no admin input shows.
AT = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
LATER = datetime(2026, 3, 1, 10, 45, 30, 654321, tzinfo=UTC)


def _scheduled_session(world) -> ScheduledSession:
    block = ProgramBlock.objects.create(program=world.program, name="Base")
    day = ProgramDay.objects.create(block=block, name="Monday", day_number=1)
    return ScheduledSession.objects.create(day=day, session_template=world.template)


UNTOUCHED = {
    # page, the row it edits, the legacy values the row is given
    "goal": (
        "admin:goals_goal_change",
        lambda world: world.short,
        {"description": None, "targets": None, "attributes": None, "deadline": AT},
    ),
    "practice session": (
        "admin:goals_practicesession_change",
        lambda world: world.session,
        {"description": None, "session_data": None, "session_start": AT, "session_end": LATER},
    ),
    "activity instance": (
        "admin:practice_sessions_activityinstance_change",
        lambda world: world.instance,
        {
            "notes": None,
            "data": None,
            "time_start": AT,
            "time_stop": LATER,
            "duration_seconds": 2731,  # the legacy app rounded 2730.53 s
        },
    ),
    "session template": (
        "admin:goals_sessiontemplate_change",
        lambda world: world.template,
        {"description": None},
    ),
    "program": (
        "admin:practice_sessions_program_change",
        lambda world: world.program,
        {"description": None, "start_date": AT, "end_date": LATER},
    ),
    "program day": (
        "admin:practice_sessions_programday_change",
        lambda world: _scheduled_session(world).day,
        {"notes": None},
    ),
    "scheduled session": (
        "admin:practice_sessions_scheduledsession_change",
        _scheduled_session,
        {"completion_data": None},
    ),
}


@pytest.mark.parametrize("case", UNTOUCHED)
def test_saving_an_untouched_page_keeps_the_rows_values_as_read(case, alice):
    """NULL text stays NULL (it became ''), times keep their microseconds (they were cut), on
    the row and on every row of its page; the history says no field changed."""
    url_name, row_of, legacy = UNTOUCHED[case]
    row = row_of(alice)
    model = type(row)._base_manager
    model.filter(pk=row.pk).update(**legacy)
    rows = [alice.short, alice.session, alice.instance, alice.template, alice.program, row]

    def stored() -> list[dict]:
        return [
            {
                name: value
                for name, value in model_to_dict(type(each)._base_manager.get(pk=each.pk)).items()
                if name != "updated_at"
            }
            for each in rows
        ]

    before = stored()
    url = reverse(url_name, args=[row.pk])
    response = alice.client.post(url, form_data(alice.client.get(url)))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert stored() == before
    entry = LogEntry.objects.get(object_id=row.pk)
    assert entry.get_change_message() == "No fields changed."


def test_a_sessions_own_times_stay_until_its_activities_times_are_edited(alice):
    """A legacy session whose times differ from its timed activity's keeps them when saved
    untouched or with another field changed (they were recomputed at every save); an activity's
    time edited on the page makes them follow."""
    ActivityInstance.objects.filter(pk=alice.instance.pk).update(
        time_start=datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
        time_stop=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        duration_seconds=1800,
    )
    legacy = {"session_start": AT, "session_end": LATER, "total_duration_seconds": 2730}
    Goal.all_objects.filter(pk=alice.session.pk).update(**legacy)
    url = reverse("admin:goals_practicesession_change", args=[alice.session.pk])

    def times() -> tuple:
        session = Goal.all_objects.get(pk=alice.session.pk)
        return session.session_start, session.session_end, session.total_duration_seconds

    data = form_data(alice.client.get(url))
    assert alice.client.post(url, data).status_code == 302
    assert times() == (AT, LATER, 2730)
    changed = {**data, "description": "felt strong", "activity_instances-0-completed": "on"}
    assert alice.client.post(url, changed).status_code == 302
    assert times() == (AT, LATER, 2730)
    assert ActivityInstance.objects.get(pk=alice.instance.pk).completed

    data = form_data(alice.client.get(url))
    data["activity_instances-0-time_stop_1"] = "09:40:00"
    assert alice.client.post(url, data).status_code == 302
    assert times() == (
        datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 9, 40, tzinfo=UTC),
        2400,
    )


def test_an_activitys_page_saved_without_its_times_leaves_the_sessions_times(alice):
    """The activity's own page recomputes its session's times only when its times or its
    session change there."""
    ActivityInstance.objects.filter(pk=alice.instance.pk).update(
        time_start=datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
        time_stop=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        duration_seconds=1800,
    )
    Goal.all_objects.filter(pk=alice.session.pk).update(
        session_start=AT, session_end=LATER, total_duration_seconds=2730
    )
    url = reverse("admin:practice_sessions_activityinstance_change", args=[alice.instance.pk])
    data = form_data(alice.client.get(url))
    assert alice.client.post(url, {**data, "notes": "knees ok"}).status_code == 302
    session = Goal.all_objects.get(pk=alice.session.pk)
    assert (session.session_start, session.session_end) == (AT, LATER)
    data = form_data(alice.client.get(url))
    assert alice.client.post(url, {**data, "time_stop_1": "09:50:00"}).status_code == 302
    session = Goal.all_objects.get(pk=alice.session.pk)
    assert (session.session_end, session.total_duration_seconds) == (
        datetime(2026, 3, 1, 9, 50, tzinfo=UTC),
        3000,
    )


def test_a_template_saved_untouched_keeps_its_description_null(alice):
    """The template's form, which writes `template_data` from its picked activities, keeps a
    NULL description as NULL too."""
    SessionTemplate.objects.filter(pk=alice.template.pk).update(description=None)
    url = reverse("admin:goals_sessiontemplate_change", args=[alice.template.pk])
    data = form_data(alice.client.get(url))
    assert alice.client.post(url, {**data, "name": "Renamed"}).status_code == 302
    template = SessionTemplate.objects.get(pk=alice.template.pk)
    assert (template.name, template.description) == ("Renamed", None)
