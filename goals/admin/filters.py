"""List filters that respect soft deletion and owner isolation."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from goals.models import Goal
from goals.roots import IS_OWN_ROOT, ROOT_TYPES, GoalType


class FractalListFilter(admin.SimpleListFilter):
    """The fractals the user may see, by name; filters on the admin's `fractal_path` (root_id)."""

    title = _("fractal")
    parameter_name = "fractal"

    def lookups(self, request, model_admin):
        fractals = model_admin.scope_fractals(request, Goal.objects.filter(IS_OWN_ROOT))
        return list(fractals.order_by("name").values_list("pk", "name"))

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(**{f"{self.model_admin_fractal_path}_id": self.value()})

    def __init__(self, request, params, model, model_admin):
        self.model_admin_fractal_path = model_admin.fractal_path
        super().__init__(request, params, model, model_admin)


class RootTypeListFilter(admin.SimpleListFilter):
    """The type a fractal starts at: only the four root types are offered."""

    title = _("root type")
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return [(value, GoalType(value).label) for value in ROOT_TYPES]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(type=self.value())
