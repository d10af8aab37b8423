"""What was done in a practice session and what was measured."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from goals.models.fields import legacy_id_field
from goals.roots import root_constraints
from goals_project.bases.models import RootedModel, SoftDeleteMixin, TimestampMixin


def seconds_between(start: datetime, stop: datetime) -> int:
    """A timer's duration: whole seconds from its start to its stop."""
    return int((stop - start).total_seconds())


class ActivityInstance(RootedModel, TimestampMixin, SoftDeleteMixin, models.Model):
    """One activity performed in a practice session, optionally timed."""

    root_from = "practice_session"

    id = legacy_id_field()
    practice_session = models.ForeignKey(
        "goals.Goal",
        on_delete=models.CASCADE,
        related_name="activity_instances",
        db_index=False,
    )
    activity_definition = models.ForeignKey(
        "goals.ActivityDefinition",
        on_delete=models.PROTECT,
        related_name="activity_instances",
        db_index=False,
    )
    time_start = models.DateTimeField(null=True, blank=True)
    time_stop = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.IntegerField(null=True, blank=True)
    sort_order = models.IntegerField(default=0)
    completed = models.BooleanField(default=False)
    notes = models.TextField(null=True, blank=True)
    data = models.TextField(null=True, blank=True)
    root = models.ForeignKey(
        "goals.Goal",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        editable=False,
    )

    class Meta:
        db_table = "activity_instances"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(time_stop__isnull=True)
                | models.Q(time_start__isnull=True)
                | models.Q(time_stop__gte=models.F("time_start")),
                name="activity_instances_stop_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(duration_seconds__isnull=True)
                | models.Q(duration_seconds__gte=0),
                name="activity_instances_duration_not_negative",
            ),
            *root_constraints("activity_instances"),
        ]
        indexes = [
            models.Index(fields=["practice_session"], name="idx_activity_instances_session"),
            models.Index(fields=["activity_definition"], name="idx_activity_instances_definition"),
            models.Index(fields=["root"], name="idx_activity_instances_root"),
            models.Index(fields=["root", "-created_at"], name="idx_activity_instances_root_date"),
            models.Index(
                fields=["practice_session", "created_at"],
                name="idx_activity_instances_session_created",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.activity_definition} in {self.practice_session}"

    @classmethod
    def from_db(cls, db, field_names, values):
        """The row as Django reads it, with its times as read kept aside (Django's documented
        hook for values loaded from the database), for clean() to tell an edit from none."""
        instance = super().from_db(db, field_names, values)
        read = instance.__dict__
        instance._times_read = (read.get("time_start"), read.get("time_stop"))
        return instance

    def clean(self) -> None:
        """Times entered by hand: a stop before the start is refused in words, and the duration
        follows the start and stop (none while the timer runs). Only when the times change: a
        legacy row keeps its duration otherwise (the legacy app rounded it to the nearest
        second, where this cuts it), as it keeps its other values when saved untouched."""
        if self.time_start is None:
            return
        if getattr(self, "_times_read", None) == (self.time_start, self.time_stop):
            return
        if self.time_stop is None:
            self.duration_seconds = None
            return
        if self.time_stop < self.time_start:
            stop, start = moment_label(self.time_stop), moment_label(self.time_start)
            raise ValidationError(
                {
                    "time_stop": f"The stop time ({stop}) is before the start time ({start}). "
                    "Enter a stop at or after the start."
                }
            )
        self.duration_seconds = seconds_between(self.time_start, self.time_stop)


class MetricValue(RootedModel, TimestampMixin, models.Model):
    """A measured value of a metric for an activity instance, optionally for one split."""

    root_from = "activity_instance"

    id = legacy_id_field()
    activity_instance = models.ForeignKey(
        ActivityInstance,
        on_delete=models.CASCADE,
        related_name="metric_values",
        db_index=False,
    )
    metric_definition = models.ForeignKey(
        "goals.MetricDefinition",
        on_delete=models.PROTECT,
        related_name="metric_values",
        db_index=False,
    )
    value = models.FloatField()
    split_definition = models.ForeignKey(
        "goals.SplitDefinition",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="metric_values",
        db_index=False,
    )

    root = models.ForeignKey(
        "goals.Goal",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        editable=False,
    )

    class Meta:
        db_table = "metric_values"
        constraints = root_constraints("metric_values")
        indexes = [
            models.Index(fields=["activity_instance"], name="idx_metric_values_instance"),
            models.Index(fields=["metric_definition"], name="idx_metric_values_definition"),
            models.Index(fields=["root"], name="idx_metric_values_root"),
            models.Index(
                fields=["root", "metric_definition"], name="idx_metric_values_root_metric"
            ),
        ]

    def __str__(self) -> str:
        """What was measured, on what and when: "Squat: weight 93.45 kg (Session 3)".

        Lists select metric_definition and activity_instance's definition and session with the
        rows (MetricValueAdmin.list_select_related)."""
        if self.activity_instance_id is None or self.metric_definition_id is None:
            return "New metric value"
        instance = self.activity_instance
        return (
            f"{instance.activity_definition.name}: {self.metric_definition.name} "
            f"{self.value:g} {self.metric_definition.unit} ({instance.practice_session.name})"
        )

    def clean(self) -> None:
        """A value's metric and split are its instance's activity's (the session page offers
        only those). Checked only when the metric, the split or the instance changes: a legacy
        row that already breaks it stays editable otherwise."""
        super().clean()
        stored = (
            MetricValue._base_manager.filter(pk=self.pk)
            .values_list("activity_instance_id", "metric_definition_id", "split_definition_id")
            .first()
            if not self._state.adding
            else None
        )
        now = (self.activity_instance_id, self.metric_definition_id, self.split_definition_id)
        if self.activity_instance_id is None or stored == now:
            return
        activity = (
            ActivityInstance._base_manager.filter(pk=self.activity_instance_id)
            .values_list("activity_definition_id", flat=True)
            .first()
        )
        errors = {}
        for name, field_id in (
            ("metric_definition", self.metric_definition_id),
            ("split_definition", self.split_definition_id),
        ):
            if field_id is None or activity is None:
                continue
            definition = self._meta.get_field(name).related_model._base_manager.filter(pk=field_id)
            owner = definition.values_list("activity_id", flat=True).first()
            if owner is not None and owner != activity:
                errors[name] = (
                    f"“{definition.first()}” is a {self._meta.get_field(name).verbose_name} of "
                    "another activity: a value takes those of its activity instance's activity."
                )
        if errors:
            raise ValidationError(errors)


def moment_label(value: datetime) -> str:
    """A moment as people read it, in the local time zone: 2026-03-01 10:00:00."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
