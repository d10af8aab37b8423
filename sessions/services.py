"""Writes that span the goal tree and the session data hanging off it.

`goal_move` lives here rather than in `goals` because it rewrites session rows too, and imports
point one way: `sessions` → `goals`.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from goals.models import Goal, GoalType
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
        "WITH RECURSIVE subtree(id) AS (SELECT %s UNION "
        "SELECT g.id FROM goals g JOIN subtree s ON g.parent_id = s.id) SELECT id FROM subtree"
    )
