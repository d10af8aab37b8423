"""Abstract bases shared by the models of both apps."""

from __future__ import annotations

from django.db import models
from model_utils.fields import AutoCreatedField, AutoLastModifiedField


class TimestampMixin(models.Model):
    """Audit timestamps: set on insert, and on every save."""

    created_at = AutoCreatedField()
    updated_at = AutoLastModifiedField()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "updated_at" not in update_fields:
            kwargs["update_fields"] = {*update_fields, "updated_at"}
        super().save(*args, **kwargs)


class SoftDeleteQuerySet(models.QuerySet):
    """Live and deleted rows, by `deleted_at`."""

    def alive(self) -> SoftDeleteQuerySet:
        return self.filter(deleted_at__isnull=True)

    def dead(self) -> SoftDeleteQuerySet:
        return self.filter(deleted_at__isnull=False)


class SoftDeleteMixin(models.Model):
    """A row that is never removed by the app, only stamped `deleted_at`."""

    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = SoftDeleteQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None
