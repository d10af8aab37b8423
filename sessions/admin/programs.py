"""Training programs in the admin, scoped to the owner of their fractal."""

from __future__ import annotations

from django.contrib import admin

from goals.admin.filters import FractalListFilter
from goals.admin.mixins import OwnedAdminMixin
from sessions.models import MetricValue, Program, ProgramBlock, ProgramDay, ScheduledSession


@admin.register(MetricValue)
class MetricValueAdmin(OwnedAdminMixin, admin.ModelAdmin):
    list_display = ("metric_definition", "value", "activity_instance", "created_at")
    list_filter = (FractalListFilter,)
    list_select_related = ("metric_definition", "activity_instance")
    search_fields = ("metric_definition__name",)
    # Instances are the biggest table after metric values: a raw id, labelled within scope.
    raw_id_fields = ("activity_instance",)
    autocomplete_fields = ("metric_definition", "split_definition")
    ordering = ("-created_at",)
    show_full_result_count = False


@admin.register(Program)
class ProgramAdmin(OwnedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "root", "start_date", "end_date", "is_active")
    list_filter = (FractalListFilter, "is_active")
    list_select_related = ("root",)
    search_fields = ("name", "description")
    autocomplete_fields = ("root",)


@admin.register(ProgramBlock)
class ProgramBlockAdmin(OwnedAdminMixin, admin.ModelAdmin):
    owner_path = "program__root__owner"
    fractal_path = "program__root"
    list_display = ("name", "program", "start_date", "end_date")
    list_filter = (FractalListFilter,)
    list_select_related = ("program",)
    search_fields = ("name", "program__name")
    autocomplete_fields = ("program",)


@admin.register(ProgramDay)
class ProgramDayAdmin(OwnedAdminMixin, admin.ModelAdmin):
    owner_path = "block__program__root__owner"
    fractal_path = "block__program__root"
    list_display = ("__str__", "block", "date", "day_number")
    list_filter = (FractalListFilter,)
    list_select_related = ("block",)
    search_fields = ("name", "notes", "block__name")
    autocomplete_fields = ("block",)


@admin.register(ScheduledSession)
class ScheduledSessionAdmin(OwnedAdminMixin, admin.ModelAdmin):
    owner_path = "day__block__program__root__owner"
    fractal_path = "day__block__program__root"
    list_display = ("__str__", "day", "session_template", "is_completed")
    list_filter = (FractalListFilter, "is_completed")
    list_select_related = ("day", "session_template")
    search_fields = ("day__name", "session_template__name")
    autocomplete_fields = ("day", "session_template")
