"""Admin pages for what a fractal practises and measures, and for session templates."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html

from goals.admin.filters import FractalListFilter
from goals.admin.ordered_choices import OrderedChoiceField
from goals.models import (
    ActivityDefinition,
    ActivityGroup,
    LegacyRepair,
    MetricDefinition,
    SessionTemplate,
    SplitDefinition,
)
from goals_project.bases.admin import (
    LiveChoicesForm,
    OwnedAdminMixin,
    SoftDeleteAdminMixin,
    SoftDeleteInlineMixin,
)


class DefinitionAdmin(SoftDeleteAdminMixin, OwnedAdminMixin, admin.ModelAdmin):
    """What the definition admins share: soft delete, owner scope, the fractal column.

    A definition stays in the fractal it was made in: the field placing it there (its `root`,
    or the activity a metric or split takes its root from) is shown, not edited, on its change
    page. Moved, it would take its metrics and splits along and leave the sessions' records
    that name it in the fractal they were in, pointing into another."""

    list_select_related = ("root",)
    ordering = ("name",)
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append(getattr(self.model, "root_from", None) or "root")
        return fields


class MetricDefinitionInline(SoftDeleteInlineMixin, OwnedAdminMixin, admin.TabularInline):
    model = MetricDefinition
    include_deleted = False
    fields = ("name", "unit", "is_active", "is_top_set_metric", "is_multiplicative", "sort_order")
    extra = 0


class SplitDefinitionInline(SoftDeleteInlineMixin, OwnedAdminMixin, admin.TabularInline):
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
    """A template's activities are picked from its fractal's list, in order; the form writes
    them into `template_data` (`{"activities": [ids]}`), keeping its other keys."""

    activities = OrderedChoiceField(
        required=False,
        label_of=lambda activity: f"{activity.root.name}: {activity.name}",
        help_text="In the order the session does them; pick in a blank box to add one, empty "
        "a box to drop one.",
    )
    # Set by the admin for the request: the activities the user may pick.
    activity_choices: models.QuerySet | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        current: list[str] = []
        if not self.instance._state.adding:
            try:
                current = self.instance.activity_ids()
            except ValidationError as error:
                self.fields[
                    "activities"
                ].help_text = (
                    f"{' '.join(error.messages)} Picking activities here replaces that list."
                )
        self.initial["activities"] = current
        choices = self.activity_choices
        if choices is None:
            choices = ActivityDefinition.all_objects.none()
        # Live activities, and those already listed even if deleted since.
        self.fields["activities"].queryset = (
            choices.filter(Q(deleted_at__isnull=True) | Q(pk__in=current))
            .select_related("root")
            .order_by("root__name", "name")
        )

    def clean(self) -> dict:
        cleaned = super().clean()
        root = cleaned.get("root") or getattr(self.instance, "root", None)
        others = [a.name for a in cleaned.get("activities", []) if root and a.root_id != root.pk]
        if others:
            self.add_error(
                "activities",
                f"{', '.join(others)}: not an activity of {root.name}. Pick the template's "
                "fractal's activities.",
            )
        return cleaned

    def save(self, commit=True):
        if "activities" in self.changed_data:
            self.instance.set_activity_ids([a.pk for a in self.cleaned_data["activities"]])
        return super().save(commit=commit)


@admin.register(SessionTemplate)
class SessionTemplateAdmin(DefinitionAdmin):
    form = SessionTemplateForm
    fields = ("name", "root", "description", "activities")
    list_display = ("name", "fractal", "created_at", "new_session")
    list_filter = (FractalListFilter,)
    search_fields = ("name", "description")
    autocomplete_fields = ("root",)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.activity_choices = self.related_scope(request, ActivityDefinition)
        return form

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
