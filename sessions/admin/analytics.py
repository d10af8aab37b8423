"""The fractal page with its analytics: sessions per week, practice time and a metric's series.

The session data's own reading of a fractal, added to goals' fractal admin by registering a
subclass of it in its place.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from goals.admin.goals import FractalAdmin
from goals.models import Fractal, GoalType
from sessions import selectors


class FractalWithAnalyticsAdmin(FractalAdmin):
    list_display = (*FractalAdmin.list_display, "analytics_link")

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


admin.site.unregister(Fractal)
admin.site.register(Fractal, FractalWithAnalyticsAdmin)


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
