"""Random sequences of operations on a small fractal forest keep every row in its right fractal.

Moves (the service, as a superuser's or an owner's, and the admin's change form), type changes in
the admin, deletions and restores, and new goals, sessions, instances and values, on a forest of
roots of different root types and owners. After every step: `root_id_report()` finds nothing,
every row's root is the one its chain says (worked out here from the links alone), a refused
operation changed nothing, and the test's own prediction of refusal matches what happened.

The default profile runs a quick sample; `FRACTAL_HYPOTHESIS_PROFILE=thorough` runs many more.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from goals.models import ActivityDefinition, Goal, MetricDefinition, PracticeSessionGoal
from goals.roots import ROOT_TYPES, TREE_ORDER, GoalType
from goals.services import goal_delete, goal_move, goal_restore
from goals_project.maintenance.verification import root_id_report
from sessions.models import ActivityInstance, MetricValue
from tests.admin_forms import form_data, rows_off_their_chain, tree_snapshot

pytestmark = pytest.mark.django_db

# Indices into the current rows; taken modulo their number, so every index names a row.
INDEX = st.integers(min_value=0, max_value=40)
OWNER = st.sampled_from([None, 0, 1])


# For the rules that operate on a live goal: a sequence may delete every one.
with_a_live_goal = precondition(lambda self: Goal.objects.exists())


class TreeOperations(RuleBasedStateMachine):
    """One example: a forest built in a savepoint, operated on, rolled back at the end."""

    def __init__(self) -> None:
        super().__init__()
        self.savepoint = transaction.atomic()
        self.savepoint.__enter__()
        self.counter = 0
        self.owners = [User.objects.create_user(f"owner{n}", is_staff=True) for n in range(2)]
        superuser = User.objects.create_user("root", is_staff=True, is_superuser=True)
        self.client = Client()
        self.client.force_login(superuser)
        self.superuser = superuser

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.savepoint.__exit__(None, None, None)

    # Reading the state, in an order that does not depend on the random ids.

    def name(self, kind: str) -> str:
        self.counter += 1
        return f"{kind} {self.counter:04d}"

    def goals(self, **filters) -> list[Goal]:
        return list(Goal.all_objects.filter(**filters).order_by("name"))

    def pick(self, rows: list, index: int):
        return rows[index % len(rows)] if rows else None

    def subtree_ids(self, goal: Goal) -> set[str]:
        children: dict[str, list[str]] = {}
        for pk, parent in Goal.all_objects.values_list("id", "parent_id"):
            children.setdefault(parent, []).append(pk)
        found, todo = set(), [goal.pk]
        while todo:
            pk = todo.pop()
            if pk not in found:
                found.add(pk)
                todo += children.get(pk, [])
        return found

    def check_outcome(self, *, refused: bool, expected: bool, before: dict, what: str) -> None:
        assert refused == expected, f"{what}: refused={refused}, predicted {expected}"
        if refused:
            assert tree_snapshot() == before, f"{what} was refused but changed rows"

    # Building.

    def add_root(self, goal_type: str, owner: int | None) -> None:
        root = Goal(
            type=goal_type,
            name=self.name("root"),
            owner=None if owner is None else self.owners[owner],
        )
        root.full_clean()
        root.save()
        activity = ActivityDefinition.objects.create(name=self.name("activity"), root=root)
        MetricDefinition.objects.create(name=self.name("metric"), unit="kg", activity=activity)
        # Down to a practice session with an activity instance and a metric value, and a
        # session without a parent serving the short-term goal on the way.
        parent = root
        for child_type in TREE_ORDER[TREE_ORDER.index(goal_type) + 1 : 5]:
            if parent.type == GoalType.SHORT_TERM:
                self.add_linked_session(parent)
            parent = self.add_child(parent, child_type)
        self.add_instance(parent)

    def add_child(self, parent: Goal, child_type: str) -> Goal:
        child = Goal(type=child_type, name=self.name("goal"), parent=parent)
        child.full_clean()
        child.save()
        return child

    def add_instance(self, session: Goal) -> None:
        activity = ActivityDefinition.objects.filter(root_id=session.root_id).order_by("name")[0]
        instance = ActivityInstance(practice_session=session, activity_definition=activity)
        instance.save()
        metric = MetricDefinition.objects.get(activity=activity)
        MetricValue(activity_instance=instance, metric_definition=metric, value=1.0).save()

    @initialize(
        roots=st.lists(st.tuples(st.sampled_from(ROOT_TYPES), OWNER), min_size=2, max_size=3)
    )
    def forest(self, roots: list[tuple[str, int | None]]) -> None:
        for goal_type, owner in roots:
            self.add_root(goal_type, owner)

    @rule(goal_type=st.sampled_from(ROOT_TYPES), owner=OWNER)
    def create_root(self, goal_type: str, owner: int | None) -> None:
        self.add_root(goal_type, owner)

    @rule(index=INDEX)
    def create_child(self, index: int) -> None:
        parent = self.pick(self.goals(deleted_at__isnull=True, type__in=TREE_ORDER[:-1]), index)
        if parent is not None:
            self.add_child(parent, TREE_ORDER[TREE_ORDER.index(parent.type) + 1])

    @rule(index=INDEX)
    def create_linked_session(self, index: int) -> None:
        """A session without a parent, serving a short-term goal (it takes that goal's root)."""
        short = self.pick(self.goals(deleted_at__isnull=True, type=GoalType.SHORT_TERM), index)
        if short is not None:
            self.add_linked_session(short)

    def add_linked_session(self, short: Goal) -> None:
        session = Goal.objects.create(
            type=GoalType.PRACTICE_SESSION, name=self.name("linked"), root_id=short.root_id
        )
        PracticeSessionGoal.objects.create(practice_session=session, short_term_goal=short)
        self.add_instance(session)

    @rule(index=INDEX)
    def create_instance(self, index: int) -> None:
        session = self.pick(
            self.goals(deleted_at__isnull=True, type=GoalType.PRACTICE_SESSION), index
        )
        if session is not None:
            self.add_instance(session)

    # Operating.

    def move_refused(self, goal: Goal, parent: Goal, user: User | None) -> bool:
        """The test's own reading of the rules: roots stay roots, no cycles, the order of types,
        and only a superuser moves between owners' fractals."""
        if goal.parent_id is None and goal.type in ROOT_TYPES:
            return True
        if parent.pk in self.subtree_ids(goal):
            return True
        if TREE_ORDER.index(parent.type) != TREE_ORDER.index(goal.type) - 1:
            return True
        if user is not None and not user.is_superuser:
            owners = {Goal.all_objects.get(pk=pk).owner_id for pk in (goal.root_id, parent.root_id)}
            return owners != {user.pk}
        return False

    def pick_move(self, goal_index: int, parent_index: int, fitting: bool) -> tuple[Goal, Goal]:
        """A live goal, and a live goal to move it under: of the type its order asks for when
        `fitting` (most moves that can succeed), else any."""
        live = self.goals(deleted_at__isnull=True)
        goal = self.pick(live, goal_index)
        if fitting and goal.type != TREE_ORDER[0]:
            wanted = TREE_ORDER[TREE_ORDER.index(goal.type) - 1]
            live = [row for row in live if row.type == wanted] or live
        return goal, self.pick(live, parent_index)

    @with_a_live_goal
    @rule(goal_index=INDEX, parent_index=INDEX, fitting=st.booleans(), as_owner=st.booleans())
    def move_with_the_service(
        self, goal_index: int, parent_index: int, fitting: bool, as_owner: bool
    ) -> None:
        goal, parent = self.pick_move(goal_index, parent_index, fitting)
        user = Goal.all_objects.get(pk=goal.root_id).owner if as_owner else None
        expected = self.move_refused(goal, parent, user)
        before = tree_snapshot()
        try:
            goal_move(goal=goal, new_parent=parent, user=user)
        except ValidationError:
            refused = True
        else:
            refused = False
            assert Goal.all_objects.get(pk=goal.pk).parent_id == parent.pk
        self.check_outcome(refused=refused, expected=expected, before=before, what="goal_move")

    def post_change(self, goal: Goal, **changes):
        url = reverse("admin:goals_goal_change", args=[goal.pk])
        response = self.client.post(url, {**form_data(self.client.get(url)), **changes})
        assert response.status_code in {200, 302}, response.status_code
        if response.status_code == 200:
            assert response.context["adminform"].form.errors, "refused without a message"
        return response.status_code == 200

    @with_a_live_goal
    @rule(goal_index=INDEX, parent_index=INDEX, fitting=st.booleans())
    def move_in_the_admin(self, goal_index: int, parent_index: int, fitting: bool) -> None:
        goal, parent = self.pick_move(goal_index, parent_index, fitting)
        expected = goal.parent_id != parent.pk and self.move_refused(goal, parent, self.superuser)
        before = tree_snapshot()
        refused = self.post_change(goal, parent=parent.pk)
        self.check_outcome(refused=refused, expected=expected, before=before, what="admin move")
        if not refused:
            assert Goal.all_objects.get(pk=goal.pk).parent_id == parent.pk

    @with_a_live_goal
    @rule(goal_index=INDEX, goal_type=st.sampled_from(TREE_ORDER))
    def retype_in_the_admin(self, goal_index: int, goal_type: str) -> None:
        goal = self.pick(self.goals(deleted_at__isnull=True), goal_index)
        is_root = goal.parent_id is None and goal.type in ROOT_TYPES
        children = set(Goal.all_objects.filter(parent=goal).values_list("type", flat=True))
        fits = all(TREE_ORDER.index(child) - 1 == TREE_ORDER.index(goal_type) for child in children)
        expected = goal_type != goal.type and not (is_root and goal_type in ROOT_TYPES and fits)
        before = tree_snapshot()
        refused = self.post_change(goal, type=goal_type)
        self.check_outcome(refused=refused, expected=expected, before=before, what="admin retype")
        if not refused:
            assert Goal.all_objects.get(pk=goal.pk).type == goal_type

    @with_a_live_goal
    @rule(index=INDEX)
    def delete(self, index: int) -> None:
        goal = self.pick(self.goals(deleted_at__isnull=True), index)
        subtree = self.subtree_ids(goal)
        goal_delete(goal=goal)
        assert not Goal.objects.filter(pk__in=subtree).exists()

    @rule(index=INDEX)
    def restore(self, index: int) -> None:
        goal = self.pick(self.goals(deleted_at__isnull=False), index)
        if goal is None:
            return
        parent = Goal.all_objects.filter(pk=goal.parent_id).first()
        expected = parent is not None and parent.deleted_at is not None
        before = tree_snapshot()
        try:
            goal_restore(goal=goal)
        except ValidationError:
            refused = True
        else:
            refused = False
            assert Goal.objects.filter(pk=goal.pk).exists()
        self.check_outcome(refused=refused, expected=expected, before=before, what="goal_restore")

    # After every step.

    @invariant()
    def every_row_is_in_its_right_fractal(self) -> None:
        assert rows_off_their_chain() == []
        # The rows' checks; the schema's (constraints, indexes), which no operation here
        # touches and which cost most of the report, are checked once after all examples.
        report = root_id_report(data_only=True)
        assert report.ok, [check for check in report.checks if not check.ok]


def test_random_operations_keep_every_row_in_its_right_fractal():
    """No sequence of moves, retypes, deletions, restores and creations puts a row outside the
    fractal its chain says; refused operations change nothing."""
    run_state_machine_as_test(TreeOperations)
    assert root_id_report().ok
