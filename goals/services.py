"""Writes on single rows, moves in the goal tree and fractal owners; cascades over the goal tree
are in sessions."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, models, transaction
from django.utils import timezone

from goals.mixins import SoftDeleteMixin
from goals.models import ActivityDefinition, Goal, MetricDefinition, SplitDefinition
from goals.roots import IS_OWN_ROOT
from goals.tree import subtree_ids_sql


@dataclass(frozen=True)
class CascadeResult:
    """Rows one soft deletion, restore or purge touched, per model label (delete()'s shape)."""

    total: int
    counts: dict[str, int]


def cascade_preview(service: Callable[..., CascadeResult], row: models.Model) -> CascadeResult:
    """What `service` (a delete, restore or purge service) would do to `row`: the service itself,
    run in a transaction that is rolled back, so a preview always counts what the action does.
    Raises the service's ValidationError when it would refuse."""
    with transaction.atomic(using=row._state.db):
        result = service(copy.copy(row))
        transaction.set_rollback(True, using=row._state.db)
    return result


def rows_purge_in_order(steps: list[models.QuerySet], *, what: str) -> CascadeResult:
    """Delete each queryset in order in one transaction; a row still referred to stops it all."""
    counts: dict[str, int] = {}
    # Tables whose rows may point at the purged ones, checked before the transaction ends:
    # foreign keys are deferred, and inside an outer transaction a commit would come too late.
    referring = {
        relation.related_model._meta.db_table
        for queryset in steps
        for relation in queryset.model._meta.related_objects
    }
    try:
        with transaction.atomic():
            for queryset in steps:
                # DELETE ... WHERE with the queryset as a subquery: nothing is loaded, and no
                # signals or Python cascades run (the steps list every table to clear).
                removed = queryset._raw_delete(queryset.db)
                label = queryset.model._meta.label
                counts[label] = counts.get(label, 0) + removed
            connections[steps[0].db].check_constraints(table_names=sorted(referring))
    except IntegrityError as error:
        raise ValidationError(
            f"'{what}' cannot be purged: rows outside it still refer to it ({error}). "
            "Purge or change those rows first; nothing was removed."
        ) from error
    return CascadeResult(sum(counts.values()), counts)


# Rows that hang off one row and share its deletion (a definition's metrics and splits).
ROW_CHILDREN: dict[type[models.Model], list[tuple[type[models.Model], str]]] = {
    ActivityDefinition: [(MetricDefinition, "activity"), (SplitDefinition, "activity")],
}


def _refuse_goal(row) -> None:
    if isinstance(row, Goal):
        raise TypeError("Goals cascade over their subtree: use sessions.services.goal_*.")


def row_delete(*, row: SoftDeleteMixin) -> CascadeResult:
    """Soft-delete one row that is not a goal, with the rows that hang off it, at one time."""
    _refuse_goal(row)
    if row.deleted_at is not None:
        raise ValidationError(f"'{row}' is already deleted.")
    stamp = timezone.now()
    with transaction.atomic():
        counts = _stamp_row(row, deleted_at=None, to=stamp)
    row.deleted_at = stamp
    return CascadeResult(sum(counts.values()), counts)


def row_restore(*, row: SoftDeleteMixin) -> CascadeResult:
    """Restore one deleted row that is not a goal, with what its deletion took.

    Refused, saying what to restore first, while a row it belongs to is deleted, and when its
    name has been taken since by a live row in the same scope (as `full_clean` would say).
    """
    _refuse_goal(row)
    if row.deleted_at is None:
        raise ValidationError(f"'{row}' is not deleted.")
    for field in row._meta.concrete_fields:
        related = field.related_model
        if not field.is_relation or not hasattr(related, "deleted_objects"):
            continue
        parent = related.deleted_objects.filter(pk=getattr(row, field.attname)).first()
        if parent is not None:
            raise ValidationError(
                f"'{row}' belongs to {related._meta.verbose_name} '{parent}', which is deleted "
                f"too: restore '{parent}' first."
            )
    stamp = row.deleted_at
    row.deleted_at = None
    try:
        row.validate_constraints()
    except ValidationError as error:
        row.deleted_at = stamp
        raise ValidationError(
            f"'{row}' cannot be restored: its name is used by another live row in the "
            "same scope. Rename one of them first."
        ) from error
    with transaction.atomic():
        counts = _stamp_row(row, deleted_at=stamp, to=None)
    return CascadeResult(sum(counts.values()), counts)


def _stamp_row(row, *, deleted_at, to) -> dict[str, int]:
    """Stamp the row, and its children whose deleted_at is `deleted_at`, with `to`."""
    matching = {"deleted_at__isnull": True} if deleted_at is None else {"deleted_at": deleted_at}
    now = timezone.now()
    model = type(row)._meta.concrete_model
    counts = {
        model._meta.label: model.all_objects.filter(pk=row.pk).update(deleted_at=to, updated_at=now)
    }
    for child, field in ROW_CHILDREN.get(model, []):
        counts[child._meta.label] = child.all_objects.filter(**{field: row.pk}, **matching).update(
            deleted_at=to, updated_at=now
        )
    return counts


def row_purge(*, row: SoftDeleteMixin, before: list[models.QuerySet] = ()) -> CascadeResult:
    """Remove a deleted row that is not a goal for good, with the rows that hang off it.

    `before` lists rows of other apps to remove first (an activity instance's metric values).
    """
    _refuse_goal(row)
    if row.deleted_at is None:
        raise ValidationError(f"'{row}' is not deleted: delete it before purging it.")
    model = type(row)._meta.concrete_model
    steps = list(before)
    for child, field in ROW_CHILDREN.get(model, []):
        children = child._base_manager.filter(**{field: row.pk})
        if children.filter(deleted_at__isnull=True).exists():
            raise ValidationError(
                f"'{row}' cannot be purged: some of its {child._meta.verbose_name_plural} are "
                "live. Delete them first."
            )
        steps.append(children)
    steps.append(model._base_manager.filter(pk=row.pk))
    return rows_purge_in_order(steps, what=str(row))


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


def goal_move(*, goal: Goal, new_parent: Goal, user: AbstractBaseUser | None = None) -> Goal:
    """Move `goal` (and its subtree) under `new_parent`, in one transaction.

    The tree keeps its shape (Goal.clean: the order of types, no cycles, roots stay roots). Into
    another owner's fractal only for a superuser (`user`, when the move is someone's). The new
    root reaches the whole subtree, its activity instances and metric values through the
    database's cascading keys (goals.roots), and sessions without a parent linked only to goals of
    the subtree follow (Goal.save), in a constant number of queries whatever the subtree's size.
    A refused move leaves `goal` as it was, in the database and in memory.
    """
    goal_move_permission_check(goal=goal, new_parent=new_parent, user=user)
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
