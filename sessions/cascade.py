"""Which rows a goal's deletion takes: its subtree, the sessions hanging off it, and more.

Shared by the services that delete, restore and purge, and by the admin's preview of them.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.expressions import RawSQL

from goals.models import (
    ActivityDefinition,
    ActivityGroup,
    Goal,
    GoalType,
    MetricDefinition,
    SessionTemplate,
    SplitDefinition,
)
from sessions.models import ActivityInstance

# A fractal's own definitions: deleted, restored and purged with its ultimate goal. Parents first.
FRACTAL_DEFINITIONS = (
    ActivityGroup,
    ActivityDefinition,
    MetricDefinition,
    SplitDefinition,
    SessionTemplate,
)


def subtree_ids_sql() -> str:
    """SQL listing the ids of a goal (bound parameter) and all its descendants."""
    return (
        "WITH RECURSIVE subtree(id) AS (SELECT id FROM goals WHERE id = %s UNION "
        "SELECT g.id FROM goals g JOIN subtree s ON g.parent_id = s.id) SELECT id FROM subtree"
    )


def linked_sessions_sql() -> str:
    """SQL listing sessions without a parent linked only to goals of a subtree (bound twice).

    Such sessions belong to the goals they serve through `practice_session_goals`, so they move,
    are deleted and are restored with them; one also linked elsewhere stays where it is.
    """
    subtree = subtree_ids_sql()
    return (
        "SELECT s.id FROM goals s WHERE s.parent_id IS NULL "  # noqa: S608 - constant SQL
        f"AND s.type = '{GoalType.PRACTICE_SESSION.value}' AND s.id IN "
        "(SELECT practice_session_id FROM practice_session_goals "
        f"WHERE short_term_goal_id IN ({subtree})) AND NOT EXISTS (SELECT 1 FROM "
        "practice_session_goals other WHERE other.practice_session_id = s.id "
        f"AND other.short_term_goal_id NOT IN ({subtree}))"
    )


def cascade_scopes(goal: Goal) -> list[tuple[type[models.Model], Q]]:
    """Each model of the goal's cascade with the filter selecting its rows (deleted or not)."""
    subtree = RawSQL(subtree_ids_sql(), [goal.pk])  # noqa: S611 - constant SQL, bound id
    linked = RawSQL(linked_sessions_sql(), [goal.pk, goal.pk])  # noqa: S611 - as above
    scopes = [
        (Goal, Q(pk__in=subtree) | Q(pk__in=linked)),
        (ActivityInstance, Q(practice_session_id__in=subtree) | Q(practice_session_id__in=linked)),
    ]
    if goal.type == GoalType.ULTIMATE:
        scopes += [(model, Q(root_id=goal.pk)) for model in FRACTAL_DEFINITIONS]
    return scopes
