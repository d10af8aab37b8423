"""Training programs: blocks of days with sessions scheduled from templates."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from goals.models.fields import legacy_id_field
from goals.roots import root_constraints
from goals_project.bases.models import RootedModel


class Program(RootedModel, models.Model):
    """A dated training plan for a fractal; `goal_ids` and `weekly_schedule` are JSON text."""

    id = legacy_id_field()
    root = models.ForeignKey(
        "goals.Goal",
        on_delete=models.PROTECT,
        related_name="programs",
    )
    name = models.CharField(max_length=255)
    description = models.TextField(null=True, blank=True)
    start_date = models.DateTimeField()
    end_date = models.DateTimeField()
    created_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    updated_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    is_active = models.BooleanField(null=True, default=True)
    goal_ids = models.TextField(default="[]")
    weekly_schedule = models.TextField(default="{}")

    class Meta:
        db_table = "programs"
        constraints = root_constraints("programs")

    def __str__(self) -> str:
        return self.name


class ProgramBlock(models.Model):
    """A phase of a program."""

    id = legacy_id_field()
    program = models.ForeignKey(
        Program,
        on_delete=models.CASCADE,
        related_name="blocks",
    )
    name = models.CharField(max_length=255)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    color = models.CharField(max_length=32, null=True, blank=True)
    goal_ids = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "program_blocks"

    def __str__(self) -> str:
        return self.name


class ProgramDay(models.Model):
    """A day within a program block."""

    id = legacy_id_field()
    block = models.ForeignKey(
        ProgramBlock,
        on_delete=models.CASCADE,
        related_name="days",
    )
    date = models.DateField(null=True, blank=True)
    day_number = models.IntegerField(null=True, blank=True)
    name = models.CharField(max_length=255, null=True, blank=True)
    notes = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "program_days"

    def __str__(self) -> str:
        return self.name or f"Day {self.day_number}"


class ScheduledSession(models.Model):
    """A session planned on a program day, usually from a template."""

    id = legacy_id_field()
    day = models.ForeignKey(
        ProgramDay,
        on_delete=models.CASCADE,
        related_name="scheduled_sessions",
    )
    session_template = models.ForeignKey(
        "goals.SessionTemplate",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="scheduled_sessions",
    )
    is_completed = models.BooleanField(null=True, default=False)
    completion_data = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "scheduled_sessions"

    def __str__(self) -> str:
        template = self.session_template.name if self.session_template else "A session"
        return f"{template} on {self.day}"
