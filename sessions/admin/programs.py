"""Training programs in the admin, scoped to the owner of their fractal."""

from __future__ import annotations

from django.contrib import admin

from goals.admin.filters import FractalListFilter
from goals_project.bases.admin import OwnedAdminMixin
from sessions.models import Program, ProgramBlock, ProgramDay, ScheduledSession


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
