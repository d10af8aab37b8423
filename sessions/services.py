"""Writes on session data: purging an activity instance, timers and the session times they
set, metric values typed on the session page, sessions from templates.

A goal's delete, restore, purge and move (which take session data along) are goals.services'."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from goals.models import (
    ActivityDefinition,
    Goal,
    GoalType,
    MetricDefinition,
    PracticeSessionGoal,
    SessionTemplate,
    SplitDefinition,
)
from goals_project.bases.services import CascadeResult, row_delete, row_purge, row_restore
from sessions import selectors
from sessions.models import (
    ActivityInstance,
    MetricValue,
)
from sessions.models.activity_instance import moment_label, seconds_between


def activity_instance_delete(*, instance: ActivityInstance) -> CascadeResult:
    """Soft-delete an activity instance; its session's times follow its live activities'."""
    with transaction.atomic():
        result = row_delete(row=instance)
        practice_session_times_sync(session_id=instance.practice_session_id)
    return result


def activity_instance_restore(*, instance: ActivityInstance) -> CascadeResult:
    """Restore a deleted activity instance; its session's times count its times again."""
    with transaction.atomic():
        result = row_restore(row=instance)
        practice_session_times_sync(session_id=instance.practice_session_id)
    return result


def activity_instance_purge(*, instance: ActivityInstance) -> CascadeResult:
    """Remove a deleted activity instance for good, with its metric values."""
    return row_purge(
        row=instance, before=[MetricValue._base_manager.filter(activity_instance_id=instance.pk)]
    )


def activity_timer_start(*, instance: ActivityInstance) -> ActivityInstance:
    """Start timing an activity; refused when it was started already. The session's times
    follow (practice_session_times_sync)."""
    # Whole seconds: the admin's time inputs show no fractions, so a row saved from a form keeps
    # the very times (and duration) its timer set.
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic():
        started = ActivityInstance.objects.filter(pk=instance.pk, time_start__isnull=True).update(
            time_start=now, time_stop=None, duration_seconds=None, updated_at=now
        )
        if not started:
            instance.refresh_from_db(fields=["time_start", "deleted_at"])
            if instance.deleted_at is not None:
                raise ValidationError(f"'{instance}' is deleted: restore it before timing it.")
            raise ValidationError(
                f"The timer of '{instance}' was already started at "
                f"{moment_label(instance.time_start)}."
            )
        practice_session_times_sync(session_id=instance.practice_session_id)
    instance.refresh_from_db(fields=["time_start", "time_stop", "duration_seconds", "updated_at"])
    return instance


def activity_timer_stop(*, instance: ActivityInstance) -> ActivityInstance:
    """Stop a running timer: time_stop and duration_seconds are set together, and the session's
    times follow (practice_session_times_sync)."""
    instance.refresh_from_db(fields=["time_start", "time_stop", "deleted_at"])
    if instance.deleted_at is not None:
        raise ValidationError(f"'{instance}' is deleted: restore it before timing it.")
    if instance.time_start is None:
        raise ValidationError(f"The timer of '{instance}' has not been started.")
    if instance.time_stop is not None:
        raise ValidationError(
            f"The timer of '{instance}' was already stopped at {moment_label(instance.time_stop)}."
        )
    now = max(timezone.now().replace(microsecond=0), instance.time_start)
    with transaction.atomic():
        # The condition makes a second stop racing this one change nothing.
        stopped = ActivityInstance.objects.filter(
            pk=instance.pk, time_start=instance.time_start, time_stop__isnull=True
        ).update(
            time_stop=now,
            duration_seconds=seconds_between(instance.time_start, now),
            updated_at=now,
        )
        if not stopped:
            raise ValidationError(f"The timer of '{instance}' was stopped meanwhile.")
        practice_session_times_sync(session_id=instance.practice_session_id)
    instance.refresh_from_db(fields=["time_start", "time_stop", "duration_seconds", "updated_at"])
    return instance


def practice_session_times_sync(*, session_id: str) -> None:
    """The session's start, end and total follow its live activities' times.

    Start is the earliest timer start, end the latest stop (none while a timer runs), total the
    sum of the activities' durations. A session none of whose activities has a time or a
    duration keeps the times entered on it by hand. Called after every change of an activity's
    times: the timers, and times edited on the session or activity page.
    """
    timed = selectors.practice_session_timed_activities(session_id=session_id)
    figures = timed.aggregate(
        timed=Count("id"),
        start=Min("time_start"),
        stop=Max("time_stop"),
        running=Count("id", filter=Q(time_start__isnull=False, time_stop__isnull=True)),
        total=Sum("duration_seconds"),
    )
    if not figures["timed"]:
        return
    times = {"total_duration_seconds": figures["total"] or 0}
    if figures["start"] is not None:  # legacy activities may carry a duration only
        times["session_start"] = figures["start"]
        times["session_end"] = None if figures["running"] else figures["stop"]
    Goal.all_objects.filter(pk=session_id).update(**times, updated_at=timezone.now())


@dataclass(frozen=True)
class MetricEntry:
    """One value typed on the session page: an existing value (`value_id`) changed, or emptied
    to delete it; or a new value of a metric (and split) of the activity."""

    value: float | None
    value_id: str | None = None
    metric_definition_id: str | None = None
    split_definition_id: str | None = None


def activity_metric_values_record(
    *, instance: ActivityInstance, entries: list[MetricEntry]
) -> None:
    """Record the values typed for one activity: changed values saved, emptied ones deleted,
    new ones created. Only the instance's own values and its activity's metrics and splits are
    accepted."""
    own = {value.pk: value for value in MetricValue.objects.filter(activity_instance=instance)}
    metrics = set(
        MetricDefinition.objects.filter(activity_id=instance.activity_definition_id).values_list(
            "pk", flat=True
        )
    )
    splits = set(
        SplitDefinition.objects.filter(activity_id=instance.activity_definition_id).values_list(
            "pk", flat=True
        )
    )
    with transaction.atomic():
        for entry in entries:
            if entry.value_id is not None:
                value = own.get(entry.value_id)
                if value is None:
                    raise ValidationError("A metric value of another activity cannot be changed.")
                if entry.value is None:
                    value.delete()
                elif entry.value != value.value:
                    value.value = entry.value
                    value.save(update_fields=["value"])
                continue
            if entry.value is None:
                continue
            if entry.metric_definition_id not in metrics or (
                entry.split_definition_id is not None and entry.split_definition_id not in splits
            ):
                raise ValidationError(
                    f"'{instance.activity_definition}' has no such metric or split: reload the "
                    "page and enter the value again."
                )
            value = MetricValue(
                activity_instance=instance,
                metric_definition_id=entry.metric_definition_id,
                split_definition_id=entry.split_definition_id,
                value=entry.value,
            )
            value.full_clean(exclude={"root"})  # root is derived on save
            value.save()


def template_activity_ids(template: SessionTemplate) -> list[str]:
    """The activity definition ids a template lists, in order (SessionTemplate.activity_ids)."""
    return template.activity_ids()


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
