"""Which rows a goal's deletion takes: its subtree, the sessions without a parent linked only to
it and what is below them, a fractal's own definitions, and the rows other apps hang off those.

Shared by the services that delete, restore and purge, and so by the admin's previews of them.
The goals app imports nothing from the apps that build on it: an app whose rows hang off practice
sessions or fractals registers its part from its AppConfig.ready() (as the session data does in
sessions.cascade), the way Django's admin autodiscovery lets apps register with the site.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import models
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from goals.models import (
    ActivityDefinition,
    ActivityGroup,
    Goal,
    MetricDefinition,
    SessionTemplate,
    SplitDefinition,
)
from goals.tree import cascade_ids_sql

# A fractal's own definitions: deleted, restored and purged with its root goal. Parents first.
FRACTAL_DEFINITIONS = (
    ActivityGroup,
    ActivityDefinition,
    MetricDefinition,
    SplitDefinition,
    SessionTemplate,
)

Scope = tuple[type[models.Model], Q]


class CascadePart:
    """Another app's rows in a goal's cascade; register a subclass with cascade_part_register."""

    def scopes(self, of_sessions: Callable[[str], Q]) -> list[Scope]:
        """Soft-deletable rows that go and come back with the cascade's practice sessions;
        `of_sessions(field)` selects the rows whose `field` names one of them."""
        return []

    def purge_first(self, scope_of: dict[type[models.Model], Q]) -> list[QuerySet]:
        """Querysets to remove, children first, before the purged goals' session links."""
        return []

    def fractal_purge_first(self, root_id: str) -> list[QuerySet]:
        """A purged fractal's other rows of this app, children first, removed before its
        definitions."""
        return []


_PARTS: list[CascadePart] = []


def cascade_part_register(part: CascadePart) -> None:
    """Add an app's part to every goal cascade (once; called from AppConfig.ready())."""
    if not any(type(known) is type(part) for known in _PARTS):
        _PARTS.append(part)


def cascade_parts() -> tuple[CascadePart, ...]:
    return tuple(_PARTS)


def cascade_scopes(goal: Goal) -> list[Scope]:
    """Each model of the goal's cascade with the filter selecting its rows (deleted or not)."""
    taken = RawSQL(cascade_ids_sql(), [goal.pk] * 3)  # noqa: S611 - constant SQL, bound id

    def of_sessions(field: str) -> Q:
        return Q(**{f"{field}__in": taken})

    scopes: list[Scope] = [(Goal, of_sessions("pk"))]
    for part in _PARTS:
        scopes += part.scopes(of_sessions)
    if goal.is_root:
        scopes += [(model, Q(root_id=goal.pk)) for model in FRACTAL_DEFINITIONS]
    return scopes
