"""The goal tree: one `goals` table holds every goal type, practice sessions included."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.utils import timezone

from goals.models.fields import legacy_id_field
from goals.roots import (
    GOAL_ROOT_CHECKS,
    IS_OWN_ROOT,
    PARENTLESS_SESSION_STRAYED,
    ROOT_TYPES,
    GoalType,
    article_and_label,
    placement_error,
    root_constraints,
)
from goals.tree import subtree_ids_sql
from goals_project.bases.models import (
    DeletedManager,
    LiveManager,
    RootedModel,
    SoftDeleteMixin,
    SoftDeleteQuerySet,
    TimestampMixin,
)

__all__ = ["GOAL_TYPE_MODELS", "Fractal", "Goal", "GoalType", "PracticeSessionGoal"]


class _OfGoalType:
    """A manager mixin: only rows of the proxy model's goal type."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(type=self.model.goal_type)


class GoalTypeManager(_OfGoalType, LiveManager):
    """Live rows of the proxy model's goal type."""


class GoalTypeAllManager(_OfGoalType, models.Manager.from_queryset(SoftDeleteQuerySet)):
    """Rows of the proxy model's goal type, deleted or not."""


class GoalTypeDeletedManager(_OfGoalType, DeletedManager):
    """Deleted rows of the proxy model's goal type."""


class GoalOfType(models.Model):
    """The managers of a goal type's proxy model: each scoped to its type, like `objects`."""

    objects = GoalTypeManager()
    all_objects = GoalTypeAllManager()
    deleted_objects = GoalTypeDeletedManager()

    class Meta:
        abstract = True


class Goal(RootedModel, TimestampMixin, SoftDeleteMixin, models.Model):
    """A node of a fractal: its `type` column says which kind (single-table inheritance)."""

    root_from = "parent"
    own_cascade = "goals.services.goal_delete, goal_restore and goal_purge"
    # A session without a parent goes with the goals it is linked to (goals.tree).
    deleted_along = ("short_term_goal_links__short_term_goal",)

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
    # The root goal of this goal's fractal (itself, for a root: goals.roots).
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
    # Who the fractal belongs to: set on root goals only; every other row reaches its owner
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
                violation_error_message=(
                    "A session ends at or after it starts: enter an end at or after the start."
                ),
            ),
            models.CheckConstraint(
                condition=models.Q(total_duration_seconds__isnull=True)
                | models.Q(total_duration_seconds__gte=0),
                name="goals_total_duration_not_negative",
                violation_error_message="A session's total duration is 0 seconds or more.",
            ),
            models.CheckConstraint(
                condition=models.Q(duration_minutes__isnull=True)
                | models.Q(duration_minutes__gte=0),
                name="goals_duration_minutes_not_negative",
                violation_error_message="A duration in minutes is 0 or more.",
            ),
            *GOAL_ROOT_CHECKS,
            *root_constraints("goals"),
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
            # The fractals by name (the admin's fractal filter, tree links and fractal list):
            # the roots alone, in order, instead of a scan of every goal.
            models.Index(fields=["name"], name="idx_goals_fractals", condition=IS_OWN_ROOT),
            # The live goals (the admin's goal list counts them for its pages): a count reads
            # this index alone, not every goal's row.
            models.Index(
                fields=["created_at"],
                name="idx_goals_live",
                condition=models.Q(deleted_at__isnull=True),
            ),
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.goal_type is not None and not self.type:
            self.type = self.goal_type

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        """Save; when the goal's root changes (it moved to another fractal), the database carries
        the new root down its subtree, instances and values (goals.roots), and the sessions
        without a parent that no longer share a root with any goal they are linked to follow
        here, in one transaction."""
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and not update_fields:
            return  # nothing to save, as in Django
        using = kwargs.get("using") or self._state.db or DEFAULT_DB_ALIAS
        may_move = update_fields is None or {"parent", "root"} & set(update_fields)
        with transaction.atomic(using=using):
            before = None
            if may_move and not self._state.adding:
                before = (
                    Goal._base_manager.using(using)
                    .filter(pk=self.pk)
                    .values_list("root_id", flat=True)
                    .first()
                )
            super().save(*args, **kwargs)
            if before is not None and before != self.root_id:
                self._carry_linked_sessions(using)

    def _carry_linked_sessions(self, using: str) -> None:
        """The sessions without a parent linked to goals of the subtree whose root is no longer
        the root of any goal they are linked to take the subtree's: those linked only to it, and
        those whose other links moved before (a session linked to two goals moved one by one)."""
        with connections[using].cursor() as cursor:
            cursor.execute(
                "UPDATE goals AS t SET root_id = %s, updated_at = %s WHERE t.id IN "  # noqa: S608
                "(SELECT practice_session_id FROM practice_session_goals WHERE "
                f"short_term_goal_id IN ({subtree_ids_sql()})) AND {PARENTLESS_SESSION_STRAYED}",
                [self.root_id, timezone.now(), self.pk],
            )

    def clean(self) -> None:
        """The tree keeps its shape: the legacy app's order of types, no cycles, roots stay roots.

        Only what changes is checked, so a legacy row that already breaks the order can still be
        edited; a change never makes it worse.
        """
        if self.type not in GoalType.values:
            return  # clean_fields() reports the missing or unknown type; no order to check.
        stored = (
            Goal._base_manager.filter(pk=self.pk).values("type", "parent_id").first()
            if self.pk is not None
            else None
        )
        moved = stored is None or stored["parent_id"] != self.parent_id
        retyped = stored is not None and stored["type"] != self.type
        if stored is not None and (moved or retyped):
            was_root = stored["parent_id"] is None and stored["type"] in ROOT_TYPES
            if was_root != self.is_root:
                raise ValidationError(
                    "A fractal's root stays a root, and a goal inside a fractal stays inside: "
                    + (
                        "this change would turn a fractal's root into a goal of another fractal."
                        if was_root
                        else "this change would make it the root of a new fractal."
                    )
                    + " Create the goal anew where it belongs instead."
                )
            if stored["parent_id"] is not None and self.parent_id is None:
                raise ValidationError({"parent": "Choose the goal this one belongs under."})
        errors: dict[str, str] = {}
        if moved or retyped:
            parent_type = (
                Goal._base_manager.filter(pk=self.parent_id).values_list("type", flat=True).first()
                if self.parent_id is not None
                else None
            )
            error = placement_error(self.type, parent_type)
            was_misplaced = (
                stored is not None and not moved and placement_error(stored["type"], parent_type)
            )
            if error and not was_misplaced:
                errors["parent" if moved else "type"] = error
        if retyped:
            errors.update(self._children_refusing(stored["type"]))
        if (
            moved
            and self.parent_id is not None
            and (self.parent_id == self.pk or self._in_subtree(self.parent_id))
        ):
            errors["parent"] = "A goal cannot move under itself or one of its descendants."
        if self.owner_id is not None and not self.is_root:
            errors["owner"] = "Only a fractal's root goal has an owner."
        if (
            stored is None
            and self.parent_id is None
            and self.type == GoalType.PRACTICE_SESSION
            and self.root_id is None
        ):
            # A session without a parent takes the root of the goals it is linked to; a new one
            # has no links yet, so its fractal would be unknown (parentless_root_id).
            errors["parent"] = (
                "Choose the goal this session serves: a new session takes its fractal from it."
            )
        if errors:
            raise ValidationError(errors)

    def _children_refusing(self, old_type: str) -> dict[str, str]:
        """Children that fit under the old type but would not fit under the new one."""
        children = set(Goal._base_manager.filter(parent_id=self.pk).values_list("type", flat=True))
        refusing = [
            child
            for child in children
            if placement_error(child, self.type) and not placement_error(child, old_type)
        ]
        if not refusing:
            return {}
        return {
            "type": f"Its children cannot hang under {article_and_label(self.type)}: "
            + " ".join(placement_error(child, self.type) for child in sorted(refusing))
        }

    def _in_subtree(self, goal_id: str) -> bool:
        with connections[self._state.db or DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(
                f"SELECT 1 FROM ({subtree_ids_sql()}) s WHERE s.id = %s",  # noqa: S608
                [self.pk, goal_id],
            )
            return cursor.fetchone() is not None

    @property
    def is_root(self) -> bool:
        """Whether this goal is a fractal's root: no parent, and of a root type."""
        return self.parent_id is None and self.type in ROOT_TYPES

    def parentless_root_id(self) -> str:
        """A root is its own root; a practice session without a parent keeps the root of the
        goal(s) it is linked to, which the service that linked it gave it."""
        if self.type in ROOT_TYPES:
            return self.pk
        if self.type == GoalType.PRACTICE_SESSION and self.root_id is not None:
            return self.root_id
        raise ValueError(
            f"{self.get_type_display()} '{self.name}' has no parent, so its fractal is unknown."
        )

    def as_typed(self) -> Goal:
        """This row as an instance of the proxy model for its type."""
        proxy = GOAL_TYPE_MODELS.get(self.type)
        if proxy is not None:
            self.__class__ = proxy
        return self


class UltimateGoal(GoalOfType, Goal):
    """The top of a fractal: its own root."""

    goal_type = GoalType.ULTIMATE

    class Meta:
        proxy = True


class LongTermGoal(GoalOfType, Goal):
    goal_type = GoalType.LONG_TERM

    class Meta:
        proxy = True


class MidTermGoal(GoalOfType, Goal):
    goal_type = GoalType.MID_TERM

    class Meta:
        proxy = True


class ShortTermGoal(GoalOfType, Goal):
    goal_type = GoalType.SHORT_TERM

    class Meta:
        proxy = True


class PracticeSession(GoalOfType, Goal):
    """A practice session: a goal row whose session_* columns are in use."""

    goal_type = GoalType.PRACTICE_SESSION

    class Meta:
        proxy = True


class ImmediateGoal(GoalOfType, Goal):
    goal_type = GoalType.IMMEDIATE

    class Meta:
        proxy = True


class MicroGoal(GoalOfType, Goal):
    goal_type = GoalType.MICRO

    class Meta:
        proxy = True


class NanoGoal(GoalOfType, Goal):
    goal_type = GoalType.NANO

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


class RootsOnly:
    """Scopes a manager of the Fractal proxy to root goals (goals.roots: their own root)."""

    def get_queryset(self) -> SoftDeleteQuerySet:
        return super().get_queryset().filter(IS_OWN_ROOT)


class LiveFractalManager(RootsOnly, LiveManager):
    """Live root goals."""


class FractalManager(RootsOnly, models.Manager.from_queryset(SoftDeleteQuerySet)):
    """Root goals, deleted ones included."""


class DeletedFractalManager(RootsOnly, DeletedManager):
    """Deleted root goals."""


class Fractal(Goal):
    """A fractal, seen from its root goal: any goal that is its own root, whichever of the four
    root types it has (goals.roots)."""

    objects: ClassVar[LiveFractalManager] = LiveFractalManager()
    all_objects: ClassVar[FractalManager] = FractalManager()
    deleted_objects: ClassVar[DeletedFractalManager] = DeletedFractalManager()

    class Meta:
        proxy = True


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
