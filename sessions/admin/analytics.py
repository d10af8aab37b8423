"""The fractal page with its analytics: sessions and practice time per week, goals done of
total, and a metric's series.

The session data's own reading of a fractal, added to goals' fractal admin by registering a
subclass of it in its place.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from goals.admin.goals import FractalAdmin
from goals.models import Fractal, GoalType
from sessions import selectors
from sessions.admin import charts
from sessions.admin.display import duration_label


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
        """Sessions and practice time per week, goals done of total and one metric's series,
        all read by root_id."""
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
        weeks = selectors.practice_sessions_per_week(root_id=fractal.pk, until=timezone.localdate())
        context = {
            **self.admin_site.each_context(request),
            "title": f"Analytics of {fractal.name}",
            "opts": self.opts,
            "fractal": fractal,
            "weeks": [(week.week, week.sessions, duration_label(week.seconds)) for week in weeks],
            "total_sessions": sum(week.sessions for week in weeks),
            "practice_time": duration_label(selectors.practice_time_total(root_id=fractal.pk)),
            "completion": [
                (GoalType(row.type).label, row.done, row.total)
                for row in selectors.goal_completion(root_id=fractal.pk)
            ],
            "sessions_chart": charts.sessions_per_week_chart(weeks) if weeks else "",
            "time_chart": charts.practice_time_per_week_chart(weeks) if weeks else "",
            "metrics": metrics,
            "chosen": chosen,
            "series": [(selectors.wall_clock(seconds), value) for seconds, value in series],
            "metric_chart": charts.metric_chart(series, name=chosen.name, unit=chosen.unit)
            if series
            else "",
        }
        return TemplateResponse(request, "admin/practice_sessions/analytics.html", context)


admin.site.unregister(Fractal)
admin.site.register(Fractal, FractalWithAnalyticsAdmin)
