"""Soft deletion, restore and purge of single rows, and the preview of any of them.

Rows whose deletion takes others along declare it on their model (`SoftDeleteMixin.deleted_with`);
models whose deletions cascade through services of their own (goals, over their subtree) name
them in `own_cascade`, and these services refuse their rows.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, models, transaction
from django.utils import timezone

from goals_project.bases.foreign_keys import foreign_keys_check
from goals_project.bases.models import SoftDeleteMixin


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
            connection = connections[steps[0].db]
            if connection.vendor == "sqlite":  # names every column of a composite key
                foreign_keys_check(connection, sorted(referring))
            else:
                connection.check_constraints(table_names=sorted(referring))
    except IntegrityError as error:
        raise ValidationError(
            f"'{what}' cannot be purged: rows outside it still refer to it ({error}). "
            "Purge or change those rows first; nothing was removed."
        ) from error
    return CascadeResult(sum(counts.values()), counts)


def _row_children(model: type[models.Model]) -> list[tuple[type[models.Model], str]]:
    """The rows that hang off a row of `model` and share its deletion, as its model declares
    them (`SoftDeleteMixin.deleted_with`: a definition's metrics and splits)."""
    return [(django_apps.get_model(label), field) for label, field in model.deleted_with]


def _refuse_own_cascade(row) -> None:
    if row.own_cascade:
        raise TypeError(
            f"{row._meta.verbose_name_plural} cascade through their own services: "
            f"use {row.own_cascade}."
        )


def row_delete(*, row: SoftDeleteMixin) -> CascadeResult:
    """Soft-delete one row without a cascade of its own, with the rows hanging off it, at one
    time."""
    _refuse_own_cascade(row)
    if row.deleted_at is not None:
        raise ValidationError(f"'{row}' is already deleted.")
    stamp = timezone.now()
    with transaction.atomic():
        counts = _stamp_row(row, deleted_at=None, to=stamp)
    row.deleted_at = stamp
    return CascadeResult(sum(counts.values()), counts)


def row_restore(*, row: SoftDeleteMixin) -> CascadeResult:
    """Restore one deleted row without a cascade of its own, with what its deletion took.

    Refused, saying what to restore first, while a row it belongs to is deleted, and when its
    name has been taken since by a live row in the same scope (as `full_clean` would say).
    """
    _refuse_own_cascade(row)
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
    for child, field in _row_children(model):
        counts[child._meta.label] = child.all_objects.filter(**{field: row.pk}, **matching).update(
            deleted_at=to, updated_at=now
        )
    return counts


def row_purge(*, row: SoftDeleteMixin, before: list[models.QuerySet] = ()) -> CascadeResult:
    """Remove a deleted row without a cascade of its own for good, with the rows that hang off it.

    `before` lists rows of other apps to remove first (an activity instance's metric values).
    """
    _refuse_own_cascade(row)
    if row.deleted_at is None:
        raise ValidationError(f"'{row}' is not deleted: delete it before purging it.")
    model = type(row)._meta.concrete_model
    steps = list(before)
    for child, field in _row_children(model):
        children = child._base_manager.filter(**{field: row.pk})
        if children.filter(deleted_at__isnull=True).exists():
            raise ValidationError(
                f"'{row}' cannot be purged: some of its {child._meta.verbose_name_plural} are "
                "live. Delete them first."
            )
        steps.append(children)
    steps.append(model._base_manager.filter(pk=row.pk))
    return rows_purge_in_order(steps, what=str(row))
