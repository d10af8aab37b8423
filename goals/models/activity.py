"""What can be practised in a fractal, and what is measured about it."""

from __future__ import annotations

from django.db import models

from goals.models.fields import legacy_id_field
from goals.roots import root_constraints
from goals_project.bases.models import RootedModel, SoftDeleteMixin, TimestampMixin


def unique_live_name(*fields: str, name: str) -> models.UniqueConstraint:
    """Names are unique within their scope among live rows, so a deleted name can be reused."""
    return models.UniqueConstraint(
        fields=[*fields, "name"], condition=models.Q(deleted_at__isnull=True), name=name
    )


class ActivityGroup(RootedModel, TimestampMixin, SoftDeleteMixin, models.Model):
    """A named group of activity definitions within a fractal."""

    id = legacy_id_field()
    root = models.ForeignKey(
        "goals.Goal",
        on_delete=models.PROTECT,
        related_name="activity_groups",
        db_index=False,
    )
    name = models.CharField(max_length=255)
    description = models.TextField(null=True, blank=True, default="", db_default="")
    sort_order = models.IntegerField(null=True, blank=True, default=0, db_default=0)

    class Meta:
        db_table = "activity_groups"
        constraints = [
            unique_live_name("root", name="uniq_activity_group_name_per_root"),
            *root_constraints("activity_groups"),
        ]
        indexes = [models.Index(fields=["root"], name="idx_activity_groups_root")]

    def __str__(self) -> str:
        return self.name


class ActivityDefinition(RootedModel, TimestampMixin, SoftDeleteMixin, models.Model):
    """An activity that can be practised (e.g. "Squat") and how it is measured."""

    deleted_with = (("goals.MetricDefinition", "activity"), ("goals.SplitDefinition", "activity"))

    id = legacy_id_field()
    root = models.ForeignKey(
        "goals.Goal",
        on_delete=models.PROTECT,
        related_name="activity_definitions",
        db_index=False,
    )
    name = models.CharField(max_length=255)
    description = models.TextField(null=True, blank=True, default="", db_default="")
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
        db_index=False,
    )

    class Meta:
        db_table = "activity_definitions"
        constraints = [
            unique_live_name("root", name="uniq_activity_definition_name_per_root"),
            *root_constraints("activity_definitions"),
        ]
        # idx_activity_definitions_group replaces the legacy idx_activity_group (same column).
        indexes = [
            models.Index(fields=["group"], name="idx_activity_definitions_group"),
            models.Index(fields=["root"], name="idx_activity_definitions_root"),
        ]

    def __str__(self) -> str:
        return self.name


class MetricDefinition(RootedModel, TimestampMixin, SoftDeleteMixin, models.Model):
    """A quantity recorded for an activity (weight, reps, distance...) and its unit."""

    root_from = "activity"

    id = legacy_id_field()
    activity = models.ForeignKey(
        ActivityDefinition,
        on_delete=models.PROTECT,
        related_name="metric_definitions",
        db_index=False,
    )
    name = models.CharField(max_length=255)
    unit = models.CharField(max_length=64)
    is_active = models.BooleanField(null=True, default=True, db_default=True)
    is_top_set_metric = models.BooleanField(null=True, default=False, db_default=False)
    is_multiplicative = models.BooleanField(null=True, default=True, db_default=True)
    sort_order = models.IntegerField(default=0)
    root = models.ForeignKey(
        "goals.Goal",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        editable=False,
    )

    class Meta:
        db_table = "metric_definitions"
        constraints = [
            unique_live_name("activity", name="uniq_metric_name_per_activity"),
            *root_constraints("metric_definitions"),
        ]
        # idx_metric_definitions_active shares its leading column with ..._activity: it is the
        # plan's smaller index for the common "active metrics of an activity" lookup.
        indexes = [
            models.Index(fields=["activity"], name="idx_metric_definitions_activity"),
            models.Index(fields=["root"], name="idx_metric_definitions_root"),
            models.Index(
                fields=["activity"],
                name="idx_metric_definitions_active",
                condition=models.Q(is_active=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.unit})"


class SplitDefinition(RootedModel, TimestampMixin, SoftDeleteMixin, models.Model):
    """A named part of an activity (left/right, set 1/set 2) that metric values can be split by."""

    root_from = "activity"

    id = legacy_id_field()
    activity = models.ForeignKey(
        ActivityDefinition,
        on_delete=models.PROTECT,
        related_name="split_definitions",
        db_index=False,
    )
    name = models.CharField(max_length=255)
    order = models.IntegerField()
    root = models.ForeignKey(
        "goals.Goal",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        editable=False,
    )

    class Meta:
        db_table = "split_definitions"
        constraints = [
            unique_live_name("activity", name="uniq_split_name_per_activity"),
            *root_constraints("split_definitions"),
        ]
        indexes = [
            models.Index(fields=["activity"], name="idx_split_definitions_activity"),
            models.Index(fields=["root"], name="idx_split_definitions_root"),
        ]

    def __str__(self) -> str:
        return self.name
