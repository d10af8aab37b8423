"""Admin pages for what happens in practice sessions, and for programs."""

from __future__ import annotations

from django.contrib import admin

from sessions.models import (
    ActivityInstance,
    MetricValue,
    Program,
    ProgramBlock,
    ProgramDay,
    ScheduledSession,
)


@admin.register(ActivityInstance)
class ActivityInstanceAdmin(admin.ModelAdmin):
    list_display = ("activity_definition", "practice_session", "time_start", "duration_seconds")
    list_select_related = ("activity_definition", "practice_session")
    raw_id_fields = ("practice_session", "activity_definition")
    show_full_result_count = False


@admin.register(MetricValue)
class MetricValueAdmin(admin.ModelAdmin):
    list_display = ("metric_definition", "value", "activity_instance")
    list_select_related = ("metric_definition", "activity_instance")
    raw_id_fields = ("activity_instance", "metric_definition", "split_definition")
    show_full_result_count = False


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = ("name", "root", "start_date", "end_date", "is_active")
    list_filter = ("is_active",)
    list_select_related = ("root",)
    search_fields = ("name",)
    raw_id_fields = ("root",)


@admin.register(ProgramBlock)
class ProgramBlockAdmin(admin.ModelAdmin):
    list_display = ("name", "program", "start_date", "end_date")
    list_select_related = ("program",)
    raw_id_fields = ("program",)


@admin.register(ProgramDay)
class ProgramDayAdmin(admin.ModelAdmin):
    list_display = ("__str__", "block", "date")
    list_select_related = ("block",)
    raw_id_fields = ("block",)


@admin.register(ScheduledSession)
class ScheduledSessionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "day", "session_template", "is_completed")
    list_select_related = ("day", "session_template")
    raw_id_fields = ("day", "session_template")
