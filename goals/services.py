"""Writes on the goal tree: deleting, restoring and purging a goal with its cascade, moves, and
fractal owners. Single rows of other models are goals_project.bases.services' business."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from goals.cascade import FRACTAL_DEFINITIONS, cascade_parts, cascade_scopes
from goals.models import Goal, GoalType, PracticeSessionGoal
from goals.roots import IS_OWN_ROOT, PARENTLESS_SESSION_ROOT, PARENTLESS_SESSION_STRAYED
from goals.tree import subtree_ids_sql
from goals_project.bases.services import CascadeResult, rows_purge_in_order


def goal_delete(*, goal: Goal) -> CascadeResult:
    """Soft-delete a goal, its subtree and what hangs off it, all stamped with one time.

    Sessions of the subtree take their activity instances along; deleting an ultimate goal also
    takes the fractal's activity groups and definitions, metric and split definitions and
    session templates. Rows deleted earlier keep their own time, so `goal_restore` leaves them
    deleted. A constant number of queries, in one transaction.
    """
    if goal.deleted_at is not None:
        raise ValidationError(f"'{goal}' is already deleted.")
    with transaction.atomic():
        stamp = timezone.now()
        counts = _cascade(goal, deleted_at=None, to=stamp)
    goal.deleted_at = stamp
    return CascadeResult(sum(counts.values()), counts)


def goal_restore(*, goal: Goal) -> CascadeResult:
    """Bring back exactly what the deletion of `goal` took; refuse while its parent is deleted."""
    if goal.deleted_at is None:
        raise ValidationError(f"'{goal}' is not deleted.")
    parent = Goal.all_objects.filter(pk=goal.parent_id).first() if goal.parent_id else None
    if parent is not None and parent.deleted_at is not None:
        raise ValidationError(
            f"'{goal}' is inside '{parent}', which is deleted too: restore '{parent}' first."
        )
    with transaction.atomic():
        counts = _cascade(goal, deleted_at=goal.deleted_at, to=None)
    goal.deleted_at = None
    return CascadeResult(sum(counts.values()), counts)


def _cascade(goal: Goal, *, deleted_at, to) -> dict[str, int]:
    """Set deleted_at to `to` on the rows of the goal's cascade whose deleted_at is `deleted_at`."""
    matching = {"deleted_at__isnull": True} if deleted_at is None else {"deleted_at": deleted_at}
    now = timezone.now()
    counts = {}
    for model, scope in cascade_scopes(goal):
        updated = model.all_objects.filter(scope, **matching).update(deleted_at=to, updated_at=now)
        counts[model._meta.label] = updated
    return counts


# Ids bound in one statement at most (SQLite's limit is far above; PostgreSQL's too).
PURGE_CHUNK = 500


def goal_purge(*, goal: Goal) -> CascadeResult:
    """Remove a deleted goal for good, with everything its deletion took (set-based, atomic).

    Refused while any row of its cascade is live, and when rows outside it still refer to it;
    in both cases nothing is removed.
    """
    if goal.deleted_at is None:
        raise ValidationError(f"'{goal}' is not deleted: delete it before purging it.")
    scopes = cascade_scopes(goal)
    live = sum(model.all_objects.filter(scope).alive().count() for model, scope in scopes)
    if live:
        raise ValidationError(
            f"'{goal}' cannot be purged: {live} row(s) under it are live. Delete them first."
        )
    scope_of = dict(scopes)
    goals = Goal._base_manager.filter(scope_of[Goal])
    # The goals are listed now: sessions linked only to the subtree are found through their
    # links, which an earlier step removes.
    goal_ids = list(goals.values_list("pk", flat=True))
    # So are the sessions that stay, linked to purged goals and to others.
    staying = list(
        PracticeSessionGoal._base_manager.filter(short_term_goal__in=goals)
        .exclude(practice_session__in=goals)
        .values_list("practice_session_id", flat=True)
        .distinct()
    )
    # Children before parents, so every statement leaves the foreign keys valid.
    steps = [step for part in cascade_parts() for step in part.purge_first(scope_of)]
    steps.append(
        PracticeSessionGoal._base_manager.filter(
            Q(practice_session__in=goals) | Q(short_term_goal__in=goals)
        )
    )
    if goal.is_root:
        steps += [step for part in cascade_parts() for step in part.fractal_purge_first(goal.pk)]
        steps += [
            model._base_manager.filter(root_id=goal.pk) for model in reversed(FRACTAL_DEFINITIONS)
        ]
    steps += [
        Goal._base_manager.filter(pk__in=goal_ids[start : start + PURGE_CHUNK])
        for start in range(0, len(goal_ids), PURGE_CHUNK)
    ]
    with transaction.atomic():
        result = rows_purge_in_order(steps, what=str(goal))
        _linked_sessions_reroot(sorted(set(staying)))
    return result


def _linked_sessions_reroot(session_ids: list[str]) -> None:
    """Of `session_ids`, the sessions without a parent whose root is no longer the root of any
    goal they are linked to (their links to another fractal's goals are all that is left) take
    one of those goals' root (goals.roots); what hangs below them follows in the database."""
    now = timezone.now()
    for start in range(0, len(session_ids), PURGE_CHUNK):
        chunk = session_ids[start : start + PURGE_CHUNK]
        with connections[Goal._base_manager.db].cursor() as cursor:
            cursor.execute(
                f"UPDATE goals AS t SET root_id = {PARENTLESS_SESSION_ROOT}, updated_at = %s "  # noqa: S608
                f"WHERE t.id IN ({', '.join(['%s'] * len(chunk))}) "
                f"AND {PARENTLESS_SESSION_STRAYED}",
                [now, *chunk],
            )


@dataclass(frozen=True)
class OwnerAssignment:
    """Fractals given to an owner, and those refused because another user owns them."""

    assigned: list[str]
    owned_by_others: list[str]


def fractal_owner_assign(
    *,
    owner: AbstractBaseUser,
    root_ids: list[str] | None = None,
    reassign: bool = False,
    using: str = "default",
) -> OwnerAssignment:
    """Give fractals to `owner`: the named ones, or else every fractal that has no owner yet.

    A fractal owned by someone else keeps its owner unless `reassign` is set; nothing changes
    when a named goal is not a fractal's root.
    """
    roots = Goal.all_objects.using(using).filter(IS_OWN_ROOT)
    if root_ids is None:
        roots = roots.filter(owner__isnull=True)
    else:
        found = set(roots.filter(pk__in=root_ids).values_list("pk", flat=True))
        unknown = [pk for pk in root_ids if pk not in found]
        if unknown:
            raise ValidationError(
                f"Not the id of a fractal's root goal: {', '.join(unknown)}. "
                "List fractals with their ids in the admin (Fractals and analytics)."
            )
        roots = roots.filter(pk__in=root_ids)
    others = roots.exclude(owner__isnull=True).exclude(owner_id=owner.pk)
    owned_by_others = [] if reassign else sorted(others.values_list("pk", flat=True))
    if owned_by_others:
        roots = roots.exclude(pk__in=owned_by_others)
    with transaction.atomic(using=using):
        assigned = sorted(roots.exclude(owner_id=owner.pk).values_list("pk", flat=True))
        # update() skips pre_save, so updated_at is set here.
        Goal.all_objects.using(using).filter(pk__in=assigned).update(
            owner_id=owner.pk, updated_at=timezone.now()
        )
    return OwnerAssignment(assigned, owned_by_others)


def goal_move_permission_check(
    *, goal: Goal, new_parent: Goal, user: AbstractBaseUser | None = None
) -> None:
    """Refuse (ValidationError) a move of `user`'s that leaves or enters a fractal they do not
    own: only a superuser moves goals between owners' fractals. No `user`: not someone's move."""
    if user is None or user.is_superuser:
        return
    owners = set(
        Goal._base_manager.filter(pk__in=[goal.root_id, new_parent.root_id]).values_list(
            "owner_id", flat=True
        )
    )
    if owners != {user.pk}:
        raise ValidationError(
            f"'{new_parent}' is in a fractal you do not own: only a superuser moves goals "
            "between owners' fractals."
        )


# Sessions named in a refused move's message at most; the rest are counted.
MOVE_SESSIONS_NAMED = 5


def goal_move_template_check(*, goal: Goal, new_parent: Goal) -> None:
    """Refuse (ValidationError) a move into another fractal that takes practice sessions along
    whose template stays in a fractal they leave: a session takes its template from its own
    fractal, as its page requires of a template set there or of a session moved there.

    The sessions taken along are those goal_move moves: the subtree's, and the sessions without
    a parent linked to goals of the subtree whose other links leave none in their fractal."""
    if new_parent.root_id == goal.root_id:
        return
    subtree = RawSQL(subtree_ids_sql(), [goal.pk])  # noqa: S611 - constant SQL
    sessions = Goal._base_manager.filter(type=GoalType.PRACTICE_SESSION)
    linked_elsewhere = PracticeSessionGoal._base_manager.filter(
        practice_session=OuterRef("pk"), short_term_goal__root_id=OuterRef("root_id")
    ).exclude(short_term_goal_id__in=RawSQL(subtree_ids_sql(), [goal.pk]))  # noqa: S611
    taken = sessions.filter(pk__in=subtree) | sessions.filter(
        parent__isnull=True, short_term_goal_links__short_term_goal_id__in=subtree
    ).exclude(Exists(linked_elsewhere))
    refused = list(
        taken.filter(template__isnull=False)
        .exclude(template__root_id=new_parent.root_id)
        .select_related("template")
        .distinct()
        .order_by("name", "pk")[: MOVE_SESSIONS_NAMED + 1]
    )
    if not refused:
        return
    named = "; ".join(
        f"“{session.name}” with its template “{session.template.name}”"
        for session in refused[:MOVE_SESSIONS_NAMED]
    )
    more = " (and more)" if len(refused) > MOVE_SESSIONS_NAMED else ""
    raise ValidationError(
        f"This move takes practice sessions into another fractal with a template that belongs "
        f"to the fractal they leave: {named}{more}. A practice session takes its template from "
        "its own fractal: clear or change their template first."
    )


def goal_move(*, goal: Goal, new_parent: Goal, user: AbstractBaseUser | None = None) -> Goal:
    """Move `goal` (and its subtree) under `new_parent`, in one transaction.

    The tree keeps its shape (Goal.clean: the order of types, no cycles, roots stay roots). Into
    another owner's fractal only for a superuser (`user`, when the move is someone's); into
    another fractal without sessions whose template stays behind (goal_move_template_check). The new
    root reaches the whole subtree, its activity instances and metric values through the
    database's cascading keys (goals.roots), and sessions without a parent linked to goals of the
    subtree follow where none of their links is left in their fractal (Goal.save), in a constant
    number of queries whatever the subtree's size.
    A refused move leaves `goal` as it was, in the database and in memory.
    """
    goal_move_permission_check(goal=goal, new_parent=new_parent, user=user)
    goal_move_template_check(goal=goal, new_parent=new_parent)
    old_parent_id = goal.parent_id
    goal.parent = new_parent
    try:
        goal.clean()
    except ValidationError:
        goal.parent_id = old_parent_id  # setting the id drops the cached new parent too
        raise
    with transaction.atomic():
        goal.save(update_fields=["parent"])
        # update() skips pre_save, so updated_at is set here for the rows that moved with it.
        with connections[goal._state.db].cursor() as cursor:
            cursor.execute(
                f"UPDATE goals SET updated_at = %s WHERE id IN ({subtree_ids_sql()})",  # noqa: S608
                [timezone.now(), goal.pk],
            )
    return goal
