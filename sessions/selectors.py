"""Reads for one fractal's analytics, each filtered on the indexed `root_id` column.

Every selector answers for live rows of one fractal without joining through the goal tree: that
is what `root_id` on every table is for. The index each one is meant to use is named beside it
(`bench/` checks the query plans).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncWeek

from goals.models import Goal, GoalType, MetricDefinition
from goals_project.bases.functions import Prepared, WallClockSeconds
from sessions.models import ActivityInstance, MetricValue

EPOCH = datetime(1970, 1, 1)  # noqa: DTZ001 - naive: the wall clock of WallClockSeconds


@dataclass(frozen=True)
class WeekCount:
    """Practice sessions started in the week beginning on Monday `week`, and their seconds."""

    week: date
    sessions: int
    seconds: int = 0


def practice_sessions_per_week(*, root_id: str, until: date | None = None) -> list[WeekCount]:
    """Sessions and practice time per week of the fractal, oldest first: every week from the
    first session's to the last one's (or to `until`'s), weeks without sessions as zeros
    (idx_goals_practice_sessions)."""
    rows = (
        Goal.objects.filter(root_id=root_id, type=GoalType.PRACTICE_SESSION)
        .annotate(week=TruncWeek("created_at"))
        .values("week")
        .annotate(sessions=Count("id"), seconds=Sum("total_duration_seconds"))
        .order_by("week")
    )
    # Weeks by local date: a week is 7 days, not 168 hours, across a change of clocks.
    found = {
        row["week"].date(): WeekCount(row["week"].date(), row["sessions"], row["seconds"] or 0)
        for row in rows
    }
    if not found:
        return []
    week, last = min(found), max(found)
    if until is not None:
        last = max(last, until - timedelta(days=until.weekday()))
    weeks = []
    while week <= last:
        weeks.append(found.get(week, WeekCount(week, 0, 0)))
        week += timedelta(weeks=1)
    return weeks


def practice_session_timed_activities(*, session_id: str) -> QuerySet:
    """The session's live activities that carry a time or a duration: the ones its start, end
    and total follow (services.practice_session_times_sync)."""
    return ActivityInstance.objects.filter(practice_session_id=session_id).filter(
        Q(time_start__isnull=False) | Q(duration_seconds__isnull=False)
    )


def practice_time_total(*, root_id: str) -> int:
    """Seconds practised in the fractal's sessions (idx_goals_practice_sessions)."""
    total = Goal.objects.filter(root_id=root_id, type=GoalType.PRACTICE_SESSION).aggregate(
        seconds=Sum("total_duration_seconds")
    )["seconds"]
    return total or 0


_SERIES = Prepared(
    lambda root_id, metric_definition_id: (
        MetricValue.objects.filter(root_id=root_id, metric_definition_id=metric_definition_id)
        .order_by("created_at")
        .values_list(WallClockSeconds("created_at"), "value")
    )
)


def metric_series(*, root_id: str, metric_definition_id: str) -> list[tuple[float, float]]:
    """(seconds, value) of one metric over time in the fractal (idx_metric_values_root_metric),
    `seconds` being `created_at` on the wall clock of FRACTAL_TIME_ZONE (WallClockSeconds): a
    chart places points by number, and the database computes it faster than Python parses a
    datetime per row. `wall_clock` turns one back into a datetime. The query is compiled once
    (Prepared): building it and its rows took the ORM as long as running it.

    Metric values are stamped with their activity instance's time by the backfill and by the app,
    so no join is needed to place them in time.
    """
    return _SERIES.rows(root_id=root_id, metric_definition_id=metric_definition_id)


def wall_clock(seconds: float) -> datetime:
    """The naive wall-clock datetime of a `WallClockSeconds` value."""
    return EPOCH + timedelta(seconds=seconds)


def metric_definitions_in_use(*, root_id: str) -> QuerySet:
    """Live metric definitions of the fractal, with their activity, for choosing a series."""
    return (
        MetricDefinition.objects.filter(root_id=root_id)
        .select_related("activity")
        .order_by("activity__name", "name")
    )


REPORT_COLUMNS = ("id", "practice_session_id", "at", "duration_seconds", "activity")
_REPORT = Prepared(
    lambda root_id, start, end: (
        ActivityInstance.objects.filter(root_id=root_id, created_at__gte=start, created_at__lt=end)
        .order_by("-created_at")
        .values_list(
            "id",
            "practice_session_id",
            WallClockSeconds("created_at"),
            "duration_seconds",
            "activity_definition__name",
        )
    ),
    times=("start", "end"),
)


def session_report(*, root_id: str, start: datetime, end: datetime) -> list[tuple]:
    """What was practised in the fractal in [start, end), newest first
    (idx_activity_instances_root_date).

    Rows are tuples of REPORT_COLUMNS, `at` being `created_at` in wall-clock seconds as in
    `metric_series`: a report of thousands of instances needs these columns, not two model
    instances, a parsed datetime and a dict per row. The query is compiled once (Prepared).
    """
    return _REPORT.rows(root_id=root_id, start=start, end=end)


_PROGRESS = Prepared(
    lambda root_id: (
        Goal.objects.filter(root_id=root_id, completed=True)
        .values("type")
        .annotate(completed=Count("id"))
        .order_by("type")
        .values_list("type", "completed")
    )
)


def goal_progress(*, root_id: str) -> dict[str, int]:
    """Completed live goals of the fractal per type (idx_goals_completed), by a query compiled
    once (Prepared): its three rows take a tenth of the time the ORM takes to build it."""
    return dict(_PROGRESS.rows(root_id=root_id))


@dataclass(frozen=True)
class GoalCompletion:
    """Of a goal type's live goals in a fractal, how many are done."""

    type: str
    done: int
    total: int


def goal_completion(*, root_id: str) -> list[GoalCompletion]:
    """Done of total live goals of the fractal per type, in the tree's order of types
    (idx_goals_root_type)."""
    rows = (
        Goal.objects.filter(root_id=root_id)
        .values("type")
        .annotate(done=Count("id", filter=Q(completed=True)), total=Count("id"))
    )
    found = {row["type"]: GoalCompletion(row["type"], row["done"], row["total"]) for row in rows}
    return [found[goal_type] for goal_type in GoalType.values if goal_type in found]
