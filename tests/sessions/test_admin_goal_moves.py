"""The admin's goal form moves a goal whole or not at all, and keeps the tree's order."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from goals.admin.goals import GoalForm
from goals.models import Goal, GoalType, PracticeSession, PracticeSessionGoal, SessionTemplate
from goals.services import goal_move
from goals_project.maintenance.verification import root_id_report
from sessions.models import ActivityInstance, MetricValue, Program
from tests.admin_forms import form_data, rows_off_their_chain, tree_snapshot
from tests.factories import MidTermGoalFactory, ShortTermGoalFactory

pytestmark = pytest.mark.django_db


def change(client, goal: Goal, **changes):
    """Post the goal's change page as rendered, with `changes`."""
    url = reverse("admin:goals_goal_change", args=[goal.pk])
    return client.post(url, {**form_data(client.get(url)), **changes})


def errors_of(response) -> list[str]:
    assert response.status_code == 200, "the form was expected to refuse the change"
    form = response.context["adminform"].form
    return [message for messages in form.errors.values() for message in messages]


def test_a_superuser_moves_a_goal_into_another_owners_fractal_whole(alice, bob, admin_client):
    """Alice's short-term goal moves under Bob's mid-term goal with its session, the session
    linked to it, their activity instance and metric value: all take Bob's fractal; Alice's own
    rows stay where they were."""
    linked = PracticeSession.objects.create(name="Alice linked", root=alice.fractal)
    PracticeSessionGoal.objects.create(practice_session=linked, short_term_goal=alice.short)
    target = MidTermGoalFactory(name="Bob mid", parent=bob.short.parent)
    stamped = Goal.objects.get(pk=alice.session.pk).updated_at
    response = change(admin_client, alice.short, parent=target.pk)
    assert response.status_code == 302, errors_of(response)
    # goal_move stamps every goal of the moved subtree, not only the goal whose form was saved.
    assert Goal.objects.get(pk=alice.session.pk).updated_at > stamped
    moved = [alice.short, alice.session, linked]
    assert set(Goal.objects.filter(pk__in=[g.pk for g in moved]).values_list("root_id")) == {
        (bob.fractal.pk,)
    }
    assert Goal.objects.get(pk=alice.short.pk).parent_id == target.pk
    assert ActivityInstance.objects.get(pk=alice.instance.pk).root_id == bob.fractal.pk
    assert MetricValue.objects.get(pk=alice.value.pk).root_id == bob.fractal.pk
    assert Goal.objects.get(pk=alice.short.parent_id).root_id == alice.fractal.pk
    assert root_id_report().ok
    assert rows_off_their_chain() == []


def test_the_new_owner_deleting_a_moved_goal_leaves_the_first_owners_fractal_alone(
    alice, bob, admin_client
):
    """Once moved into Bob's fractal, Alice's goal is Bob's to delete; his deletion takes the goal,
    its session and activity instance, and no row still in Alice's fractal."""
    target = MidTermGoalFactory(name="Bob mid", parent=bob.short.parent)
    assert change(admin_client, alice.short, parent=target.pk).status_code == 302
    alice_rows = [
        Goal.objects.get(pk=alice.fractal.pk),
        Goal.objects.get(pk=alice.short.parent_id),
        alice.activity,
        alice.metric,
        alice.template,
        alice.program,
    ]
    url = reverse("admin:goals_goal_delete", args=[alice.short.pk])
    assert bob.client.post(url, {"post": "yes"}).status_code == 302
    assert Goal.deleted_objects.filter(pk__in=[alice.short.pk, alice.session.pk]).count() == 2
    assert ActivityInstance.deleted_objects.filter(pk=alice.instance.pk).exists()
    for row in alice_rows:
        kept = type(row)._base_manager.get(pk=row.pk)
        assert (getattr(kept, "deleted_at", None), kept.root_id) == (None, alice.fractal.pk), row
    assert SessionTemplate.objects.filter(root=alice.fractal).count() == 1
    assert Program.objects.filter(root=alice.fractal).count() == 1
    assert root_id_report().ok


def test_a_staff_user_cannot_move_a_goal_into_another_owners_fractal(alice, bob):
    """Bob's goal is not a choice for Alice's parent: a form error, and nothing changes."""
    target = MidTermGoalFactory(name="Bob mid", parent=bob.short.parent)
    before = tree_snapshot()
    response = change(alice.client, alice.short, parent=target.pk)
    assert any("Select a valid choice" in message for message in errors_of(response))
    assert tree_snapshot() == before


def test_goal_move_refuses_a_staff_users_move_between_fractals_and_keeps_the_goal(alice, bob):
    """The service the admin's form and save share refuses the move for Alice, even with her
    own goal, and leaves the goal in memory as it was; a superuser may make it."""
    target = MidTermGoalFactory(name="Bob mid", parent=bob.short.parent)
    goal = Goal.objects.get(pk=alice.short.pk)
    parent_id = goal.parent_id
    before = tree_snapshot()
    with pytest.raises(ValidationError, match="in a fractal you do not own"):
        goal_move(goal=goal, new_parent=target, user=alice.user)
    assert goal.parent_id == parent_id
    assert tree_snapshot() == before
    goal_move(goal=goal, new_parent=target, user=bob.user.__class__(is_superuser=True))
    assert Goal.objects.get(pk=goal.pk).root_id == bob.fractal.pk


def test_a_goal_taking_sessions_with_their_template_into_another_fractal_is_refused(
    alice, bob, admin_client
):
    """Alice's short-term goal moved under Bob's mid-term goal would take her session (and a
    session without a parent linked only to the goal) into Bob's fractal with templates of
    Alice's: the parent field says so, naming them, and nothing moves (the session was moved
    and its page then refused the template it kept). Without templates, the move is made."""
    Goal.objects.filter(pk=alice.session.pk).update(template=alice.template)
    linked = PracticeSession.objects.create(
        name="Alice linked", root=alice.fractal, template=alice.template
    )
    PracticeSessionGoal.objects.create(practice_session=linked, short_term_goal=alice.short)
    target = MidTermGoalFactory(name="Bob mid", parent=bob.short.parent)
    before = tree_snapshot()
    response = change(admin_client, alice.short, parent=target.pk)
    assert errors_of(response) == [
        "This move takes practice sessions into another fractal with a template that belongs "
        "to the fractal they leave: “Alice linked” with its template “Alice template”; "
        "“Alice session” with its template “Alice template”. A practice session takes its "
        "template from its own fractal: clear or change their template first."
    ]
    assert tree_snapshot() == before
    with pytest.raises(ValidationError, match="“Alice session” with its template"):
        goal_move(goal=Goal.objects.get(pk=alice.short.pk), new_parent=target)
    assert tree_snapshot() == before

    Goal.objects.filter(pk__in=[alice.session.pk, linked.pk]).update(template=None)
    assert change(admin_client, alice.short, parent=target.pk).status_code == 302
    assert Goal.objects.get(pk=linked.pk).root_id == bob.fractal.pk
    assert Goal.objects.get(pk=alice.session.pk).root_id == bob.fractal.pk


def test_only_sessions_a_move_takes_into_another_fractal_must_leave_their_template(
    alice, bob, admin_client
):
    """A move within the fractal takes the sessions with their templates; a session without a
    parent also linked to a goal that stays keeps its fractal and its template, so it does not
    stop a move into another fractal."""
    Goal.objects.filter(pk=alice.session.pk).update(template=alice.template)
    other_mid = MidTermGoalFactory(name="Alice other mid", parent=alice.short.parent.parent)
    assert change(admin_client, alice.short, parent=other_mid.pk).status_code == 302
    assert Goal.objects.get(pk=alice.session.pk).template_id == alice.template.pk

    Goal.objects.filter(pk=alice.session.pk).update(template=None)
    staying = ShortTermGoalFactory(name="Alice staying", parent=other_mid)
    shared = PracticeSession.objects.create(
        name="Alice shared", root=alice.fractal, template=alice.template
    )
    for short in (alice.short, staying):
        PracticeSessionGoal.objects.create(practice_session=shared, short_term_goal=short)
    target = MidTermGoalFactory(name="Bob mid", parent=bob.short.parent)
    assert change(admin_client, alice.short, parent=target.pk).status_code == 302
    assert Goal.objects.get(pk=alice.session.pk).root_id == bob.fractal.pk
    kept = Goal.objects.get(pk=shared.pk)
    assert (kept.root_id, kept.template_id) == (alice.fractal.pk, alice.template.pk)


def test_a_session_moved_to_another_fractal_keeping_its_template_is_refused(
    alice, bob, admin_client
):
    """The same rule on the session's own page: given a short-term goal of another fractal as
    parent, a session keeping its template is refused on the template field; nothing moves."""
    Goal.objects.filter(pk=alice.session.pk).update(template=alice.template)
    url = reverse("admin:goals_practicesession_change", args=[alice.session.pk])
    before = tree_snapshot()
    response = admin_client.post(url, {**form_data(admin_client.get(url)), "parent": bob.short.pk})
    assert errors_of(response) == [
        "“Alice template” belongs to another fractal: this practice session takes its template "
        "from its own."
    ]
    assert tree_snapshot() == before


@pytest.mark.parametrize("clear_parent", [False, True])
def test_changing_a_goals_type_to_ultimate_is_refused(clear_parent, alice, admin_client):
    """A long-term goal turned ultimate: under a parent it breaks the order, without one it
    would start a new fractal; either way a message, and nothing changes."""
    long = Goal.objects.get(pk=alice.short.parent_id)
    before = tree_snapshot()
    changes = {"type": GoalType.ULTIMATE, **({"parent": ""} if clear_parent else {})}
    messages = errors_of(change(admin_client, long, **changes))
    expected = (
        "this change would make it the root of a new fractal"
        if clear_parent
        else "An ultimate goal is the top of its fractal: it has no parent."
    )
    assert any(expected in message for message in messages), messages
    assert tree_snapshot() == before


def test_a_parent_cycle_is_refused(alice, admin_client):
    """A goal moved under its grandchild, or under itself, is refused and nothing changes."""
    long = Goal.objects.get(pk=alice.short.parent_id)
    before = tree_snapshot()
    for new_parent in (alice.short, long):
        messages = errors_of(change(admin_client, long, parent=new_parent.pk))
        assert messages == ["A goal cannot move under itself or one of its descendants."]
    assert tree_snapshot() == before


WRONG_PLACES = {
    "short-term under long-term": (
        "short",
        "long",
        "A short-term goal belongs under a mid-term goal, not under a long-term goal.",
    ),
    "session under mid-term": (
        "session",
        "mid",
        "A practice session belongs under a short-term goal, not under a mid-term goal.",
    ),
    "mid-term under a session": (
        "mid",
        "other session",
        "A mid-term goal belongs under a long-term goal, not under a practice session.",
    ),
    "long-term under an immediate goal": (
        "long",
        "other immediate",
        "A long-term goal belongs under an ultimate goal, not under an immediate goal.",
    ),
}


@pytest.mark.parametrize("case", WRONG_PLACES)
def test_a_placement_against_the_trees_order_is_refused(case, alice, bob, admin_client):
    """Moving a goal under a goal of the wrong type (outside its own subtree) is a parent error;
    nothing changes."""
    long = Goal.objects.get(pk=bob.short.parent_id)
    mid = MidTermGoalFactory(name="Bob mid", parent=long)
    short = Goal.objects.create(type=GoalType.SHORT_TERM, name="Bob short 2", parent=mid)
    session = Goal.objects.create(type=GoalType.PRACTICE_SESSION, name="Bob s2", parent=short)
    other = Goal.objects.create(type=GoalType.IMMEDIATE, name="Alice now", parent=alice.session)
    goals = {
        "long": long,
        "mid": mid,
        "short": short,
        "session": session,
        "other session": alice.session,
        "other immediate": other,
    }
    moving, under, message = WRONG_PLACES[case]
    before = tree_snapshot()
    response = change(admin_client, goals[moving], parent=goals[under].pk)
    assert response.context["adminform"].form.errors == {"parent": [message]}
    assert tree_snapshot() == before


@pytest.mark.parametrize(
    ("goal_type", "message"),
    [
        (
            GoalType.IMMEDIATE,
            "A fractal's root stays a root, and a goal inside a fractal stays inside: this change "
            "would turn a fractal's root into a goal of another fractal.",
        ),
        (GoalType.LONG_TERM, "Its children cannot hang under a long-term goal:"),
    ],
)
@pytest.mark.parametrize("url_name", ["admin:goals_goal_change", "admin:goals_fractal_change"])
def test_a_staff_user_changing_their_fractals_type_gets_a_message(
    url_name, goal_type, message, alice
):
    """On the goal form and the fractal form (which offers root types only) Alice's retyped
    fractal is refused with a message, never a server error; nothing changes."""
    url = reverse(url_name, args=[alice.fractal.pk])
    before = tree_snapshot()
    response = alice.client.post(url, {**form_data(alice.client.get(url)), "type": goal_type})
    messages = errors_of(response)
    if url_name == "admin:goals_fractal_change" and goal_type == GoalType.IMMEDIATE:
        message = "Select a valid choice. ImmediateGoal is not one of the available choices."
    assert any(message in shown for shown in messages), messages
    assert tree_snapshot() == before


def test_a_model_error_on_a_field_the_form_does_not_show_is_a_form_error(alice):
    """clean() naming `owner` on a form without it is shown as the form's own error."""

    class NameOnlyForm(GoalForm):
        class Meta:
            model = Goal
            fields = ["name"]

    goal = Goal.objects.get(pk=alice.short.pk)
    goal.owner = alice.user
    form = NameOnlyForm({"name": "Renamed"}, instance=goal)
    assert not form.is_valid()
    assert form.non_field_errors() == ["Only a fractal's root goal has an owner."]
    assert Goal.objects.get(pk=alice.short.pk).name == "Alice short"
