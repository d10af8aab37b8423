"""The one root rule: which goal is a fractal's root, and where every other row takes its root.

A fractal's root is a goal without a parent whose type is one of the four root types; it is its
own root. Every other row takes the root of the row it hangs from: a goal its parent's (whatever
the parent's type, practice sessions included), a practice session without a parent the root of
the goal(s) it is linked to (`practice_session_goals`), an activity instance its session's, a
metric value its instance's, metric and split definitions their activity's. Activity groups and
definitions, session templates and programs name their fractal themselves.

Everything that derives or checks a root reads it from here: the models' `save()` (RootedModel),
the database constraints declared in the models' `Meta`, the backfill migration and
`verify_root_ids`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from goals_project.bases.constraints import CompositeForeignKey
from goals_project.bases.models import IS_OWN_ROOT


class GoalType(models.TextChoices):
    ULTIMATE = "UltimateGoal", "Ultimate goal"
    LONG_TERM = "LongTermGoal", "Long-term goal"
    MID_TERM = "MidTermGoal", "Mid-term goal"
    SHORT_TERM = "ShortTermGoal", "Short-term goal"
    PRACTICE_SESSION = "PracticeSession", "Practice session"
    IMMEDIATE = "ImmediateGoal", "Immediate goal"
    MICRO = "MicroGoal", "Micro goal"
    NANO = "NanoGoal", "Nano goal"


# The tree's order, top down: each type's children are of the next type.
TREE_ORDER: tuple[str, ...] = tuple(GoalType.values)
# A fractal may start at any of these (the legacy app's create-fractal endpoint accepted them).
ROOT_TYPES: tuple[str, ...] = TREE_ORDER[:4]
# Without a parent a goal is a fractal's root, or a session belonging to its linked goals.
PARENTLESS_TYPES: tuple[str, ...] = (*ROOT_TYPES, GoalType.PRACTICE_SESSION.value)


def parent_type(goal_type: str) -> str | None:
    """The type a goal of `goal_type` hangs under in the tree's order (None for the top)."""
    position = TREE_ORDER.index(goal_type)
    return TREE_ORDER[position - 1] if position else None


def article_and_label(goal_type: str) -> str:
    """'a mid-term goal', 'an ultimate goal': a type's label with its article."""
    label = GoalType(goal_type).label.lower()
    return f"{'an' if label[0] in 'aeiou' else 'a'} {label}"


def placement_error(goal_type: str, parent_goal_type: str | None) -> str | None:
    """Why a goal of `goal_type` cannot hang under a goal of `parent_goal_type`, or None."""
    expected = parent_type(goal_type)
    this = article_and_label(goal_type).capitalize()
    if parent_goal_type is None:
        if goal_type in PARENTLESS_TYPES:
            return None
        return f"{this} belongs under {article_and_label(expected)}."
    if expected is None:
        return f"{this} is the top of its fractal: it has no parent."
    if parent_goal_type != expected:
        return (
            f"{this} belongs under {article_and_label(expected)}, "
            f"not under {article_and_label(parent_goal_type)}."
        )
    return None


# A session without a parent takes the root of a goal it is linked to: the one part of the rule
# that no constraint holds (a foreign key cannot follow practice_session_goals). SQL true for such
# a session (alias t) whose root is none of its linked goals' roots; `verify_root_ids` counts
# them, and a goal's move to another fractal carries them along (Goal.save).
PARENTLESS_SESSION_STRAYED = (
    "t.parent_id IS NULL AND t.type = 'PracticeSession' AND EXISTS (SELECT 1 "
    "FROM practice_session_goals l WHERE l.practice_session_id = t.id) AND t.root_id NOT IN "
    "(SELECT g.root_id FROM practice_session_goals l JOIN goals g "
    "ON g.id = l.short_term_goal_id WHERE l.practice_session_id = t.id)"
)

# The root such a session takes when it has strayed (a link to another fractal's goal is all it
# has left): its linked goals' root, the smallest where they disagree, as the backfill chooses.
# SQL over alias t.
PARENTLESS_SESSION_ROOT = (
    "(SELECT MIN(g.root_id) FROM practice_session_goals l JOIN goals g "
    "ON g.id = l.short_term_goal_id WHERE l.practice_session_id = t.id)"
)


@dataclass(frozen=True)
class RootChain:
    """A table whose rows take their root from the row that `column` points to."""

    table: str
    column: str
    parent_table: str
    parent: str  # in words, for messages: "its parent", "its session"

    def disagrees_sql(self, alias: str = "t") -> str:
        """SQL true for a row (alias `alias`) whose root is not the root of the row `column`
        points to. An EXISTS, which PostgreSQL runs as one join over both tables, where a
        subquery for the parent's root would be one index lookup a row (3.6 s at 1m)."""
        return (
            f"EXISTS (SELECT 1 FROM {self.parent_table} p "  # noqa: S608 - names from CHAINS
            f"WHERE p.id = {alias}.{self.column} AND p.root_id <> {alias}.root_id)"
        )

    @property
    def constraint_name(self) -> str:
        return f"{self.table}_root_follows_{self.column.removesuffix('_id')}"

    def constraint(self) -> CompositeForeignKey:
        """(column, root_id) → parent_table (id, root_id), carried down on update: moving a row
        to another fractal is one update of its top row, and the database moves what hangs
        below."""
        return CompositeForeignKey(
            name=self.constraint_name,
            columns=(self.column, "root_id"),
            to_table=self.parent_table,
            to_columns=("id", "root_id"),
            on_update="CASCADE",
        )


CHAINS: dict[str, RootChain] = {
    chain.table: chain
    for chain in (
        RootChain("goals", "parent_id", "goals", "its parent"),
        RootChain("activity_instances", "practice_session_id", "goals", "its session"),
        RootChain("metric_values", "activity_instance_id", "activity_instances", "its instance"),
        RootChain("metric_definitions", "activity_id", "activity_definitions", "its activity"),
        RootChain("split_definitions", "activity_id", "activity_definitions", "its activity"),
    )
}
# Tables whose rows name their root themselves (goals: the roots and parentless sessions); a
# constraint makes sure it is a root. Rows of a chain reach a root through their chain.
CHOSEN_ROOT_TABLES: tuple[str, ...] = (
    "goals",
    "activity_groups",
    "activity_definitions",
    "session_templates",
    "programs",
)
# Every table that carries root_id: a chain's, or one that names its root.
ROOT_TABLES: tuple[str, ...] = tuple(dict.fromkeys((*CHAINS, *CHOSEN_ROOT_TABLES)))
# Tables that chains point to: their (id, root_id) is a key.
KEYED_TABLES: tuple[str, ...] = tuple(dict.fromkeys(c.parent_table for c in CHAINS.values()))


def root_key_name(table: str) -> str:
    return f"{table}_id_root_key"


def root_is_a_root_name(table: str) -> str:
    return f"{table}_root_is_a_root"


def root_constraints(table: str) -> list[models.BaseConstraint]:
    """The constraints that hold the root rule for `table`, for its model's `Meta.constraints`."""
    constraints: list[models.BaseConstraint] = []
    if table in KEYED_TABLES:
        # Columns given as expressions: the key is a unique index of its own, not part of the
        # table's definition, so that SQLite can add it without rebuilding the table
        # (goals_project.maintenance.migration_operations.alter_constraints_in_place). A
        # foreign key may point to the columns of a unique index on SQLite and PostgreSQL alike.
        constraints.append(
            models.UniqueConstraint(models.F("id"), models.F("root"), name=root_key_name(table))
        )
    if table in CHAINS:
        constraints.append(CHAINS[table].constraint())
    if table in CHOSEN_ROOT_TABLES:
        # (root_id, root_id) → goals (id, root_id): the goal it names is its own root.
        constraints.append(
            CompositeForeignKey(
                name=root_is_a_root_name(table),
                columns=("root_id", "root_id"),
                to_table="goals",
                to_columns=("id", "root_id"),
            )
        )
    return constraints


# What makes a goal a root, in the goals table's own checks.
GOAL_ROOT_CHECKS: tuple[models.CheckConstraint, ...] = (
    models.CheckConstraint(
        condition=~IS_OWN_ROOT | models.Q(parent__isnull=True, type__in=ROOT_TYPES),
        name="goals_own_root_is_a_parentless_root_type",
        violation_error_message="Only a parentless goal of a root type is a root.",
    ),
    models.CheckConstraint(
        condition=models.Q(parent__isnull=False) | ~models.Q(type__in=ROOT_TYPES) | IS_OWN_ROOT,
        name="goals_parentless_root_type_is_own_root",
        violation_error_message="A parentless goal of a root type is its own root.",
    ),
    models.CheckConstraint(
        condition=models.Q(parent__isnull=False) | models.Q(type__in=PARENTLESS_TYPES),
        name="goals_parentless_only_roots_and_sessions",
        violation_error_message="Only roots and sessions may lack a parent.",
    ),
    models.CheckConstraint(
        condition=models.Q(owner__isnull=True) | IS_OWN_ROOT,
        name="goals_owner_on_roots_only",
        violation_error_message="Only a fractal's root goal has an owner.",
    ),
)
