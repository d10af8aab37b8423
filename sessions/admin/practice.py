"""Practice sessions in the admin: activities inline with their metric values, timers, templates."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme

from goals.admin.filters import FractalListFilter
from goals.admin.goals import GoalServicesMixin
from goals.models import (
    ActivityDefinition,
    Goal,
    GoalType,
    MetricDefinition,
    PracticeSession,
    SessionTemplate,
)
from goals_project.bases.admin import OwnedAdminMixin, SoftDeleteAdminMixin
from sessions.models import ActivityInstance, MetricValue
from sessions.services import (
    activity_instance_purge,
    activity_timer_start,
    activity_timer_stop,
    practice_session_create_from_template,
)


def metric_values_prefetch() -> Prefetch:
    # select_related, not the definitions' live manager: values of deleted definitions still show.
    return Prefetch(
        "metric_values",
        queryset=MetricValue.objects.select_related("metric_definition").order_by("created_at"),
    )


def metric_summary(instance: ActivityInstance) -> str:
    values = [
        (value.metric_definition.name, f"{value.value:g}", value.metric_definition.unit)
        for value in instance.metric_values.all()
    ]
    return format_html_join(", ", "{} {} {}", values) or "-"


def timer_buttons(instance: ActivityInstance, *, back: str) -> str:
    """Submit buttons that post to the timer view (formaction), so they work inside any form."""
    if instance._state.adding or instance.deleted_at is not None:
        return "-"
    if instance.time_start is None:
        action, label = "start", "Start timer"
    elif instance.time_stop is None:
        action, label = "stop", "Stop timer"
    else:
        return f"{instance.duration_seconds} s"
    url = reverse("admin:practice_sessions_activityinstance_timer", args=[instance.pk, action])
    return format_html(
        '<button type="submit" class="button" formaction="{}?next={}" formnovalidate>{}</button>',
        url,
        back,
        label,
    )


class ActivityInstanceInline(OwnedAdminMixin, admin.TabularInline):
    model = ActivityInstance
    fk_name = "practice_session"
    include_deleted = False
    fields = (
        "activity_definition",
        "sort_order",
        "time_start",
        "time_stop",
        "duration_seconds",
        "completed",
        "metrics",
        "timer",
    )
    readonly_fields = ("metrics", "timer")
    autocomplete_fields = ("activity_definition",)
    show_change_link = True
    extra = 0

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("activity_definition", "practice_session")
            .prefetch_related(metric_values_prefetch())
            .order_by("sort_order", "created_at")
        )

    def preloaded_labels(self, request, obj) -> dict[str, dict[str, str]]:
        if obj is None:
            return {}
        activities = ActivityDefinition.all_objects.filter(
            activity_instances__practice_session=obj
        ).distinct()
        return {"activity_definition": dict(activities.values_list("pk", "name"))}

    @admin.display(description="metric values")
    def metrics(self, obj) -> str:
        return "-" if obj._state.adding else metric_summary(obj)

    @admin.display(description="timer")
    def timer(self, obj) -> str:
        if obj._state.adding:
            return "-"
        back = reverse("admin:goals_practicesession_change", args=[obj.practice_session_id])
        return timer_buttons(obj, back=back)


class FromTemplateForm(forms.Form):
    template = forms.ModelChoiceField(queryset=SessionTemplate.objects.none())
    parent = forms.ModelChoiceField(
        queryset=Goal.objects.none(), help_text="The goal the session serves."
    )
    name = forms.CharField(required=False, help_text="Default: the template's name.")


@admin.register(PracticeSession)
class PracticeSessionAdmin(
    GoalServicesMixin, SoftDeleteAdminMixin, OwnedAdminMixin, admin.ModelAdmin
):
    list_display = (
        "name",
        "parent",
        "fractal",
        "session_start",
        "total_duration_seconds",
        "deleted_at",
    )
    list_filter = (FractalListFilter, "completed")
    list_select_related = ("root", "parent")
    search_fields = ("name", "description")
    autocomplete_fields = ("parent", "template")
    fields = (
        "name",
        "parent",
        "template",
        "description",
        "session_start",
        "session_end",
        "total_duration_seconds",
        "completed",
        "session_data",
    )
    inlines = (ActivityInstanceInline,)
    ordering = ("-created_at",)
    show_full_result_count = False

    def get_urls(self):
        return [
            path(
                "from-template/",
                self.admin_site.admin_view(self.from_template_view),
                name="goals_practicesession_from_template",
            ),
            *super().get_urls(),
        ]

    def from_template_view(self, request):
        """Create a session, its link to a short-term goal and its activities from a template."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = FromTemplateForm(
            request.POST or None, initial={"template": request.GET.get("template")}
        )
        form.fields["template"].queryset = self.related_scope(request, SessionTemplate).filter(
            deleted_at__isnull=True
        )
        form.fields["parent"].widget = AutocompleteSelect(
            Goal._meta.get_field("parent"), self.admin_site
        )
        # Assigned after the widget: the queryset setter hands the choices to the widget.
        form.fields["parent"].queryset = (
            self.related_scope(request, Goal)
            .filter(deleted_at__isnull=True)
            .exclude(type=GoalType.PRACTICE_SESSION)
        )
        if request.method == "POST" and form.is_valid():
            try:
                session = practice_session_create_from_template(
                    template=form.cleaned_data["template"],
                    parent=form.cleaned_data["parent"],
                    name=form.cleaned_data["name"] or None,
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.log_addition(request, session, [{"added": {}}])
                self.message_user(
                    request, f"Created “{session}” from the template.", messages.SUCCESS
                )
                return HttpResponseRedirect(
                    reverse("admin:goals_practicesession_change", args=[session.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Create a practice session from a template",
            "opts": self.opts,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/practice_sessions/from_template.html", context)


class MetricValueInline(OwnedAdminMixin, admin.TabularInline):
    model = MetricValue
    fields = ("metric_definition", "split_definition", "value")
    autocomplete_fields = ("metric_definition", "split_definition")
    extra = 1

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("metric_definition")

    def preloaded_labels(self, request, obj) -> dict[str, dict[str, str]]:
        if obj is None:
            return {}
        metrics = MetricDefinition.all_objects.filter(metric_values__activity_instance=obj)
        return {
            "metric_definition": {
                pk: f"{name} ({unit})"
                for pk, name, unit in metrics.distinct().values_list("pk", "name", "unit")
            }
        }


@admin.register(ActivityInstance)
class ActivityInstanceAdmin(SoftDeleteAdminMixin, OwnedAdminMixin, admin.ModelAdmin):
    list_display = (
        "activity_definition",
        "practice_session",
        "fractal",
        "time_start",
        "time_stop",
        "duration_seconds",
        "completed",
        "deleted_at",
    )
    list_filter = (FractalListFilter, "completed")
    list_select_related = ("activity_definition", "practice_session", "root")
    search_fields = ("activity_definition__name", "practice_session__name", "notes")
    autocomplete_fields = ("practice_session", "activity_definition")
    fields = (
        "practice_session",
        "activity_definition",
        "sort_order",
        "time_start",
        "time_stop",
        "duration_seconds",
        "completed",
        "notes",
        "data",
        "timer",
    )
    readonly_fields = ("timer",)
    inlines = (MetricValueInline,)
    actions = ["start_timer", "stop_timer", "restore_selected", "purge_selected"]
    ordering = ("-created_at",)
    show_full_result_count = False

    def purge_service(self, obj):
        return activity_instance_purge(instance=obj)

    @admin.display(description="timer")
    def timer(self, obj) -> str:
        back = reverse("admin:practice_sessions_activityinstance_change", args=[obj.pk])
        return timer_buttons(obj, back=back)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/timer/<str:action>/",
                self.admin_site.admin_view(self.timer_view),
                name="practice_sessions_activityinstance_timer",
            ),
            *super().get_urls(),
        ]

    def timer_view(self, request, object_id, action):
        """Start or stop one activity's timer (POST), then go back where the button was."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        instance = self.get_object(request, object_id)
        if action not in {"start", "stop"} or not self.has_change_permission(request, instance):
            raise PermissionDenied
        self._run_timer(request, instance, action)
        back = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("admin:practice_sessions_activityinstance_change", args=[instance.pk])
        return HttpResponseRedirect(back)

    def _run_timer(self, request, instance, action: str) -> bool:
        service = activity_timer_start if action == "start" else activity_timer_stop
        try:
            service(instance=instance)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return False
        verb = "Started" if action == "start" else "Stopped"
        self.message_user(request, f"{verb} the timer of “{instance}”.", messages.SUCCESS)
        return True

    @admin.action(description="Start the timer of selected activities", permissions=["change"])
    def start_timer(self, request, queryset):
        for instance in queryset.filter(deleted_at__isnull=True):
            self._run_timer(request, instance, "start")

    @admin.action(description="Stop the timer of selected activities", permissions=["change"])
    def stop_timer(self, request, queryset):
        for instance in queryset.filter(deleted_at__isnull=True):
            self._run_timer(request, instance, "stop")


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
