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
    MetricDefinition,
    SessionTemplate,
    SplitDefinition,
)
from goals.tree import linked_sessions_sql, subtree_ids_sql
from sessions.models import ActivityInstance

__all__ = ["FRACTAL_DEFINITIONS", "cascade_scopes", "linked_sessions_sql", "subtree_ids_sql"]

# A fractal's own definitions: deleted, restored and purged with its ultimate goal. Parents first.
FRACTAL_DEFINITIONS = (
    ActivityGroup,
    ActivityDefinition,
    MetricDefinition,
    SplitDefinition,
    SessionTemplate,
)


def cascade_scopes(goal: Goal) -> list[tuple[type[models.Model], Q]]:
    """Each model of the goal's cascade with the filter selecting its rows (deleted or not)."""
    subtree = RawSQL(subtree_ids_sql(), [goal.pk])  # noqa: S611 - constant SQL, bound id
    linked = RawSQL(linked_sessions_sql(), [goal.pk, goal.pk])  # noqa: S611 - as above
    scopes = [
        (Goal, Q(pk__in=subtree) | Q(pk__in=linked)),
        (ActivityInstance, Q(practice_session_id__in=subtree) | Q(practice_session_id__in=linked)),
    ]
    if goal.is_root:
        scopes += [(model, Q(root_id=goal.pk)) for model in FRACTAL_DEFINITIONS]
    return scopes
