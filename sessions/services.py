"""Writes that span the goal tree and the session data hanging off it.

`goal_move` lives in goals.services (the database carries a moved goal's root into the session
rows); it is re-exported here for the callers that know it from here.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from goals.models import (
    ActivityDefinition,
    Goal,
    GoalType,
    PracticeSessionGoal,
    SessionTemplate,
)
from goals.services import CascadeResult, row_purge, rows_purge_in_order
from goals.services import goal_move as goal_move  # re-exported for its callers here
from sessions.cascade import FRACTAL_DEFINITIONS, cascade_scopes
from sessions.models import (
    ActivityInstance,
    MetricValue,
    Program,
    ProgramBlock,
    ProgramDay,
    ScheduledSession,
)


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
    matching = {"deleted_at__isnull": True} if deleted_at is None else {"deleted_at": deleted_at}
    now = timezone.now()
    counts = {}
    for model, scope in cascade_scopes(goal):
        updated = model.all_objects.filter(scope, **matching).update(deleted_at=to, updated_at=now)
        counts[model._meta.label] = updated
    return counts


# Ids bound in one statement at most (SQLite's limit is far above; PostgreSQL's too).
PURGE_CHUNK = 500


def goal_purge(*, goal: Goal) -> CascadeResult:
    """Remove a deleted goal for good, with everything its deletion took (set-based, atomic).

    Refused while any row of its cascade is live, and when rows outside it still refer to it;
    in both cases nothing is removed.
    """
    if goal.deleted_at is None:
        raise ValidationError(f"'{goal}' is not deleted: delete it before purging it.")
    scopes = cascade_scopes(goal)
    live = sum(model.all_objects.filter(scope).alive().count() for model, scope in scopes)
    if live:
        raise ValidationError(
            f"'{goal}' cannot be purged: {live} row(s) under it are live. Delete them first."
        )
    scope_of = dict(scopes)
    instances = ActivityInstance._base_manager.filter(scope_of[ActivityInstance])
    goals = Goal._base_manager.filter(scope_of[Goal])
    # The goals are listed now: sessions linked only to the subtree are found through their
    # links, which an earlier step removes.
    goal_ids = list(goals.values_list("pk", flat=True))
    # Children before parents, so every statement leaves the foreign keys valid.
    steps = [
        MetricValue._base_manager.filter(activity_instance__in=instances),
        instances,
        PracticeSessionGoal._base_manager.filter(
            Q(practice_session__in=goals) | Q(short_term_goal__in=goals)
        ),
    ]
    if goal.is_root:
        steps += [
            MetricValue._base_manager.filter(root_id=goal.pk),
            ActivityInstance._base_manager.filter(root_id=goal.pk),
            ScheduledSession._base_manager.filter(
                Q(day__block__program__root_id=goal.pk) | Q(session_template__root_id=goal.pk)
            ),
            ProgramDay._base_manager.filter(block__program__root_id=goal.pk),
            ProgramBlock._base_manager.filter(program__root_id=goal.pk),
            Program._base_manager.filter(root_id=goal.pk),
        ]
        steps += [
            model._base_manager.filter(root_id=goal.pk) for model in reversed(FRACTAL_DEFINITIONS)
        ]
    steps += [
        Goal._base_manager.filter(pk__in=goal_ids[start : start + PURGE_CHUNK])
        for start in range(0, len(goal_ids), PURGE_CHUNK)
    ]
    return rows_purge_in_order(steps, what=str(goal))


def activity_instance_purge(*, instance: ActivityInstance) -> CascadeResult:
    """Remove a deleted activity instance for good, with its metric values."""
    return row_purge(
        row=instance, before=[MetricValue._base_manager.filter(activity_instance_id=instance.pk)]
    )


def activity_timer_start(*, instance: ActivityInstance) -> ActivityInstance:
    """Start timing an activity; refused when it was started already."""
    now = timezone.now()
    started = ActivityInstance.objects.filter(pk=instance.pk, time_start__isnull=True).update(
        time_start=now, time_stop=None, duration_seconds=None, updated_at=now
    )
    if not started:
        instance.refresh_from_db(fields=["time_start", "deleted_at"])
        if instance.deleted_at is not None:
            raise ValidationError(f"'{instance}' is deleted: restore it before timing it.")
        raise ValidationError(
            f"The timer of '{instance}' was already started at {_moment(instance.time_start)}."
        )
    instance.refresh_from_db(fields=["time_start", "time_stop", "duration_seconds", "updated_at"])
    return instance


def activity_timer_stop(*, instance: ActivityInstance) -> ActivityInstance:
    """Stop a running timer: time_stop and duration_seconds are set together."""
    instance.refresh_from_db(fields=["time_start", "time_stop", "deleted_at"])
    if instance.deleted_at is not None:
        raise ValidationError(f"'{instance}' is deleted: restore it before timing it.")
    if instance.time_start is None:
        raise ValidationError(f"The timer of '{instance}' has not been started.")
    if instance.time_stop is not None:
        raise ValidationError(
            f"The timer of '{instance}' was already stopped at {_moment(instance.time_stop)}."
        )
    now = max(timezone.now(), instance.time_start)
    # The condition makes a second stop racing this one change nothing.
    stopped = ActivityInstance.objects.filter(
        pk=instance.pk, time_start=instance.time_start, time_stop__isnull=True
    ).update(
        time_stop=now,
        duration_seconds=int((now - instance.time_start).total_seconds()),
        updated_at=now,
    )
    if not stopped:
        raise ValidationError(f"The timer of '{instance}' was stopped meanwhile.")
    instance.refresh_from_db(fields=["time_start", "time_stop", "duration_seconds", "updated_at"])
    return instance


def _moment(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")


def template_activity_ids(template: SessionTemplate) -> list[str]:
    """The activity definition ids a template lists, in order.

    `template_data` is JSON text: `{"activities": [id, ...]}`, items also as `{"activity_id": id}`.
    """
    try:
        data = json.loads(template.template_data or "{}")
    except ValueError as error:
        raise ValidationError(
            f"Template '{template}' has invalid JSON in template_data ({error}); fix it first."
        ) from error
    items = data.get("activities", []) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValidationError(
            f"Template '{template}' has no list of activities in template_data; expected "
            '{"activities": [activity ids]}.'
        )
    ids = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("activity_id") or item.get("id")
        if not isinstance(item, str):
            raise ValidationError(f"Template '{template}' lists an activity that is not an id.")
        ids.append(item)
    return ids


def practice_session_create_from_template(
    *, template: SessionTemplate, parent: Goal, name: str | None = None
) -> Goal:
    """Create a practice session under `parent` with one activity instance per template activity.

    A session under a short-term goal is also linked to it (`practice_session_goals`), as the
    legacy app did. Activities of the template that are deleted or of another fractal refuse it.
    """
    if template.deleted_at is not None or parent.deleted_at is not None:
        raise ValidationError("Restore the template and the parent goal before using them.")
    if template.root_id != parent.root_id:
        raise ValidationError(f"Template '{template}' belongs to another fractal than '{parent}'.")
    activity_ids = template_activity_ids(template)
    activities = ActivityDefinition.objects.filter(pk__in=activity_ids, root_id=parent.root_id)
    found = set(activities.values_list("pk", flat=True))
    missing = [pk for pk in activity_ids if pk not in found]
    if missing:
        raise ValidationError(
            f"Template '{template}' lists activities that are deleted or not in this fractal: "
            f"{', '.join(missing[:5])}."
        )
    with transaction.atomic():
        session = Goal(
            type=GoalType.PRACTICE_SESSION,
            name=name or template.name,
            parent=parent,
            template=template,
        )
        session.full_clean()
        session.save()
        if parent.type == GoalType.SHORT_TERM:
            PracticeSessionGoal.objects.create(practice_session=session, short_term_goal=parent)
        for order, activity_id in enumerate(activity_ids):
            instance = ActivityInstance(
                practice_session=session, activity_definition_id=activity_id, sort_order=order
            )
            instance.save()
    return session.as_typed()
