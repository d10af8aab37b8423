"""Admin pages for the goal tree and the activity and metric definitions."""

from __future__ import annotations

from django.contrib import admin

from goals.models import (
    ActivityDefinition,
    ActivityGroup,
    Goal,
    MetricDefinition,
    SessionTemplate,
    SplitDefinition,
)


@admin.register(Goal)
class GoalAdmin(admin.ModelAdmin):
    list_display = ("name", "type", "parent", "completed", "created_at")
    list_filter = ("type", "completed")
    list_select_related = ("parent",)
    search_fields = ("name", "description")
    raw_id_fields = ("parent", "root", "template")
    show_full_result_count = False


@admin.register(ActivityGroup)
class ActivityGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "root", "sort_order")
    list_select_related = ("root",)
    search_fields = ("name",)
    raw_id_fields = ("root",)


@admin.register(ActivityDefinition)
class ActivityDefinitionAdmin(admin.ModelAdmin):
    list_display = ("name", "root", "group", "has_sets", "has_metrics", "has_splits")
    list_filter = ("has_sets", "has_metrics", "has_splits")
    list_select_related = ("root", "group")
    search_fields = ("name", "description")
    raw_id_fields = ("root", "group")


@admin.register(MetricDefinition)
class MetricDefinitionAdmin(admin.ModelAdmin):
    list_display = ("name", "unit", "activity", "is_active")
    list_filter = ("is_active",)
    list_select_related = ("activity",)
    search_fields = ("name", "unit")
    raw_id_fields = ("activity",)


@admin.register(SplitDefinition)
class SplitDefinitionAdmin(admin.ModelAdmin):
    list_display = ("name", "activity", "order")
    list_select_related = ("activity",)
    search_fields = ("name",)
    raw_id_fields = ("activity",)


@admin.register(SessionTemplate)
class SessionTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "root", "created_at")
    list_select_related = ("root",)
    search_fields = ("name", "description")
    raw_id_fields = ("root",)
