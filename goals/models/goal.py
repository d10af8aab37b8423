"""The goal tree: one `goals` table holds every goal type, practice sessions included."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from goals.mixins import LiveManager, SoftDeleteMixin, TimestampMixin
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


class GoalTypeManager(LiveManager):
    """Live rows of the proxy model's goal type only."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(type=self.model.goal_type)


class Goal(TimestampMixin, SoftDeleteMixin, models.Model):
    """A node of a fractal: its `type` column says which kind (single-table inheritance)."""

    id = legacy_id_field()
    type = models.CharField(max_length=32, choices=GoalType.choices)
    name = models.CharField(max_length=255)
    description = models.TextField(null=True, blank=True, default="", db_default="")
    deadline = models.DateTimeField(null=True, blank=True)
    completed = models.BooleanField(null=True, default=False, db_default=False)
    parent = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="children",
        db_index=False,
    )
    # The UltimateGoal at the top of this goal's fractal (itself, for an UltimateGoal).
    root = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        editable=False,
    )
    duration_minutes = models.IntegerField(null=True, blank=True)
    session_data = models.TextField(null=True, blank=True)
    targets = models.TextField(null=True, blank=True)
    session_start = models.DateTimeField(null=True, blank=True)
    session_end = models.DateTimeField(null=True, blank=True)
    total_duration_seconds = models.IntegerField(null=True, blank=True)
    template = models.ForeignKey(
        "goals.SessionTemplate",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="practice_sessions",
        db_index=False,
    )
    attributes = models.TextField(null=True, blank=True)
    sort_order = models.IntegerField(default=0)
    # Who the fractal belongs to: set on ultimate goals only; every other row reaches its owner
    # through root_id. Fractals without an owner are visible to superusers only.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="fractals",
        db_index=False,
    )

    # The proxy models below set this; on `Goal` itself any type may be stored.
    goal_type: ClassVar[str | None] = None

    class Meta:
        db_table = "goals"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(type__in=GoalType.values), name="goals_valid_type"
            ),
            models.CheckConstraint(
                condition=models.Q(session_end__isnull=True)
                | models.Q(session_start__isnull=True)
                | models.Q(session_end__gte=models.F("session_start")),
                name="goals_session_end_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(total_duration_seconds__isnull=True)
                | models.Q(total_duration_seconds__gte=0),
                name="goals_total_duration_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(duration_minutes__isnull=True)
                | models.Q(duration_minutes__gte=0),
                name="goals_duration_minutes_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(owner__isnull=True) | models.Q(type=GoalType.ULTIMATE),
                name="goals_owner_on_ultimate_goals_only",
            ),
        ]
        indexes = [
            # The improvement plan's indexes. The single-column parent and root indexes share
            # their leading column with the composite ones; the plan keeps them as the smaller
            # index for foreign-key lookups and deletes, and verify_root_ids checks all of them.
            models.Index(fields=["parent"], name="idx_goals_parent_id"),
            models.Index(fields=["root"], name="idx_goals_root_id"),
            models.Index(fields=["type"], name="idx_goals_type"),
            models.Index(fields=["created_at"], name="idx_goals_created_at"),
            models.Index(fields=["parent", "type"], name="idx_goals_parent_type"),
            models.Index(fields=["root", "type"], name="idx_goals_root_type"),
            models.Index(
                fields=["root", "type"],
                name="idx_goals_completed",
                condition=models.Q(completed=True),
            ),
            models.Index(
                fields=["root", "created_at"],
                name="idx_goals_practice_sessions",
                condition=models.Q(type="PracticeSession"),
            ),
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
            models.Index(
                fields=["owner"], name="idx_goals_owner", condition=models.Q(owner__isnull=False)
            ),
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.goal_type is not None and not self.type:
            self.type = self.goal_type

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.root_id = self.derived_root_id()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.type == GoalType.ULTIMATE and self.parent_id is not None:
            raise ValidationError({"parent": "An ultimate goal is the top of its fractal."})
        if self.type != GoalType.ULTIMATE and self.owner_id is not None:
            raise ValidationError({"owner": "Only an ultimate goal has an owner."})
        if self.type != GoalType.ULTIMATE and self.parent_id is None and self.root_id is None:
            raise ValidationError({"parent": "Choose the goal this one belongs under."})
        if self.parent_id is not None and self.pk is not None and self.parent_id == self.pk:
            raise ValidationError({"parent": "A goal cannot be its own parent."})

    def derived_root_id(self) -> str:
        """The root this goal must have: its parent's, its own for an UltimateGoal.

        A practice session without a parent keeps the root it was given by the service that
        linked it to its short-term goals (`practice_session_goals`).
        """
        if self.parent_id is not None:
            return Goal._base_manager.values_list("root_id", flat=True).get(pk=self.parent_id)
        if self.type == GoalType.ULTIMATE:
            return self.pk
        if self.root_id is None:
            raise ValueError(
                f"{self.get_type_display()} '{self.name}' has no parent, so its fractal is unknown."
            )
        return self.root_id

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
        db_index=False,
    )
    short_term_goal = models.ForeignKey(
        Goal,
        on_delete=models.CASCADE,
        related_name="practice_session_links",
        db_index=False,
    )

    class Meta:
        db_table = "practice_session_goals"

    def __str__(self) -> str:
        return f"{self.practice_session_id} → {self.short_term_goal_id}"
