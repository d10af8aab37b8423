"""Admin pages for what a fractal practises and measures, and for session templates."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from goals.admin.filters import FractalListFilter
from goals.models import (
    ActivityDefinition,
    ActivityGroup,
    LegacyRepair,
    MetricDefinition,
    SessionTemplate,
    SplitDefinition,
)
from goals_project.bases.admin import LiveChoicesForm, OwnedAdminMixin, SoftDeleteAdminMixin


class DefinitionAdmin(SoftDeleteAdminMixin, OwnedAdminMixin, admin.ModelAdmin):
    """What the definition admins share: soft delete, owner scope, the fractal column."""

    list_select_related = ("root",)
    ordering = ("name",)
    show_full_result_count = False


class MetricDefinitionInline(OwnedAdminMixin, admin.TabularInline):
    model = MetricDefinition
    include_deleted = False
    fields = ("name", "unit", "is_active", "is_top_set_metric", "is_multiplicative", "sort_order")
    extra = 0


class SplitDefinitionInline(OwnedAdminMixin, admin.TabularInline):
    model = SplitDefinition
    include_deleted = False
    fields = ("name", "order")
    extra = 0


@admin.register(ActivityGroup)
class ActivityGroupAdmin(DefinitionAdmin):
    list_display = ("name", "fractal", "sort_order", "deleted_at")
    list_filter = (FractalListFilter,)
    search_fields = ("name", "description")
    autocomplete_fields = ("root",)


@admin.register(ActivityDefinition)
class ActivityDefinitionAdmin(DefinitionAdmin):
    list_display = ("name", "fractal", "group", "has_sets", "has_metrics", "has_splits")
    list_filter = (FractalListFilter, "has_sets", "has_metrics", "has_splits")
    list_select_related = ("root", "group")
    search_fields = ("name", "description")
    autocomplete_fields = ("root", "group")
    inlines = (MetricDefinitionInline, SplitDefinitionInline)


@admin.register(MetricDefinition)
class MetricDefinitionAdmin(DefinitionAdmin):
    list_display = ("name", "unit", "activity", "fractal", "is_active", "deleted_at")
    list_filter = (FractalListFilter, "is_active")
    list_select_related = ("root", "activity")
    search_fields = ("name", "unit", "activity__name")
    autocomplete_fields = ("activity",)


@admin.register(SplitDefinition)
class SplitDefinitionAdmin(DefinitionAdmin):
    list_display = ("name", "activity", "fractal", "order", "deleted_at")
    list_filter = (FractalListFilter,)
    list_select_related = ("root", "activity")
    search_fields = ("name", "activity__name")
    autocomplete_fields = ("activity",)


class SessionTemplateForm(LiveChoicesForm):
    def clean_template_data(self) -> str:
        text = self.cleaned_data["template_data"]
        try:
            data = json.loads(text)
        except ValueError as error:
            raise forms.ValidationError(
                f'Not valid JSON ({error}). Expected {{"activities": [activity ids]}}.'
            ) from error
        if not isinstance(data, dict) or not isinstance(data.get("activities", []), list):
            raise forms.ValidationError('Expected {"activities": [activity ids]}.')
        return text


@admin.register(SessionTemplate)
class SessionTemplateAdmin(DefinitionAdmin):
    form = SessionTemplateForm
    list_display = ("name", "fractal", "created_at", "new_session")
    list_filter = (FractalListFilter,)
    search_fields = ("name", "description")
    autocomplete_fields = ("root",)

    @admin.display(description="practice session")
    def new_session(self, obj) -> str:
        if obj.deleted_at is not None:
            return "-"
        url = reverse("admin:goals_practicesession_from_template")
        return format_html('<a href="{}?template={}">Create a session from it</a>', url, obj.pk)


@admin.register(LegacyRepair)
class LegacyRepairAdmin(admin.ModelAdmin):
    """What the migrations changed in legacy data; read-only, for superusers."""

    list_display = ("table_name", "column_name", "row_id", "reason", "old_value", "new_value")
    list_filter = ("table_name", "reason", "migration")
    search_fields = ("row_id", "old_value", "new_value")
    show_full_result_count = False

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
