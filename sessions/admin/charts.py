"""The analytics charts, drawn on the server as SVG by pygal: axes with titles and units, dates
on a time scale. No script is loaded (pygal's tooltips would load one from a CDN); the values
are in tables beside the charts."""

from __future__ import annotations

from collections.abc import Iterable

import pygal
from django.utils.safestring import SafeString, mark_safe
from pygal.style import Style

from sessions.selectors import WeekCount

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#333",
    foreground_strong="#333",
    foreground_subtle="#999",
    colors=("#417690", "#79aec8", "#ba2121"),
    font_family="system-ui, sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    title_font_size=14,
)


def _options(**kwargs) -> dict:
    return {
        "style": STYLE,
        "js": [],
        "width": 720,
        "height": 300,
        "show_legend": False,
        "explicit_size": False,
        "disable_xml_declaration": True,
        **kwargs,
    }


def _svg(chart) -> SafeString:
    # pygal escapes the labels and titles it is given; the SVG is its own output.
    return mark_safe(chart.render(is_unicode=True))  # noqa: S308


def sessions_per_week_chart(weeks: list[WeekCount]) -> SafeString:
    """Bars of sessions per week, every week on the axis, empty ones included."""
    chart = pygal.Bar(
        **_options(
            title="Practice sessions per week",
            x_title="Week beginning",
            y_title="Sessions",
            x_label_rotation=30,
            show_minor_x_labels=len(weeks) <= 16,
            x_labels_major_every=max(len(weeks) // 8, 1),
            min_scale=1,
            max_scale=6,
        )
    )
    chart.x_labels = [week.week.isoformat() for week in weeks]
    chart.add("Sessions", [week.sessions for week in weeks])
    return _svg(chart)


def practice_time_per_week_chart(weeks: list[WeekCount]) -> SafeString:
    """Bars of hours practised per week."""
    chart = pygal.Bar(
        **_options(
            title="Practice time per week",
            x_title="Week beginning",
            y_title="Hours",
            x_label_rotation=30,
            show_minor_x_labels=len(weeks) <= 16,
            x_labels_major_every=max(len(weeks) // 8, 1),
            value_formatter=lambda hours: f"{hours:.1f} h",
        )
    )
    chart.x_labels = [week.week.isoformat() for week in weeks]
    chart.add("Hours", [round(week.seconds / 3600, 2) for week in weeks])
    return _svg(chart)


def metric_chart(series: Iterable[tuple[float, float]], *, name: str, unit: str) -> SafeString:
    """A metric's values placed by the moment they were recorded, as the wall-clock seconds of
    `selectors.metric_series` (pygal's time axis is seconds read as UTC)."""
    points = list(series)
    chart = pygal.DateTimeLine(
        **_options(
            title=f"{name} over time",
            x_title="Date",
            y_title=f"{name} ({unit})",
            x_label_rotation=30,
            x_value_formatter=lambda moment: moment.strftime("%Y-%m-%d"),
            value_formatter=lambda value: f"{value:g} {unit}",
            dots_size=3,
        )
    )
    chart.add(name, points)
    return _svg(chart)
