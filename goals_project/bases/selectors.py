"""The recycle bin read per deletion: the rows one delete stamped with one `deleted_at` form one
deletion, whose top rows are those not hanging from a row deleted with the same stamp.

Generic over the soft-deletable models: a row hangs from the rows its foreign keys to other
soft-deletable rows name, and from those its model lists in `SoftDeleteMixin.deleted_along`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import models
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery


@dataclass
class DeletedTop:
    """The row at the top of a deletion; `inside` names a row it hangs from that is deleted
    too (by an earlier deletion), which must be restored first."""

    row: models.Model
    inside: str | None


@dataclass
class Deletion:
    """One delete: when, its top row(s), and how many rows of each model it took (by label)."""

    deleted_at: datetime
    tops: list[DeletedTop] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DeletionPage:
    """The newest deletions before a stamp; `older` continues the list, if there is more."""

    deletions: list[Deletion]
    older: datetime | None


def _hangs_from(model: type[models.Model]) -> list[models.ForeignKey]:
    """The foreign keys of `model` to soft-deletable rows other than itself as its own root."""
    return [
        fk
        for fk in model._meta.concrete_fields
        if fk.is_relation and hasattr(fk.related_model, "deleted_objects")
    ]


def _shares_deletion(model: type[models.Model]) -> Q:
    """Rows hanging from a row deleted with the same stamp: not the top of their deletion."""
    condition = Q()
    paths = [fk.name for fk in _hangs_from(model)] + list(getattr(model, "deleted_along", ()))
    for path in paths:
        inner = model._base_manager.filter(
            pk=OuterRef("pk"), **{f"{path}__deleted_at": OuterRef("deleted_at")}
        )
        if path in {fk.name for fk in _hangs_from(model)}:
            inner = inner.exclude(**{path: F("pk")})  # a root goal names itself as its root
        condition |= Q(Exists(inner))
    return condition


def _inside(model: type[models.Model]) -> dict[str, Subquery]:
    """Per foreign key, the name (or id) of the deleted row it names, other than itself."""
    annotations = {}
    for number, fk in enumerate(_hangs_from(model)):
        related = fk.related_model._base_manager.filter(
            pk=OuterRef(fk.attname), deleted_at__isnull=False
        ).exclude(pk=OuterRef("pk"))
        label = "name" if any(f.name == "name" for f in fk.related_model._meta.fields) else "pk"
        annotations[f"inside_{number}"] = Subquery(related.values(label)[:1])
    return annotations


def deletions_list(
    *,
    querysets: list[models.QuerySet],
    before: datetime | None = None,
    limit: int = 20,
) -> DeletionPage:
    """The newest `limit` deletions among the deleted rows of `querysets` (one per model, the
    rows the reader may see), with their top rows and counts per model: three queries per model,
    whatever the number of rows."""
    tops: list[tuple[datetime, DeletedTop]] = []
    for queryset in querysets:
        model = queryset.model
        deleted = queryset.filter(deleted_at__isnull=False)
        if before is not None:
            deleted = deleted.filter(deleted_at__lt=before)
        annotations = _inside(model)
        rows = (
            deleted.exclude(_shares_deletion(model))
            .annotate(**annotations)
            .order_by("-deleted_at", "pk")[: limit + 1]
        )
        for row in rows:
            inside = next(
                (getattr(row, name) for name in annotations if getattr(row, name) is not None),
                None,
            )
            tops.append((row.deleted_at, DeletedTop(row, None if inside is None else str(inside))))
    stamps = sorted({stamp for stamp, _ in tops}, reverse=True)
    shown = stamps[:limit]
    deletions = {stamp: Deletion(stamp) for stamp in shown}
    for stamp, top in tops:
        if stamp in deletions:
            deletions[stamp].tops.append(top)
    if shown:
        for queryset in querysets:
            label = queryset.model._meta.label
            counted = (
                queryset.filter(deleted_at__in=shown)
                .order_by()
                .values("deleted_at")
                .annotate(rows=Count("pk"))
                .values_list("deleted_at", "rows")
            )
            for stamp, rows in counted:
                if stamp in deletions:
                    deletions[stamp].counts[label] = rows
    older = shown[-1] if len(stamps) > limit else None
    return DeletionPage([deletions[stamp] for stamp in shown], older)
