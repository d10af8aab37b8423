"""Abstract bases shared by the models of both apps."""

from __future__ import annotations

from typing import ClassVar

from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import DEFAULT_DB_ALIAS, models
from django.utils import timezone
from model_utils.fields import AutoCreatedField, AutoLastModifiedField


class TimestampMixin(models.Model):
    """Audit timestamps: set on insert, and on every save."""

    created_at = AutoCreatedField()
    updated_at = AutoLastModifiedField()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        # An empty update_fields saves nothing (Django's contract), so it stays empty here.
        update_fields = kwargs.get("update_fields")
        if update_fields and "updated_at" not in update_fields:
            kwargs["update_fields"] = {*update_fields, "updated_at"}
        super().save(*args, **kwargs)


class SoftDeleteQuerySet(models.QuerySet):
    """Live and deleted rows, by `deleted_at`; deleting stamps it instead of removing rows.

    `delete()` touches only the rows of this queryset; cascades over the goal tree, restoring and
    purging are services (goals.services, sessions.services), which stamp every row of one
    deletion with the same time so that a restore brings back exactly what that deletion took.
    """

    def alive(self) -> SoftDeleteQuerySet:
        return self.filter(deleted_at__isnull=True)

    def dead(self) -> SoftDeleteQuerySet:
        return self.filter(deleted_at__isnull=False)

    def delete(self) -> tuple[int, dict[str, int]]:
        count = self.alive().update(**_stamp(self.model, timezone.now()))
        return count, {self.model._meta.label: count}

    delete.alters_data = True
    delete.queryset_only = True


def _stamp(model: type[models.Model], deleted_at) -> dict:
    """`update()` skips pre_save, so updated_at is set here along with deleted_at."""
    values = {"deleted_at": deleted_at}
    if any(field.name == "updated_at" for field in model._meta.concrete_fields):
        values["updated_at"] = timezone.now()
    return values


class LiveManager(models.Manager.from_queryset(SoftDeleteQuerySet)):
    """Rows that are not deleted."""

    def get_queryset(self) -> SoftDeleteQuerySet:
        return super().get_queryset().alive()


class DeletedManager(models.Manager.from_queryset(SoftDeleteQuerySet)):
    """Deleted rows only (the recycle bin)."""

    def get_queryset(self) -> SoftDeleteQuerySet:
        return super().get_queryset().dead()


class SoftDeleteMixin(models.Model):
    """A row that the app never removes, only stamps `deleted_at`."""

    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Rows of other models deleted, restored and purged with a row of this one, as
    # ("app_label.Model", "foreign key naming this row") pairs (goals_project.bases.services).
    deleted_with: ClassVar[tuple[tuple[str, str], ...]] = ()
    # Lookups, besides its foreign keys, to rows whose deletion takes a row of this model along
    # (the recycle bin's grouping: goals_project.bases.selectors).
    deleted_along: ClassVar[tuple[str, ...]] = ()
    # Set on a model whose deletions cascade through services of its own, which it names.
    own_cascade: ClassVar[str | None] = None

    objects: ClassVar[LiveManager] = LiveManager()
    all_objects: ClassVar[models.Manager] = models.Manager.from_queryset(SoftDeleteQuerySet)()
    deleted_objects: ClassVar[DeletedManager] = DeletedManager()

    class Meta:
        abstract = True

    def delete(self, using=None, keep_parents=False) -> tuple[int, dict[str, int]]:
        """Stamp this row deleted; related rows are the services' business."""
        return type(self).all_objects.using(using or self._state.db).filter(pk=self.pk).delete()


# A row that names itself as its root: a fractal's root goal.
IS_OWN_ROOT = models.Q(root=models.F("id"))


class RootedModel(models.Model):
    """A row of a fractal: `root_id` names the fractal's root goal and is derived, never passed.

    `root_from` names the foreign key whose row this one takes its root from (the chains of
    goals.roots, which the database enforces too); None for a row that names its fractal itself.
    """

    root_from: ClassVar[str | None] = None

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is None or self.root_from in update_fields:
            self.root_id = self.derived_root_id(using=kwargs.get("using"))
        if update_fields is not None and self.root_from in update_fields:
            kwargs["update_fields"] = {*update_fields, "root"}
        super().save(*args, **kwargs)

    def references_into_other_fractals(self, names) -> dict[str, str]:
        """Of the references `names` (foreign keys to rows of a fractal, besides the one this
        row's root comes from: an instance's activity, a value's metric, a goal's template, an
        activity's group), those naming a row of another fractal, each with why it is refused.
        The admin's forms refuse them when a person sets them; a legacy row may hold such a link
        already, and keeps it."""
        try:
            root_id = self.root_id_to_be()
        except (ValueError, ObjectDoesNotExist):
            return {}  # no fractal to compare with: what sets the root refuses the row
        if root_id is None:
            return {}  # not chosen yet: the form says the fractal is required
        errors = {}
        for name in names:
            try:
                field = self._meta.get_field(name)
            except FieldDoesNotExist:
                continue  # a form's own field (a template's activities, the metric grid)
            if not (
                field.is_relation
                and field.concrete
                and name not in ("root", self.root_from)
                and issubclass(field.related_model, RootedModel)
                and getattr(self, field.attname) is not None
            ):
                continue
            other = field.related_model._base_manager.filter(pk=getattr(self, field.attname))
            other_root = other.values_list("root_id", flat=True).first()
            if other_root is not None and other_root != root_id:
                errors[name] = (
                    f"“{other.first()}” belongs to another fractal: this "
                    f"{self._meta.verbose_name} takes its {field.verbose_name} from its own."
                )
        return errors

    def root_id_to_be(self) -> str | None:
        """The root this row is to have, from the row it takes its root from as that row is
        held here: where an admin page changes a session and its instances in one submission,
        the session's parent as the form set it, not as the database has it (a session moved
        to another fractal gives its instances the new one)."""
        if self.root_from is not None:
            field = self._meta.get_field(self.root_from)
            if field.is_cached(self):
                source = field.get_cached_value(self)
                if isinstance(source, RootedModel) and source.pk == getattr(self, field.attname):
                    return source.derived_root_id()
        return self.derived_root_id()

    def derived_root_id(self, using: str | None = None) -> str:
        """The root this row must have: the root of the row `root_from` points to."""
        if self.root_from is None:
            return self.root_id
        field = self._meta.get_field(self.root_from)
        source_id = getattr(self, field.attname)
        if source_id is None:
            return self.parentless_root_id()
        manager = field.related_model._base_manager
        return (
            manager.using(using or self._state.db or DEFAULT_DB_ALIAS)
            .values_list("root_id", flat=True)
            .get(pk=source_id)
        )

    def parentless_root_id(self) -> str:
        raise ValueError(f"{self._meta.verbose_name} '{self}' hangs from nothing.")
