"""The goal tree in the admin: goals with their place in the tree, fractals and their analytics.

These admins live here, not in goals.admin, because deleting a goal cascades into session data.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from goals.admin.filters import FractalListFilter, RootTypeListFilter
from goals.admin.mixins import GoalForm, OwnedAdminMixin, SoftDeleteAdminMixin
from goals.models import Fractal, Goal, GoalType
from goals.roots import ROOT_TYPES
from goals.selectors import goal_ancestor_names
from sessions import selectors
from sessions.services import goal_delete, goal_move, goal_purge, goal_restore

LIST_LIMIT = 50


class GoalChangeList(ChangeList):
    """Adds each listed goal's ancestors in one query for the page, whatever the table's size."""

    def get_results(self, request) -> None:
        super().get_results(request)
        goals = list(self.result_list)
        paths = goal_ancestor_names(goal_ids=[goal.pk for goal in goals])
        for goal in goals:
            goal.ancestor_names = paths.get(goal.pk, [])


class GoalServicesMixin:
    """Goals delete, restore and purge with their subtree and the session data hanging off it;
    their JSON text columns are checked when edited."""

    form = GoalForm

    def delete_service(self, obj):
        return goal_delete(goal=obj)

    def restore_service(self, obj):
        return goal_restore(goal=obj)

    def purge_service(self, obj):
        return goal_purge(goal=obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.user = request.user  # a class made for this request by modelform_factory
        return form

    def save_model(self, request, obj, form, change) -> None:
        """A new parent moves the goal with its subtree and what hangs off it (goal_move), then
        the other fields are saved; the admin's change view holds both in one transaction."""
        # A fractal created by a staff user who is not a superuser belongs to them.
        if not change and obj.is_root and not request.user.is_superuser:
            obj.owner = request.user
        if change and "parent" in form.changed_data and obj.parent_id is not None:
            goal_move(goal=obj, new_parent=obj.parent, user=request.user)
        super().save_model(request, obj, form, change)


@admin.register(Goal)
class GoalAdmin(GoalServicesMixin, SoftDeleteAdminMixin, OwnedAdminMixin, admin.ModelAdmin):
    list_display = ("tree_name", "type", "fractal", "place_in_tree", "completed", "deleted_at")
    list_filter = ("type", FractalListFilter, "completed")
    list_select_related = ("root",)
    search_fields = ("name", "description")
    autocomplete_fields = ("parent", "template")
    readonly_fields = ("root", "children_list", "linked_sessions", "created_at", "updated_at")
    ordering = ("-created_at",)
    show_full_result_count = False

    def get_changelist(self, request, **kwargs):
        return GoalChangeList

    def get_fields(self, request, obj=None):
        fields = [
            "name",
            "type",
            "parent",
            "owner",
            "description",
            "deadline",
            "completed",
            "targets",
            "attributes",
            "sort_order",
        ]
        if obj is None or obj.type == GoalType.PRACTICE_SESSION:
            fields += [
                "template",
                "session_start",
                "session_end",
                "total_duration_seconds",
                "duration_minutes",
                "session_data",
            ]
        if obj is not None:
            fields += ["root", "children_list", "linked_sessions", "created_at", "updated_at"]
        return fields

    @admin.display(description="name", ordering="name")
    def tree_name(self, obj) -> str:
        depth = len(getattr(obj, "ancestor_names", []))
        return format_html(
            '<span style="padding-left: {}em">{}{}</span>',
            1.5 * depth,
            "└ " if depth else "",
            obj.name,
        )

    @admin.display(description="place in tree")
    def place_in_tree(self, obj) -> str:
        return " / ".join(getattr(obj, "ancestor_names", [])) or "-"

    @admin.display(description="children")
    def children_list(self, obj) -> str:
        children = Goal.objects.filter(parent=obj).order_by("sort_order", "name")
        return _goal_links(children) or "None"

    @admin.display(description="linked practice sessions")
    def linked_sessions(self, obj) -> str:
        sessions = Goal.objects.filter(
            type=GoalType.PRACTICE_SESSION, short_term_goal_links__short_term_goal=obj
        ).order_by("-created_at")
        return _goal_links(sessions) or "None"


def _goal_links(goals) -> str:
    rows = [
        (reverse("admin:goals_goal_change", args=[goal.pk]), goal.name, goal.get_type_display())
        for goal in goals[:LIST_LIMIT]
    ]
    return format_html_join(", ", '<a href="{}">{}</a> ({})', rows)


@admin.register(Fractal)
class FractalAdmin(GoalServicesMixin, SoftDeleteAdminMixin, OwnedAdminMixin, admin.ModelAdmin):
    """Fractals (root goals of any of the four root types): their owners, and a page of
    analytics for each."""

    list_display = ("name", "type", "owner", "completed", "created_at", "analytics_link")
    list_filter = (RootTypeListFilter, "completed")
    list_select_related = ("owner",)
    search_fields = ("name", "description")
    fields = (
        "name",
        "type",
        "owner",
        "description",
        "deadline",
        "completed",
        "targets",
        "attributes",
    )
    ordering = ("name",)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "type":
            # A fractal starts at one of the root types; the goal form offers the others.
            kwargs["choices"] = [
                (value, label) for value, label in GoalType.choices if value in ROOT_TYPES
            ]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/analytics/",
                self.admin_site.admin_view(self.analytics_view),
                name="goals_fractal_analytics",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="analytics")
    def analytics_link(self, obj) -> str:
        url = reverse("admin:goals_fractal_analytics", args=[obj.pk])
        return format_html('<a href="{}">Analytics</a>', url)

    def analytics_view(self, request, object_id):
        """Sessions per week, total practice time and one metric's series, all by root_id."""
        fractal = self.get_object(request, object_id)
        if not self.has_view_permission(request, fractal):
            raise PermissionDenied
        metrics = list(selectors.metric_definitions_in_use(root_id=fractal.pk))
        chosen = next((m for m in metrics if m.pk == request.GET.get("metric")), None)
        chosen = chosen or (metrics[0] if metrics else None)
        series = (
            list(selectors.metric_series(root_id=fractal.pk, metric_definition_id=chosen.pk))
            if chosen
            else []
        )
        weeks = selectors.practice_sessions_per_week(root_id=fractal.pk)
        seconds = selectors.practice_time_total(root_id=fractal.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Analytics of {fractal.name}",
            "opts": self.opts,
            "fractal": fractal,
            "weeks": weeks,
            "most_sessions": max((week.sessions for week in weeks), default=1),
            "total_sessions": sum(week.sessions for week in weeks),
            "practice_time": f"{seconds // 3600} h {seconds % 3600 // 60} min",
            "progress": {
                GoalType(goal_type).label: count
                for goal_type, count in selectors.goal_progress(root_id=fractal.pk).items()
            },
            "metrics": metrics,
            "chosen": chosen,
            "series": series,
            "chart_points": _chart_points([value for _, value in series]),
        }
        return TemplateResponse(request, "admin/practice_sessions/analytics.html", context)


def _chart_points(values: list[float], width: int = 600, height: int = 160) -> str:
    """SVG polyline points for a series, scaled to the chart."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1
    step = width / max(len(values) - 1, 1)
    return " ".join(
        f"{index * step:.1f},{height - (value - low) / span * height:.1f}"
        for index, value in enumerate(values)
    )
