"""Writes on session data: purging an activity instance, timers, sessions from templates.

A goal's delete, restore, purge and move (which take session data along) are goals.services'."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from goals.models import (
    ActivityDefinition,
    Goal,
    GoalType,
    PracticeSessionGoal,
    SessionTemplate,
)
from goals_project.bases.services import CascadeResult, row_purge
from sessions.models import (
    ActivityInstance,
    MetricValue,
)


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
