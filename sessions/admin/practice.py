"""Practice sessions in the admin: activities inline with their metric values, timers, templates."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

from goals.admin.filters import FractalListFilter
from goals.admin.goals import GoalForm, GoalServicesMixin
from goals.models import (
    ActivityDefinition,
    Goal,
    GoalType,
    MetricDefinition,
    PracticeSession,
    SessionTemplate,
)
from goals_project.bases.admin import OwnedAdminMixin, SoftDeleteAdminMixin
from goals_project.bases.display import json_as_html
from sessions import selectors
from sessions.admin.display import duration_label
from sessions.admin.metric_grid import (
    ActivityInstanceForm,
    metric_grid_prefetches,
    metric_values_html,
)
from sessions.models import ActivityInstance, MetricValue
from sessions.services import (
    activity_instance_delete,
    activity_instance_purge,
    activity_instance_restore,
    activity_timer_start,
    activity_timer_stop,
    practice_session_create_from_template,
    practice_session_times_sync,
)

# Both change pages: the activity table scrolls on a phone, running timers count, and Enter in
# a field saves instead of pressing the first timer button.
CHANGE_FORM_TEMPLATE = "admin/practice_sessions/change_form.html"
TIMER_FIELD = "_timer"
TIMER_ACTIONS = {"start", "stop"}


def timer_buttons(
    instance: ActivityInstance, *, value_prefix: str = "", may_time: bool = True
) -> str:
    """A button that saves the page's form and then starts or stops the timer (the admin's
    response_change runs it), or the duration once stopped; the elapsed time while running.
    No button for a user who may not change the activity (`may_time`)."""
    if instance._state.adding or instance.deleted_at is not None:
        return "-"
    if instance.time_start is None:
        action, label = "start", "Start timer"
    elif instance.time_stop is None:
        action, label = "stop", "Stop timer"
    else:
        return duration_label(instance.duration_seconds)
    button = (
        format_html(
            '<button type="submit" class="button" name="{}" value="{}{}">{}</button>',
            TIMER_FIELD,
            value_prefix,
            action,
            label,
        )
        if may_time
        else ""
    )
    if action == "start":
        return button or "-"
    elapsed = int((timezone.now() - instance.time_start).total_seconds())
    return format_html(
        '{} <span class="timer-elapsed" data-started="{}" title="running since {}">{}</span>',
        button,
        instance.time_start.isoformat(),
        timezone.localtime(instance.time_start).strftime("%H:%M:%S"),
        duration_label(max(elapsed, 0)),
    )


class TimerShownMixin:
    """For a user who may not change the activities, their timers without buttons: the field
    shown is another (the admin serves every request, so it holds no state of one)."""

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if self.has_change_permission(request, obj):
            return fields
        return ["timer_shown" if name == "timer" else name for name in fields]

    @admin.display(description="timer")
    def timer_shown(self, obj) -> str:
        return "-" if obj._state.adding else timer_buttons(obj, may_time=False)


class TimerButtonsMixin:
    """Timer buttons submit the change form with a named value (`_timer`): what was typed is
    saved first, then the timer runs, and the page comes back. The value is checked before
    anything is saved: an action other than start and stop, or an activity the user may not
    change (as its own timer page requires), is refused (403)."""

    def timer_target(self, request, obj) -> tuple[ActivityInstance, str] | None:
        raise NotImplementedError

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and TIMER_FIELD in request.POST and object_id is not None:
            obj = self.get_object(request, unquote(object_id))
            target = self.timer_target(request, obj)
            if target is not None:
                instance, action = target
                instance_admin = self.admin_site._registry[ActivityInstance]
                if action not in TIMER_ACTIONS or not instance_admin.has_change_permission(
                    request, instance
                ):
                    raise PermissionDenied
        return super().changeform_view(request, object_id, form_url, extra_context)

    def response_change(self, request, obj):
        if TIMER_FIELD not in request.POST:
            return super().response_change(request, obj)
        target = self.timer_target(request, obj)
        if target is None:
            self.message_user(request, "That activity is not in this session.", messages.ERROR)
        else:
            run_timer(self, request, *target)
        return HttpResponseRedirect(request.get_full_path())


def run_timer(model_admin, request, instance: ActivityInstance, action: str) -> bool:
    """Start or stop one activity's timer and say what happened."""
    if action not in TIMER_ACTIONS:
        raise PermissionDenied
    service = activity_timer_start if action == "start" else activity_timer_stop
    try:
        service(instance=instance)
    except ValidationError as error:
        model_admin.message_user(request, " ".join(error.messages), messages.ERROR)
        return False
    verb = "Started" if action == "start" else "Stopped"
    model_admin.message_user(request, f"{verb} the timer of “{instance}”.", messages.SUCCESS)
    return True


class ActivityInstanceInline(TimerShownMixin, OwnedAdminMixin, admin.TabularInline):
    model = ActivityInstance
    form = ActivityInstanceForm
    fk_name = "practice_session"
    include_deleted = False
    # What is used while practising first: on a phone the rest is a scroll away.
    fields = (
        "activity_definition",
        "metric_values",
        "timer",
        "time_start",
        "time_stop",
        "duration",
        "completed",
        "sort_order",
    )
    readonly_fields = ("timer", "timer_shown", "duration")
    autocomplete_fields = ("activity_definition",)
    show_change_link = True
    extra = 0

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("activity_definition", "practice_session")
            .prefetch_related(*metric_grid_prefetches())
            .order_by("sort_order", "created_at")
        )

    def get_formset(self, request, obj=None, **kwargs):
        """The metric grid and the timer buttons offer what the user may do (this inline is
        made for each request)."""
        formset = super().get_formset(request, obj, **kwargs)
        value_admin = self.admin_site._registry[MetricValue]
        formset.form.metric_value_permissions = frozenset(
            action
            for action, allowed in (
                ("add", value_admin.has_add_permission(request)),
                ("change", value_admin.has_change_permission(request)),
                ("delete", value_admin.has_delete_permission(request)),
            )
            if allowed
        )
        return formset

    def preloaded_labels(self, request, obj) -> dict[str, dict[str, str]]:
        if obj is None:
            return {}
        activities = ActivityDefinition.all_objects.filter(
            activity_instances__practice_session=obj
        ).distinct()
        return {"activity_definition": dict(activities.values_list("pk", "name"))}

    @admin.display(description="duration")
    def duration(self, obj) -> str:
        return duration_label(obj.duration_seconds)

    @admin.display(description="timer")
    def timer(self, obj) -> str:
        return "-" if obj._state.adding else timer_buttons(obj, value_prefix=f"{obj.pk}:")

    @admin.display(description="metric values")
    def metric_values(self, obj) -> str:
        """The values as text where the row is read-only (the user may not change activities):
        the admin then shows each field through this admin, and `metric_values` is a field of
        the form only (ActivityInstanceForm), the instance's attribute being its related
        manager."""
        return metric_values_html(obj)


# What the session's times follow (practice_session_times_sync), on the session's form and on
# its activities' rows.
SESSION_TIMES = {"session_start", "session_end", "total_duration_seconds"}
ACTIVITY_TIMES = {"time_start", "time_stop"}


def _times_edited(form, formsets) -> bool:
    """Whether this save touched what the session's times follow: its own times, or an
    activity's times, or its list of activities. Otherwise its times stay as they are (a
    legacy session's may differ from its activities')."""
    if SESSION_TIMES & set(form.changed_data):
        return True
    for formset in formsets:
        if formset.model is not ActivityInstance:
            continue
        if formset.new_objects or formset.deleted_objects:
            return True
        if any(ACTIVITY_TIMES & set(fields) for _row, fields in formset.changed_objects):
            return True
    return False


class FromTemplateForm(forms.Form):
    template = forms.ModelChoiceField(queryset=SessionTemplate.objects.none())
    parent = forms.ModelChoiceField(
        queryset=Goal.objects.none(), help_text="The goal the session serves."
    )
    name = forms.CharField(required=False, help_text="Default: the template's name.")


class PracticeSessionForm(GoalForm):
    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("session_start"), cleaned.get("session_end")
        if start and end and end < start:
            self.add_error(
                "session_end",
                f"The session ends ({end:%Y-%m-%d %H:%M}) before it starts "
                f"({start:%Y-%m-%d %H:%M}). Enter an end at or after the start.",
            )
        return cleaned


@admin.register(PracticeSession)
class PracticeSessionAdmin(
    TimerButtonsMixin, GoalServicesMixin, SoftDeleteAdminMixin, OwnedAdminMixin, admin.ModelAdmin
):
    form = PracticeSessionForm
    change_form_template = CHANGE_FORM_TEMPLATE
    list_display = ("name", "parent", "fractal", "session_start", "total_time", "deleted_at")
    list_filter = (FractalListFilter, "completed")
    list_select_related = ("root", "parent")
    search_fields = ("name", "description")
    autocomplete_fields = ("parent", "template")
    readonly_fields = ("total_time", "session_data_shown")
    inlines = (ActivityInstanceInline,)
    ordering = ("-created_at",)
    show_full_result_count = False

    def get_fieldsets(self, request, obj=None):
        # Timed activities set the session's times (services.practice_session_times_sync).
        timed = (
            obj is not None
            and selectors.practice_session_timed_activities(session_id=obj.pk).exists()
        )
        times = ("session_start", "session_end", "total_time")
        if not timed:
            times = ("session_start", "session_end", "total_duration_seconds")
        return [
            (None, {"fields": ("name", "parent", "template", "description", "completed")}),
            (
                "Times",
                {
                    "fields": times,
                    "description": "Set by the activities' timers."
                    if timed
                    else "Start an activity's timer below, or enter the times here.",
                },
            ),
            ("Session data", {"fields": ("session_data_shown", "session_data")}),
        ]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if (
            obj is not None
            and selectors.practice_session_timed_activities(session_id=obj.pk).exists()
        ):
            fields += ["session_start", "session_end"]
        return fields

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "total_duration_seconds" and field is not None:
            field.label = "Total duration (seconds)"
        if db_field.name == "session_data" and field is not None:
            field.label = "Session data (JSON)"
            field.widget.attrs["rows"] = 3
        return field

    @admin.display(description="total time", ordering="total_duration_seconds")
    def total_time(self, obj) -> str:
        return duration_label(obj.total_duration_seconds)

    @admin.display(description="session data")
    def session_data_shown(self, obj) -> str:
        return json_as_html(obj.session_data)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        if _times_edited(form, formsets):
            practice_session_times_sync(session_id=form.instance.pk)

    def timer_target(self, request, obj):
        instance_id, _, action = request.POST[TIMER_FIELD].partition(":")
        instance = ActivityInstance.objects.filter(pk=instance_id, practice_session=obj).first()
        return None if instance is None else (instance, action)

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
            request.POST or None,
            initial={"template": request.GET.get("template"), "parent": request.GET.get("parent")},
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
class ActivityInstanceAdmin(
    TimerShownMixin, TimerButtonsMixin, SoftDeleteAdminMixin, OwnedAdminMixin, admin.ModelAdmin
):
    change_form_template = CHANGE_FORM_TEMPLATE
    list_display = (
        "activity_definition",
        "practice_session",
        "fractal",
        "time_start",
        "time_stop",
        "duration",
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
        "timer",
        "time_start",
        "time_stop",
        "duration",
        "completed",
        "notes",
        "data",
    )
    readonly_fields = ("timer", "timer_shown", "duration")
    inlines = (MetricValueInline,)
    actions = [
        "delete_selected",
        "start_timer",
        "stop_timer",
        "restore_selected",
        "purge_selected",
    ]
    ordering = ("-created_at",)
    show_full_result_count = False

    def delete_service(self, obj):
        return activity_instance_delete(instance=obj)

    def restore_service(self, obj):
        return activity_instance_restore(instance=obj)

    def purge_service(self, obj):
        return activity_instance_purge(instance=obj)

    @admin.display(description="duration", ordering="duration_seconds")
    def duration(self, obj) -> str:
        return duration_label(obj.duration_seconds)

    @admin.display(description="timer")
    def timer(self, obj) -> str:
        return timer_buttons(obj)

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        # The session's times follow its activities', the former session's too after a move;
        # only when this activity's times or session were set here.
        if change and not {*ACTIVITY_TIMES, "practice_session"} & set(form.changed_data):
            return
        sessions = {obj.practice_session_id, form.initial.get("practice_session")} - {None}
        for session_id in sessions:
            practice_session_times_sync(session_id=session_id)

    def timer_target(self, request, obj):
        return obj, request.POST[TIMER_FIELD]

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
        run_timer(self, request, instance, action)
        back = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("admin:practice_sessions_activityinstance_change", args=[instance.pk])
        return HttpResponseRedirect(back)

    @admin.action(description="Start the timer of selected activities", permissions=["change"])
    def start_timer(self, request, queryset):
        for instance in queryset.filter(deleted_at__isnull=True):
            run_timer(self, request, instance, "start")

    @admin.action(description="Stop the timer of selected activities", permissions=["change"])
    def stop_timer(self, request, queryset):
        for instance in queryset.filter(deleted_at__isnull=True):
            run_timer(self, request, instance, "stop")


@admin.register(MetricValue)
class MetricValueAdmin(OwnedAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "metric", "value_with_unit", "activity", "session", "created_at")
    list_filter = (FractalListFilter,)
    # Everything the row's title and columns name, in the list's one query.
    list_select_related = (
        "metric_definition",
        "split_definition",
        "activity_instance__activity_definition",
        "activity_instance__practice_session",
    )
    search_fields = (
        "metric_definition__name",
        "activity_instance__activity_definition__name",
        "activity_instance__practice_session__name",
    )
    # Instances are the biggest table after metric values: a raw id, labelled within scope.
    raw_id_fields = ("activity_instance",)
    autocomplete_fields = ("metric_definition", "split_definition")
    ordering = ("-created_at",)
    show_full_result_count = False

    @admin.display(description="metric", ordering="metric_definition__name")
    def metric(self, obj) -> str:
        split = f" · {obj.split_definition.name}" if obj.split_definition else ""
        return f"{obj.metric_definition.name}{split}"

    @admin.display(description="value", ordering="value")
    def value_with_unit(self, obj) -> str:
        return f"{obj.value:g} {obj.metric_definition.unit}"

    @admin.display(description="activity")
    def activity(self, obj) -> str:
        return obj.activity_instance.activity_definition.name

    @admin.display(description="practice session")
    def session(self, obj):
        session = obj.activity_instance.practice_session
        url = reverse("admin:goals_practicesession_change", args=[session.pk])
        return format_html('<a href="{}">{}</a>', url, session.name)
