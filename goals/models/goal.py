"""The goal tree: one `goals` table holds every goal type, practice sessions included."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone

from goals.models.fields import legacy_id_field


class GoalType(models.TextChoices):
    ULTIMATE = "UltimateGoal", "Ultimate goal"
    LONG_TERM = "LongTermGoal", "Long-term goal"
    MID_TERM = "MidTermGoal", "Mid-term goal"
    SHORT_TERM = "ShortTermGoal", "Short-term goal"
    PRACTICE_SESSION = "PracticeSession", "Practice session"
    IMMEDIATE = "ImmediateGoal", "Immediate goal"
    MICRO = "MicroGoal", "Micro goal"
    NANO = "NanoGoal", "Nano goal"


class GoalTypeManager(models.Manager):
    """Rows of the proxy model's goal type only."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(type=self.model.goal_type)


class Goal(models.Model):
    """A node of a fractal: its `type` column says which kind (single-table inheritance)."""

    id = legacy_id_field()
    type = models.CharField(max_length=32, choices=GoalType.choices)
    name = models.CharField(max_length=255)
    description = models.TextField(null=True, blank=True, default="", db_default="")
    deadline = models.DateTimeField(null=True, blank=True)
    completed = models.BooleanField(null=True, default=False, db_default=False)
    created_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    parent = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="children",
        db_constraint=False,
        db_index=False,
    )
    root = models.ForeignKey(
        "self",
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    duration_minutes = models.IntegerField(null=True, blank=True)
    session_data = models.TextField(null=True, blank=True)
    targets = models.TextField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)
    session_start = models.DateTimeField(null=True, blank=True)
    session_end = models.DateTimeField(null=True, blank=True)
    total_duration_seconds = models.IntegerField(null=True, blank=True)
    template = models.ForeignKey(
        "goals.SessionTemplate",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="practice_sessions",
        db_constraint=False,
        db_index=False,
    )
    attributes = models.TextField(null=True, blank=True)

    # The proxy models below set this; on `Goal` itself any type may be stored.
    goal_type: ClassVar[str | None] = None

    class Meta:
        db_table = "goals"
        indexes = [
            # Legacy partial indexes of the dev schema, kept under their legacy names.
            models.Index(
                fields=["session_start"],
                name="idx_session_start",
                condition=models.Q(type="PracticeSession"),
            ),
            models.Index(
                fields=["session_end"],
                name="idx_session_end",
                condition=models.Q(type="PracticeSession"),
            ),
            models.Index(
                fields=["template"],
                name="idx_template_id",
                condition=models.Q(type="PracticeSession"),
            ),
            models.Index(
                fields=["total_duration_seconds"],
                name="idx_session_duration",
                condition=models.Q(type="PracticeSession"),
            ),
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.goal_type is not None and not self.type:
            self.type = self.goal_type

    def __str__(self) -> str:
        return self.name

    def as_typed(self) -> Goal:
        """This row as an instance of the proxy model for its type."""
        proxy = GOAL_TYPE_MODELS.get(self.type)
        if proxy is not None:
            self.__class__ = proxy
        return self


class UltimateGoal(Goal):
    """The top of a fractal: its own root."""

    goal_type = GoalType.ULTIMATE
    objects = GoalTypeManager()

    class Meta:
        proxy = True


class LongTermGoal(Goal):
    goal_type = GoalType.LONG_TERM
    objects = GoalTypeManager()

    class Meta:
        proxy = True


class MidTermGoal(Goal):
    goal_type = GoalType.MID_TERM
    objects = GoalTypeManager()

    class Meta:
        proxy = True


class ShortTermGoal(Goal):
    goal_type = GoalType.SHORT_TERM
    objects = GoalTypeManager()

    class Meta:
        proxy = True


class PracticeSession(Goal):
    """A practice session: a goal row whose session_* columns are in use."""

    goal_type = GoalType.PRACTICE_SESSION
    objects = GoalTypeManager()

    class Meta:
        proxy = True


class ImmediateGoal(Goal):
    goal_type = GoalType.IMMEDIATE
    objects = GoalTypeManager()

    class Meta:
        proxy = True


class MicroGoal(Goal):
    goal_type = GoalType.MICRO
    objects = GoalTypeManager()

    class Meta:
        proxy = True


class NanoGoal(Goal):
    goal_type = GoalType.NANO
    objects = GoalTypeManager()

    class Meta:
        proxy = True


GOAL_TYPE_MODELS: dict[str, type[Goal]] = {
    model.goal_type: model
    for model in (
        UltimateGoal,
        LongTermGoal,
        MidTermGoal,
        ShortTermGoal,
        PracticeSession,
        ImmediateGoal,
        MicroGoal,
        NanoGoal,
    )
}


class PracticeSessionGoal(models.Model):
    """Links a practice session to the short-term goal(s) it serves."""

    pk = models.CompositePrimaryKey("practice_session_id", "short_term_goal_id")
    practice_session = models.ForeignKey(
        Goal,
        on_delete=models.CASCADE,
        related_name="short_term_goal_links",
        db_constraint=False,
        db_index=False,
    )
    short_term_goal = models.ForeignKey(
        Goal,
        on_delete=models.CASCADE,
        related_name="practice_session_links",
        db_constraint=False,
        db_index=False,
    )

    class Meta:
        db_table = "practice_session_goals"

    def __str__(self) -> str:
        return f"{self.practice_session_id} → {self.short_term_goal_id}"
