"""What was done in a practice session and what was measured."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from goals.models.fields import legacy_id_field


class ActivityInstance(models.Model):
    """One activity performed in a practice session, optionally timed."""

    id = legacy_id_field()
    practice_session = models.ForeignKey(
        "goals.Goal",
        on_delete=models.CASCADE,
        related_name="activity_instances",
        db_constraint=False,
        db_index=False,
    )
    activity_definition = models.ForeignKey(
        "goals.ActivityDefinition",
        on_delete=models.PROTECT,
        related_name="activity_instances",
        db_constraint=False,
        db_index=False,
    )
    created_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    time_start = models.DateTimeField(null=True, blank=True)
    time_stop = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.IntegerField(null=True, blank=True)

    class Meta:
        db_table = "activity_instances"

    def __str__(self) -> str:
        return f"{self.activity_definition_id} in {self.practice_session_id}"


class MetricValue(models.Model):
    """A measured value of a metric for an activity instance, optionally for one split."""

    id = legacy_id_field()
    activity_instance = models.ForeignKey(
        ActivityInstance,
        on_delete=models.CASCADE,
        related_name="metric_values",
        db_constraint=False,
        db_index=False,
    )
    metric_definition = models.ForeignKey(
        "goals.MetricDefinition",
        on_delete=models.PROTECT,
        related_name="metric_values",
        db_constraint=False,
        db_index=False,
    )
    value = models.FloatField()
    split_definition = models.ForeignKey(
        "goals.SplitDefinition",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="metric_values",
        db_constraint=False,
        db_index=False,
    )

    class Meta:
        db_table = "metric_values"

    def __str__(self) -> str:
        return f"{self.metric_definition_id} = {self.value}"
