"""What can be practised in a fractal, and what is measured about it."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from goals.models.fields import legacy_id_field


class ActivityGroup(models.Model):
    """A named group of activity definitions within a fractal."""

    id = legacy_id_field()
    root = models.ForeignKey(
        "goals.Goal",
        on_delete=models.PROTECT,
        related_name="activity_groups",
        db_constraint=False,
        db_index=False,
    )
    name = models.CharField(max_length=255)
    description = models.TextField(null=True, blank=True, default="", db_default="")
    created_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    sort_order = models.IntegerField(null=True, blank=True, default=0, db_default=0)

    class Meta:
        db_table = "activity_groups"

    def __str__(self) -> str:
        return self.name


class ActivityDefinition(models.Model):
    """An activity that can be practised (e.g. "Squat") and how it is measured."""

    id = legacy_id_field()
    root = models.ForeignKey(
        "goals.Goal",
        on_delete=models.PROTECT,
        related_name="activity_definitions",
        db_constraint=False,
        db_index=False,
    )
    name = models.CharField(max_length=255)
    description = models.TextField(null=True, blank=True, default="", db_default="")
    created_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    has_sets = models.BooleanField(null=True, default=False, db_default=False)
    has_metrics = models.BooleanField(null=True, default=True, db_default=True)
    metrics_multiplicative = models.BooleanField(null=True, default=False, db_default=False)
    has_splits = models.BooleanField(null=True, default=False, db_default=False)
    group = models.ForeignKey(
        ActivityGroup,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="activity_definitions",
        db_constraint=False,
        db_index=False,
    )

    class Meta:
        db_table = "activity_definitions"
        indexes = [models.Index(fields=["group"], name="idx_activity_group")]

    def __str__(self) -> str:
        return self.name


class MetricDefinition(models.Model):
    """A quantity recorded for an activity (weight, reps, distance...) and its unit."""

    id = legacy_id_field()
    activity = models.ForeignKey(
        ActivityDefinition,
        on_delete=models.PROTECT,
        related_name="metric_definitions",
        db_constraint=False,
        db_index=False,
    )
    name = models.CharField(max_length=255)
    unit = models.CharField(max_length=64)
    created_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(null=True, default=True, db_default=True)
    is_top_set_metric = models.BooleanField(null=True, default=False, db_default=False)
    is_multiplicative = models.BooleanField(null=True, default=True, db_default=True)

    class Meta:
        db_table = "metric_definitions"

    def __str__(self) -> str:
        return f"{self.name} ({self.unit})"


class SplitDefinition(models.Model):
    """A named part of an activity (left/right, set 1/set 2) that metric values can be split by."""

    id = legacy_id_field()
    activity = models.ForeignKey(
        ActivityDefinition,
        on_delete=models.PROTECT,
        related_name="split_definitions",
        db_constraint=False,
        db_index=False,
    )
    name = models.CharField(max_length=255)
    order = models.IntegerField()
    created_at = models.DateTimeField(null=True, blank=True, default=timezone.now)

    class Meta:
        db_table = "split_definitions"

    def __str__(self) -> str:
        return self.name
