"""The admin on broken data and invalid input: pages render, forms answer with errors, never 500."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from goals.models import (
    ActivityDefinition,
    ActivityGroup,
    Goal,
    MetricDefinition,
    SessionTemplate,
    SplitDefinition,
)
from goals.selectors import MAX_TREE_DEPTH, PLACE_SEPARATOR
from sessions.models import ActivityInstance, MetricValue
from tests.admin_forms import form_data

pytestmark = pytest.mark.django_db


def _set_parent(goal_id: str, parent_id: str) -> None:
    # Raw SQL: the model never lets a goal become its own ancestor, legacy files did.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE goals SET parent_id = %s WHERE id = %s", [parent_id, goal_id])


def test_the_goal_list_renders_goals_whose_parents_form_a_cycle(alice, admin_client):
    """Two goals that are each other's parent and a goal that is its own parent still list."""
    first = Goal.objects.create(type="MidTermGoal", name="Cycle first", parent=alice.fractal)
    second = Goal.objects.create(type="ShortTermGoal", name="Cycle second", parent=first)
    alone = Goal.objects.create(type="LongTermGoal", name="Own parent", parent=alice.fractal)
    _set_parent(first.pk, second.pk)
    _set_parent(alone.pk, alone.pk)
    response = admin_client.get(reverse("admin:goals_goal_changelist"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Cycle first" in page and "Cycle second" in page and "Own parent" in page
    # The walk up the tree stops at MAX_TREE_DEPTH instead of going round for ever.
    assert PLACE_SEPARATOR.join(["Own parent"] * MAX_TREE_DEPTH) in page
    # The fractal's tree lists the goals of a cycle apart, each with its branch once.
    tree = admin_client.get(reverse("admin:goals_fractal_tree", args=[alice.fractal.pk]))
    assert tree.status_code == 200
    for goal in (first, second, alone):
        assert tree.content.decode().count(f'<li id="goal-{goal.pk}">') == 1, goal.name


def test_the_page_of_a_goal_that_is_its_own_parent_renders(alice, admin_client):
    """A goal whose parent is itself opens in the admin, listing itself as its child."""
    alone = Goal.objects.create(type="LongTermGoal", name="Own parent", parent=alice.fractal)
    _set_parent(alone.pk, alone.pk)
    response = admin_client.get(reverse("admin:goals_goal_change", args=[alone.pk]))
    assert response.status_code == 200
    assert f'href="{reverse("admin:goals_goal_change", args=[alone.pk])}">Own parent</a>' in (
        response.content.decode()
    )


START = {"_0": "2026-03-01", "_1": "10:00:00"}
EARLIER = {"_0": "2026-03-01", "_1": "09:00:00"}


def _at(prefix: str, moment: dict[str, str]) -> dict[str, str]:
    return {f"{prefix}{suffix}": value for suffix, value in moment.items()}


INVALID_CHANGES = {
    "goal without a name": (
        "admin:goals_goal_change",
        "short",
        {"name": ""},
        "This field is required.",
    ),
    "goal deadline not a date": (
        "admin:goals_goal_change",
        "short",
        {"deadline_0": "not a date", "deadline_1": "10:00:00"},
        "Enter a valid date.",
    ),
    "goal deadline on month 13": (
        "admin:goals_goal_change",
        "short",
        {"deadline_0": "2024-13-45", "deadline_1": "10:00:00"},
        "Enter a valid date.",
    ),
    "session ending before it starts": (
        "admin:goals_practicesession_change",
        "session",
        {**_at("session_start", START), **_at("session_end", EARLIER)},
        "before it starts",
    ),
    "session of negative duration": (
        "admin:goals_practicesession_change",
        "session",
        {"total_duration_seconds": "-5"},
        "total duration is 0 seconds or more.",
    ),
    "inline activity stopped before it started": (
        "admin:goals_practicesession_change",
        "session",
        {
            **_at("activity_instances-0-time_start", START),
            **_at("activity_instances-0-time_stop", EARLIER),
        },
        "is before the start time",
    ),
    "activity stopped before it started": (
        "admin:practice_sessions_activityinstance_change",
        "instance",
        {**_at("time_start", START), **_at("time_stop", EARLIER)},
        "is before the start time",
    ),
    "metric value typed on the session page not a number": (
        "admin:goals_practicesession_change",
        "session",
        {"activity_instances-0-metric_values-v-{value}": "heavy"},
        "“heavy” is not a number.",
    ),
    "metric value typed on the session page beyond a float": (
        "admin:goals_practicesession_change",
        "session",
        {"activity_instances-0-metric_values-v-{value}": "1e999"},
        "“1e999” is not a number.",
    ),
    "metric value not a number": (
        "admin:practice_sessions_metricvalue_change",
        "value",
        {"value": "heavy"},
        "Enter a number.",
    ),
    "metric value nan": (
        "admin:practice_sessions_metricvalue_change",
        "value",
        {"value": "nan"},
        "Enter a number.",
    ),
    "metric value beyond a float": (
        "admin:practice_sessions_metricvalue_change",
        "value",
        {"value": "1e999"},
        "Enter a number.",
    ),
    "inline metric value not a number": (
        "admin:practice_sessions_activityinstance_change",
        "instance",
        {"metric_values-0-value": "heavy"},
        "Enter a number.",
    ),
    "goal targets not JSON": (
        "admin:goals_goal_change",
        "short",
        {"targets": "{not json"},
        "Not valid JSON (Expecting property name enclosed in double quotes",
    ),
    "session data not JSON": (
        "admin:goals_practicesession_change",
        "session",
        {"session_data": "[1, 2"},
        "Not valid JSON (Expecting",
    ),
    "goal targets nested deeper than Python reads": (
        "admin:goals_goal_change",
        "short",
        {"targets": "[" * 5000 + "]" * 5000},
        "Not valid JSON (nested too deeply to read)",
    ),
    "goal targets half of a surrogate pair": (
        "admin:goals_goal_change",
        "short",
        {"targets": '"\\ud800"'},
        "Not valid JSON (\\ud800 is half of a surrogate pair, not a character: write the "
        "character itself, or both halves of its pair).",
    ),
    "session data holding half of a surrogate pair": (
        "admin:goals_practicesession_change",
        "session",
        {"session_data": '{"a": "\\udc00"}'},
        "Not valid JSON (\\udc00 is half of a surrogate pair",
    ),
    "goal attributes keyed by half of a surrogate pair": (
        "admin:goals_goal_change",
        "short",
        {"attributes": '{"\\udbff": 1}'},
        "Not valid JSON (\\udbff is half of a surrogate pair",
    ),
    "goal targets NaN": (
        "admin:goals_goal_change",
        "short",
        {"targets": '{"reps": NaN}'},
        "Not valid JSON (NaN is not a JSON number: write a number, or null).",
    ),
    "goal targets Infinity": (
        "admin:goals_goal_change",
        "short",
        {"targets": "[Infinity]"},
        "Not valid JSON (Infinity is not a JSON number: write a number, or null).",
    ),
    "session data -Infinity": (
        "admin:goals_practicesession_change",
        "session",
        {"session_data": "-Infinity"},
        "Not valid JSON (-Infinity is not a JSON number: write a number, or null).",
    ),
    "goal targets with a key repeated": (
        "admin:goals_goal_change",
        "short",
        {"targets": '{"a": 1, "a": 2}'},
        "Not valid JSON (the key “a” appears more than once in one object).",
    ),
    "template activity unknown": (
        "admin:goals_sessiontemplate_change",
        "template",
        {"activities": "no-such-activity"},
        "Select a valid choice: one of the picked rows is not available.",
    ),
}


@pytest.mark.parametrize("case", INVALID_CHANGES)
def test_invalid_change_is_answered_with_an_error_and_saves_nothing(case, alice, admin_client):
    """Invalid input on a change page re-renders it (200) with the error; no row changes."""
    url_name, attribute, changes, message = INVALID_CHANGES[case]
    target = getattr(alice, attribute)
    url = reverse(url_name, args=[target.pk])
    data = form_data(admin_client.get(url))
    rows = [alice.short, alice.session, alice.instance, alice.value, alice.template]
    before = [model_to_dict(type(row)._base_manager.get(pk=row.pk)) for row in rows]
    changes = {name.format(value=alice.value.pk): value for name, value in changes.items()}
    response = admin_client.post(url, {**data, **changes})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert [model_to_dict(type(row)._base_manager.get(pk=row.pk)) for row in rows] == before
    # The same page posted as rendered saves: the error came from the invalid value alone.
    assert admin_client.post(url, data).status_code == 302


def test_adding_a_goal_without_a_name_is_an_error(alice, admin_client):
    """The add page answers a nameless goal with the required-field error and creates nothing."""
    count = Goal.all_objects.count()
    url = reverse("admin:goals_goal_add")
    data = {"type": "LongTermGoal", "parent": alice.fractal.pk, "sort_order": "0"}
    response = admin_client.post(url, {**data, "name": ""})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"name": ["This field is required."]}
    assert "This field is required." in response.content.decode()
    assert Goal.all_objects.count() == count
    assert admin_client.post(url, {**data, "name": "Run a marathon"}).status_code == 302
    assert Goal.all_objects.count() == count + 1


def test_a_goal_holding_legacy_broken_json_stays_editable(alice, admin_client):
    """JSON is checked when edited: a legacy row's broken attributes do not block a rename."""
    Goal.all_objects.filter(pk=alice.short.pk).update(attributes="{legacy: not json")
    url = reverse("admin:goals_goal_change", args=[alice.short.pk])
    data = form_data(admin_client.get(url))
    assert admin_client.post(url, {**data, "name": "Renamed"}).status_code == 302
    kept = Goal.all_objects.get(pk=alice.short.pk)
    assert (kept.name, kept.attributes) == ("Renamed", "{legacy: not json")


SESSION_ONLY = {
    "session_start_0": "2026-03-01",
    "session_start_1": "10:00:00",
    "session_end_0": "2026-03-01",
    "session_end_1": "11:00:00",
    "total_duration_seconds": "3600",
    "duration_minutes": "60",
    "session_data": '{"energy": 4}',
}


def test_a_new_goal_of_another_type_than_a_session_refuses_a_sessions_fields(alice, admin_client):
    """The add page, where the type is chosen, refuses a template, times, durations and
    session data on a goal that is not a practice session, each field saying why (they were
    saved, and hidden on the goal's page); left empty, the goal is created without them."""
    count = Goal.all_objects.count()
    url = reverse("admin:goals_goal_add")
    data = {"name": "Run", "type": "MidTermGoal", "parent": alice.short.parent_id}
    data["sort_order"] = "0"
    session_only = {**SESSION_ONLY, "template": alice.template.pk}
    response = admin_client.post(url, {**data, **session_only})
    assert response.status_code == 200
    message = (
        "Only practice sessions have this field: leave it empty for a mid-term goal, or "
        "choose the type Practice session."
    )
    assert response.context["adminform"].form.errors == {
        name: [message]
        for name in (
            "template",
            "session_start",
            "session_end",
            "total_duration_seconds",
            "duration_minutes",
            "session_data",
        )
    }
    assert Goal.all_objects.count() == count
    assert admin_client.post(url, data).status_code == 302
    created = Goal.all_objects.get(name="Run")
    assert created.template_id is None and created.session_start is None
    assert not created.session_data
    session = {**data, **session_only, "name": "Drills", "type": "PracticeSession"}
    session["parent"] = alice.short.pk
    assert admin_client.post(url, session).status_code == 302
    assert Goal.all_objects.get(name="Drills").template_id == alice.template.pk


def test_a_goals_change_page_ignores_a_sessions_fields_posted_to_it(alice, admin_client):
    """The page of a goal that is not a session has none of a session's fields: posted anyway,
    they are not saved."""
    url = reverse("admin:goals_goal_change", args=[alice.short.pk])
    posted = {**SESSION_ONLY, "template": alice.template.pk}
    response = admin_client.post(url, {**form_data(admin_client.get(url)), **posted})
    assert response.status_code == 302
    goal = Goal.all_objects.get(pk=alice.short.pk)
    assert (goal.template_id, goal.session_start, goal.total_duration_seconds) == (None, None, None)
    assert (goal.duration_minutes, goal.session_data) == (None, None)


@pytest.mark.parametrize("goal_type", ["", "EpicGoal"])
def test_adding_a_goal_of_no_or_an_unknown_type_is_an_error(goal_type, admin_client):
    """A missing or unknown type is a field error, not a failure of the tree's order check."""
    url = reverse("admin:goals_goal_add")
    response = admin_client.post(url, {"name": "Typeless", "type": goal_type, "sort_order": "0"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["type"]
    assert not Goal.all_objects.filter(name="Typeless").exists()


LIVE_NAMES = {
    # page, the row of alice's world it edits, a factory of a sibling in the same scope
    "activity": (
        "admin:goals_activitydefinition_change",
        lambda world: world.activity,
        lambda world, name: ActivityDefinition.objects.create(name=name, root=world.fractal),
        "Activity definition “{name}” already exists in this fractal",
    ),
    "session template": (
        "admin:goals_sessiontemplate_change",
        lambda world: world.template,
        lambda world, name: SessionTemplate.objects.create(name=name, root=world.fractal),
        "Session template “{name}” already exists in this fractal",
    ),
    "metric": (
        "admin:goals_metricdefinition_change",
        lambda world: world.metric,
        lambda world, name: MetricDefinition.objects.create(
            name=name, activity=world.metric.activity
        ),
        "Metric definition “{name}” already exists in this activity",
    ),
}


@pytest.mark.parametrize("case", LIVE_NAMES)
def test_a_name_repeated_among_live_rows_is_answered_on_the_form(case, alice, admin_client):
    """A name taken by a live row of the same scope is the name field's error, not the database's
    (an error page); no row changes. Once that row is deleted, its name may be taken."""
    url_name, row_of, sibling_of, message = LIVE_NAMES[case]
    row = row_of(alice)
    sibling = sibling_of(alice, "Taken")
    url = reverse(url_name, args=[row.pk])
    data = form_data(admin_client.get(url))
    before = model_to_dict(type(row)._base_manager.get(pk=row.pk))
    response = admin_client.post(url, {**data, "name": "Taken"})
    assert response.status_code == 200
    assert message.format(name="Taken") in response.content.decode()
    assert model_to_dict(type(row)._base_manager.get(pk=row.pk)) == before
    type(sibling)._base_manager.filter(pk=sibling.pk).update(deleted_at=timezone.now())
    assert admin_client.post(url, {**data, "name": "Taken"}).status_code == 302
    assert type(row)._base_manager.get(pk=row.pk).name == "Taken"


@pytest.mark.parametrize("inline", ["metric_definitions", "split_definitions"])
def test_two_new_inline_rows_of_one_name_are_answered_on_the_form(inline, alice, admin_client):
    """Two rows added on an activity's page under one name: the second's name field says so (it
    was the database's refusal, an error page); no row is added. One of them alone is saved."""
    url = reverse("admin:goals_activitydefinition_change", args=[alice.activity.pk])
    data = form_data(admin_client.get(url))
    count = int(data[f"{inline}-TOTAL_FORMS"])
    model = MetricDefinition if inline == "metric_definitions" else SplitDefinition
    before = model._base_manager.count()
    extra = {"name": "Same", "unit": "kg", "sort_order": "0", "order": "0"}
    posted = {**data, f"{inline}-TOTAL_FORMS": str(count + 2)}
    for index in (count, count + 1):
        posted.update({f"{inline}-{index}-{field}": value for field, value in extra.items()})
    response = admin_client.post(url, posted)
    assert response.status_code == 200
    assert "Another row here has this name too: give each its own." in response.content.decode()
    assert model._base_manager.count() == before
    posted[f"{inline}-TOTAL_FORMS"] = str(count + 1)
    assert admin_client.post(url, posted).status_code == 302
    assert model._base_manager.count() == before + 1


def test_deleting_a_metric_with_values_on_its_activitys_page_is_a_soft_delete(alice, admin_client):
    """DELETE ticked on a metric of the activity's page deletes it as its own page does: it is
    marked deleted and its values stay (Django's check of a hard delete refused it, naming the
    values as protected). The session page still shows the value, under the deleted metric."""
    url = reverse("admin:goals_activitydefinition_change", args=[alice.activity.pk])
    data = form_data(admin_client.get(url))
    assert data["metric_definitions-0-id"] == alice.metric.pk
    response = admin_client.post(url, {**data, "metric_definitions-0-DELETE": "on"})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert MetricDefinition.all_objects.get(pk=alice.metric.pk).deleted_at is not None
    assert MetricValue.objects.get(pk=alice.value.pk).metric_definition_id == alice.metric.pk
    assert alice.metric.name not in admin_client.get(url).content.decode()
    session = reverse("admin:goals_practicesession_change", args=[alice.session.pk])
    page = admin_client.get(session).content.decode()
    assert f'name="activity_instances-0-metric_values-v-{alice.value.pk}" value="42.5"' in page


def test_deleting_a_split_with_values_on_its_activitys_page_is_a_soft_delete(alice, admin_client):
    """The same for a split that values were recorded for."""
    split = SplitDefinition.objects.create(activity=alice.activity, name="Left", order=0)
    MetricValue.objects.filter(pk=alice.value.pk).update(split_definition=split)
    url = reverse("admin:goals_activitydefinition_change", args=[alice.activity.pk])
    data = form_data(admin_client.get(url))
    assert data["split_definitions-0-id"] == split.pk
    response = admin_client.post(url, {**data, "split_definitions-0-DELETE": "on"})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert SplitDefinition.all_objects.get(pk=split.pk).deleted_at is not None
    assert MetricValue.objects.get(pk=alice.value.pk).split_definition_id == split.pk


@pytest.mark.parametrize(
    ("url_name", "row_of", "field"),
    [
        ("admin:goals_activitydefinition_change", lambda world: world.activity, "root"),
        ("admin:goals_sessiontemplate_change", lambda world: world.template, "root"),
        ("admin:goals_metricdefinition_change", lambda world: world.metric, "activity"),
    ],
)
def test_a_definition_stays_in_its_fractal_on_its_change_page(
    url_name, row_of, field, alice, bob, admin_client
):
    """The field placing a definition in its fractal is shown, not edited: posted anyway (by a
    superuser, who sees every fractal), it is ignored, so the sessions' records that name the
    definition never point into another fractal."""
    row = row_of(alice)
    url = reverse(url_name, args=[row.pk])
    page = admin_client.get(url)
    assert f'name="{field}"' not in page.content.decode()
    elsewhere = {"root": bob.fractal.pk, "activity": bob.activity.pk}[field]
    assert admin_client.post(url, {**form_data(page), field: elsewhere}).status_code == 302
    assert type(row)._base_manager.get(pk=row.pk).root_id == alice.fractal.pk


def test_a_new_session_without_a_parent_is_answered_on_the_form(alice, admin_client):
    """A new session takes its fractal from its parent: without one the add page says so (not an
    error page) and creates nothing."""
    count = Goal.all_objects.count()
    url = reverse("admin:goals_practicesession_add")
    data = form_data(admin_client.get(url))
    response = admin_client.post(url, {**data, "name": "Drills"})
    assert response.status_code == 200
    assert "Choose the goal this session serves" in response.content.decode()
    assert Goal.all_objects.count() == count
    assert (
        admin_client.post(url, {**data, "name": "Drills", "parent": alice.short.pk}).status_code
        == 302
    )
    assert Goal.all_objects.count() == count + 1


def test_a_new_parentless_session_on_the_goals_page_is_answered_on_the_form(alice, admin_client):
    """The goals' own add page, where the type is chosen, says the same (it was an error page:
    the session's fractal could not be found on save)."""
    count = Goal.all_objects.count()
    url = reverse("admin:goals_goal_add")
    data = form_data(admin_client.get(url))
    response = admin_client.post(url, {**data, "name": "Drills", "type": "PracticeSession"})
    assert response.status_code == 200
    assert "Choose the goal this session serves" in response.content.decode()
    assert Goal.all_objects.count() == count


def test_deeply_nested_json_is_shown_as_its_text(alice, admin_client):
    """JSON nested deeper than a person reads as lists (here 300 levels, valid and saved) is shown
    as its text on the goal's and the fractal's pages (they were error pages)."""
    deep = "[" * 300 + "1" + "]" * 300
    Goal.all_objects.filter(pk=alice.short.pk).update(targets=deep, attributes=deep)
    for url in (
        reverse("admin:goals_goal_change", args=[alice.short.pk]),
        reverse("admin:goals_fractal_change", args=[alice.short.root_id]),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200


@pytest.mark.parametrize(
    "text",
    ['{"a": "\\udc00"}', '"\\ud800"', '{"reps": NaN}', '{"a": 1, "a": 2}'],
    ids=["half a pair in an object", "half a pair alone", "NaN", "a key repeated"],
)
def test_json_a_form_refuses_held_by_a_legacy_row_is_shown_as_its_text(text, alice, admin_client):
    """Legacy text the JSON boxes refuse is shown as it is, as other text that is not JSON (half
    a surrogate pair was an error page: no page can encode it), and the row stays editable."""
    Goal.all_objects.filter(pk=alice.session.pk).update(
        targets=text, attributes=text, session_data=text
    )
    for url in (
        reverse("admin:goals_goal_change", args=[alice.session.pk]),
        reverse("admin:goals_practicesession_change", args=[alice.session.pk]),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200
        assert f'<div class="readonly">{escape(text)}</div>' in response.content.decode()
        data = form_data(response)
        assert admin_client.post(url, {**data, "name": "Renamed"}).status_code == 302
    kept = Goal.all_objects.get(pk=alice.session.pk)
    assert (kept.name, kept.targets, kept.attributes, kept.session_data) == (
        "Renamed",
        text,
        text,
        text,
    )


def test_a_whole_surrogate_pair_is_json_and_shown_as_its_character(alice, admin_client):
    """Both halves of a pair escaped are one character: taken, and shown as it."""
    url = reverse("admin:goals_goal_change", args=[alice.short.pk])
    data = form_data(admin_client.get(url))
    targets = '{"mood": "\\ud83d\\ude00"}'
    assert admin_client.post(url, {**data, "targets": targets}).status_code == 302
    assert Goal.all_objects.get(pk=alice.short.pk).targets == targets
    page = admin_client.get(url).content.decode()
    assert "<li><strong>mood</strong>: \U0001f600</li>" in page


def test_a_template_nested_deeper_than_python_reads_says_its_json_is_invalid(alice):
    """A template whose data no parser reads is refused with the template's own message (it was
    a RecursionError)."""
    alice.template.template_data = "[" * 5000 + "]" * 5000
    with pytest.raises(ValidationError, match="invalid JSON in template_data"):
        alice.template.activity_ids()


def test_an_instance_moved_to_another_fractals_session_keeping_its_activity_is_refused(
    alice, bob, admin_client
):
    """An instance given a session of another fractal on its own page would keep an activity of
    the fractal it leaves: refused on the form, as a reference set into another fractal is (it
    was saved). Moved with an activity of the new fractal, it goes."""
    url = reverse("admin:practice_sessions_activityinstance_change", args=[alice.instance.pk])
    data = form_data(admin_client.get(url))
    response = admin_client.post(url, {**data, "practice_session": bob.session.pk})
    assert response.status_code == 200
    assert "belongs to another fractal" in response.content.decode()
    assert ActivityInstance.objects.get(pk=alice.instance.pk).root_id == alice.fractal.pk
    moved = {**data, "practice_session": bob.session.pk, "activity_definition": bob.activity.pk}
    moved = {key: value for key, value in moved.items() if not key.startswith("metric_values-")}
    moved.update({"metric_values-TOTAL_FORMS": "0", "metric_values-INITIAL_FORMS": "0"})
    MetricValue.objects.filter(activity_instance=alice.instance).delete()
    assert admin_client.post(url, moved).status_code == 302
    assert ActivityInstance.objects.get(pk=alice.instance.pk).root_id == bob.fractal.pk


def test_a_value_takes_a_metric_of_its_instances_activity(alice, admin_client):
    """The metric value page refuses a metric of another activity of the same fractal (it was
    saved); a legacy value that already has one keeps it when another field is edited."""
    other = MetricDefinition.objects.create(
        name="Reps", activity=ActivityDefinition.objects.create(name="Row", root=alice.fractal)
    )
    url = reverse("admin:practice_sessions_metricvalue_change", args=[alice.value.pk])
    data = form_data(admin_client.get(url))
    response = admin_client.post(url, {**data, "metric_definition": other.pk})
    assert response.status_code == 200
    assert "is a metric definition of another activity" in response.content.decode()
    assert MetricValue.objects.get(pk=alice.value.pk).metric_definition_id != other.pk
    MetricValue.objects.filter(pk=alice.value.pk).update(metric_definition=other)
    data = form_data(admin_client.get(url))
    assert admin_client.post(url, {**data, "value": "7"}).status_code == 302
    assert MetricValue.objects.get(pk=alice.value.pk).value == 7


def test_a_malformed_recycle_bin_date_shows_the_newest_deletions(alice, admin_client):
    """A date that cannot be (the 30th of February, hour 25) in the recycle bin's link is said so,
    and the newest deletions are shown (it was an error page)."""
    for before in ("2025-02-30T10:00:00", "2025-01-01T25:00:00", "yesterday"):
        response = admin_client.get(reverse("admin:recycle_bin"), {"before": before})
        assert response.status_code == 200
        assert "is not a date and time" in response.content.decode()


def test_a_reference_into_another_fractal_is_refused_in_the_admin(alice, bob, admin_client):
    """An instance's activity and a session's template come from the row's own fractal: set in
    a form to a row of another one (a superuser's choices span every fractal), it is the field's
    error and nothing is saved. A reference a legacy row already holds stays, so the row stays
    editable."""
    cases = [
        (
            "admin:practice_sessions_activityinstance_change",
            alice.instance,
            "activity_definition",
            bob.activity,
            "“Bob squat” belongs to another fractal: this activity instance takes "
            "its activity definition from its own.",
        ),
        (
            "admin:goals_practicesession_change",
            alice.session,
            "template",
            bob.template,
            "“Bob template” belongs to another fractal",
        ),
    ]
    for url_name, row, field, elsewhere, message in cases:
        url = reverse(url_name, args=[row.pk])
        data = form_data(admin_client.get(url))
        before = model_to_dict(type(row)._base_manager.get(pk=row.pk))
        response = admin_client.post(url, {**data, field: elsewhere.pk})
        assert response.status_code == 200, field
        assert message in response.content.decode()
        assert model_to_dict(type(row)._base_manager.get(pk=row.pk)) == before
    # A legacy link into another fractal, held already, does not stop other edits.
    Goal._base_manager.filter(pk=alice.session.pk).update(template=bob.template)
    url = reverse("admin:goals_practicesession_change", args=[alice.session.pk])
    data = form_data(admin_client.get(url))
    assert admin_client.post(url, {**data, "description": "kept"}).status_code == 302
    assert Goal._base_manager.get(pk=alice.session.pk).description == "kept"


def test_an_activity_without_a_fractal_yet_is_told_only_that(alice, admin_client):
    """On the add page, a group chosen before the fractal is not judged against a fractal that
    is not there: the one error is the missing fractal."""
    group = ActivityGroup.objects.create(name="Alice legs", root=alice.fractal)
    url = reverse("admin:goals_activitydefinition_add")
    data = form_data(admin_client.get(url))
    response = admin_client.post(url, {**data, "name": "Lunge", "group": group.pk, "root": ""})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"root": ["This field is required."]}


def _moved_with_a_new_instance(admin_client, world, to_short, activity):
    """`world`'s session page posted with its parent set to `to_short` (another fractal's) and
    a new activity instance of `activity`, in one submission."""
    url = reverse("admin:goals_practicesession_change", args=[world.session.pk])
    data = form_data(admin_client.get(url))
    prefix = "activity_instances"
    row = int(data[f"{prefix}-TOTAL_FORMS"])
    data |= {
        "parent": to_short.pk,
        f"{prefix}-TOTAL_FORMS": str(row + 1),
        f"{prefix}-{row}-id": "",
        f"{prefix}-{row}-practice_session": world.session.pk,
        f"{prefix}-{row}-activity_definition": activity.pk,
        f"{prefix}-{row}-sort_order": "1",
    }
    return admin_client.post(url, data)


def test_an_instance_added_while_its_session_moves_is_judged_by_the_new_fractal(
    alice, bob, admin_client
):
    """A session moved to another fractal in the same submission that adds an instance gives
    the instance the new fractal: an activity of that fractal is taken, one of the old fractal
    is the field's error and nothing is saved."""
    refused = _moved_with_a_new_instance(admin_client, alice, bob.short, alice.activity)
    assert refused.status_code == 200
    assert "“Alice squat” belongs to another fractal" in refused.content.decode()
    assert Goal.objects.get(pk=alice.session.pk).parent_id == alice.short.pk

    taken = _moved_with_a_new_instance(admin_client, alice, bob.short, bob.activity)
    assert taken.status_code == 302
    added = ActivityInstance.objects.get(
        practice_session=alice.session, activity_definition=bob.activity
    )
    assert added.root_id == bob.fractal.pk
