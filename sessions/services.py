"""Writes that span the goal tree and the session data hanging off it.

`goal_move` lives here rather than in `goals` because it rewrites session rows too, and imports
point one way: `sessions` → `goals`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from goals.models import (
    ActivityDefinition,
    ActivityGroup,
    Goal,
    GoalType,
    MetricDefinition,
    SessionTemplate,
    SplitDefinition,
)
from sessions.models import ActivityInstance, MetricValue


def goal_move(*, goal: Goal, new_parent: Goal) -> Goal:
    """Move `goal` (and its subtree) under `new_parent`, in its fractal, in one transaction.

    The root of every goal of the subtree, of sessions without a parent that are linked only to
    goals of the subtree, and of their activity instances and metric values follows, in a constant
    number of set-based queries whatever the size of the subtree.
    """
    if goal.type == GoalType.ULTIMATE:
        raise ValidationError("An ultimate goal is the top of its fractal and cannot be moved.")
    with transaction.atomic():
        subtree = _subtree_ids_sql()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(*) FROM ({subtree}) s WHERE s.id = %s",  # noqa: S608 - constant SQL
                [goal.pk, new_parent.pk],
            )
            inside = cursor.fetchone()[0]
        if inside:
            raise ValidationError(
                f"'{new_parent}' is inside '{goal}': a goal cannot move under its own subtree."
            )
        goal.parent = new_parent
        goal.save(update_fields=["parent", "root"])
        root_id = goal.root_id
        now = timezone.now()
        # update() and raw SQL skip pre_save, so updated_at is set here.
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE goals SET root_id = %s, updated_at = %s WHERE id IN ({subtree}) "  # noqa: S608
                "AND root_id <> %s",
                [root_id, now, goal.pk, root_id],
            )
            # Sessions without a parent belong to the goals they are linked to.
            cursor.execute(
                "UPDATE goals SET root_id = %s, updated_at = %s "  # noqa: S608 - constant SQL
                "WHERE parent_id IS NULL AND type = %s AND id IN "
                "(SELECT practice_session_id FROM practice_session_goals "
                f"WHERE short_term_goal_id IN ({subtree})) AND NOT EXISTS (SELECT 1 FROM "
                "practice_session_goals other WHERE other.practice_session_id = goals.id "
                f"AND other.short_term_goal_id NOT IN ({subtree}))",
                [root_id, now, GoalType.PRACTICE_SESSION, goal.pk, goal.pk],
            )
        sessions = Goal._base_manager.filter(root_id=root_id, type=GoalType.PRACTICE_SESSION)
        ActivityInstance._base_manager.filter(practice_session__in=sessions).exclude(
            root_id=root_id
        ).update(root_id=root_id, updated_at=now)
        MetricValue._base_manager.filter(activity_instance__root_id=root_id).exclude(
            root_id=root_id
        ).update(root_id=root_id, updated_at=now)
    return goal


def _subtree_ids_sql() -> str:
    """SQL listing the ids of a goal (bound parameter) and all its descendants."""
    return (
        "WITH RECURSIVE subtree(id) AS (SELECT id FROM goals WHERE id = %s UNION "
        "SELECT g.id FROM goals g JOIN subtree s ON g.parent_id = s.id) SELECT id FROM subtree"
    )


@dataclass(frozen=True)
class CascadeResult:
    """Rows one soft deletion or restore touched, per model label (Django's delete() shape)."""

    total: int
    counts: dict[str, int]


def goal_delete(*, goal: Goal) -> CascadeResult:
    """Soft-delete a goal, its subtree and what hangs off it, all stamped with one time.

    Sessions of the subtree take their activity instances along; deleting an ultimate goal also
    takes the fractal's activity groups and definitions, metric and split definitions and
    session templates. Rows deleted earlier keep their own time, so `goal_restore` leaves them
    deleted. A constant number of queries, in one transaction.
    """
    if goal.deleted_at is not None:
        raise ValidationError(f"'{goal}' is already deleted.")
    with transaction.atomic():
        stamp = timezone.now()
        counts = _cascade(goal, deleted_at=None, to=stamp)
    goal.deleted_at = stamp
    return CascadeResult(sum(counts.values()), counts)


def goal_restore(*, goal: Goal) -> CascadeResult:
    """Bring back exactly what the deletion of `goal` took; refuse while its parent is deleted."""
    if goal.deleted_at is None:
        raise ValidationError(f"'{goal}' is not deleted.")
    parent = Goal.all_objects.filter(pk=goal.parent_id).first() if goal.parent_id else None
    if parent is not None and parent.deleted_at is not None:
        raise ValidationError(
            f"'{goal}' is inside '{parent}', which is deleted too: restore '{parent}' first."
        )
    with transaction.atomic():
        counts = _cascade(goal, deleted_at=goal.deleted_at, to=None)
    goal.deleted_at = None
    return CascadeResult(sum(counts.values()), counts)


def _cascade(goal: Goal, *, deleted_at, to) -> dict[str, int]:
    """Set deleted_at to `to` on the rows of the goal's cascade whose deleted_at is `deleted_at`."""
    subtree = RawSQL(_subtree_ids_sql(), [goal.pk])  # noqa: S611 - constant SQL, bound id
    matching = {"deleted_at__isnull": True} if deleted_at is None else {"deleted_at": deleted_at}
    now = timezone.now()
    targets = [
        (Goal, {"pk__in": subtree}),
        (ActivityInstance, {"practice_session_id__in": subtree}),
    ]
    if goal.type == GoalType.ULTIMATE:
        targets += [
            (model, {"root_id": goal.pk})
            for model in (
                ActivityGroup,
                ActivityDefinition,
                MetricDefinition,
                SplitDefinition,
                SessionTemplate,
            )
        ]
    counts = {}
    for model, scope in targets:
        updated = model.all_objects.filter(**scope, **matching).update(
            deleted_at=to, updated_at=now
        )
        counts[model._meta.label] = updated
    return counts


def definition_restore(*, definition) -> None:
    """Restore one deleted definition or template; refuse if its name was taken since."""
    definition.deleted_at = None
    try:
        definition.validate_constraints()
    except ValidationError as error:
        raise ValidationError(
            f"'{definition}' cannot be restored: its name is used by another live row in the "
            "same scope. Rename one of them first."
        ) from error
    type(definition).all_objects.filter(pk=definition.pk).restore()
