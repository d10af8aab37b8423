"""Per-fractal analytics selectors: one fractal's live rows only."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import override_settings

from goals.services import goal_delete
from sessions.selectors import (
    _PROGRESS,
    REPORT_COLUMNS,
    goal_progress,
    metric_series,
    practice_sessions_per_week,
    practice_time_total,
    session_report,
    wall_clock,
)
from tests.factories import (
    ActivityInstanceFactory,
    MetricValueFactory,
    PracticeSessionFactory,
    ShortTermGoalFactory,
)

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _wall_clock(seconds: float) -> datetime:
    """A WallClockSeconds value as a naive datetime, to the millisecond (SQLite's julianday
    is a double of days: tens of microseconds)."""
    moment = wall_clock(seconds)
    return moment.replace(microsecond=round(moment.microsecond, -3) % 1_000_000)


def _local(moment: datetime) -> datetime:
    """`moment` on the wall clock of TIME_ZONE, naive, to the millisecond."""
    local = moment.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE)).replace(tzinfo=None)
    return local.replace(microsecond=round(local.microsecond, -3) % 1_000_000)


def _session_at(moment: datetime, short, seconds: int):
    with time_machine.travel(moment, tick=False):
        return PracticeSessionFactory(parent=short, total_duration_seconds=seconds)


def test_sessions_per_week_and_total_time_count_one_fractal():
    """Sessions are grouped by week; another fractal's and deleted sessions are left out."""
    short = ShortTermGoalFactory()
    _session_at(MONDAY, short, 600)
    _session_at(MONDAY + timedelta(days=3), short, 300)
    _session_at(MONDAY + timedelta(days=8), short, 60)
    goal_delete(goal=_session_at(MONDAY, short, 5000))
    _session_at(MONDAY, ShortTermGoalFactory(), 7000)

    weeks = practice_sessions_per_week(root_id=short.root_id)

    assert [(week.week.isoformat(), week.sessions) for week in weeks] == [
        ("2026-03-02", 2),
        ("2026-03-09", 1),
    ]
    assert practice_time_total(root_id=short.root_id) == 960


def test_metric_series_is_one_metric_in_time_order():
    """Values of the chosen metric come oldest first, others left out."""
    first = MetricValueFactory(value=100)
    instance = first.activity_instance
    with time_machine.travel(MONDAY, tick=False):
        older = MetricValueFactory(
            activity_instance=instance, metric_definition=first.metric_definition, value=90
        )
    MetricValueFactory(activity_instance=instance, value=5)

    series = list(
        metric_series(root_id=instance.root_id, metric_definition_id=first.metric_definition_id)
    )

    assert [value for _, value in series] == [90, 100]
    assert _wall_clock(series[0][0]) == _local(older.created_at)


def test_session_report_is_a_date_range_of_the_fractal():
    """Instances inside [start, end) of the fractal, newest first."""
    short = ShortTermGoalFactory()
    session = PracticeSessionFactory(parent=short)
    moments = [MONDAY, MONDAY + timedelta(days=1), MONDAY + timedelta(days=10)]
    made = []
    for moment in moments:
        with time_machine.travel(moment, tick=False):
            made.append(ActivityInstanceFactory(practice_session=session))
    ActivityInstanceFactory()  # another fractal

    report = session_report(root_id=short.root_id, start=MONDAY, end=MONDAY + timedelta(days=7))

    rows = [dict(zip(REPORT_COLUMNS, row, strict=True)) for row in report]
    assert [row["id"] for row in rows] == [made[1].pk, made[0].pk]
    assert rows[0]["practice_session_id"] == session.pk
    assert rows[0]["activity"] == made[1].activity_definition.name
    assert _wall_clock(rows[0]["at"]) == _local(MONDAY + timedelta(days=1))
    # Compiled once, asked again with other times: the later range holds the third instance.
    later = session_report(
        root_id=short.root_id, start=MONDAY + timedelta(days=7), end=MONDAY + timedelta(days=14)
    )
    assert [row[0] for row in later] == [made[2].pk]


def test_a_prepared_query_is_compiled_again_after_a_setting_changes():
    """What Prepared compiled depends on settings (the time zone of WallClockSeconds): a
    changed setting drops it, and the next call compiles the query again."""
    short = ShortTermGoalFactory(completed=True)
    assert goal_progress(root_id=short.root_id) == {"ShortTermGoal": 1}
    assert _PROGRESS.compiled

    with override_settings(FRACTAL_BACKUP_MIN_FREE_BYTES=1):
        assert not _PROGRESS.compiled
        assert goal_progress(root_id=short.root_id) == {"ShortTermGoal": 1}


def test_goal_progress_counts_completed_live_goals_per_type():
    """Completed goals per type; open and deleted goals are not counted."""
    short = ShortTermGoalFactory(completed=True)
    ShortTermGoalFactory(parent=short.parent, completed=True)
    ShortTermGoalFactory(parent=short.parent, completed=False)
    goal_delete(goal=ShortTermGoalFactory(parent=short.parent, completed=True))
    PracticeSessionFactory(parent=short, completed=True)

    assert goal_progress(root_id=short.root_id) == {"PracticeSession": 1, "ShortTermGoal": 2}
    # Compiled once, asked again about another fractal.
    other = ShortTermGoalFactory(completed=True)
    assert goal_progress(root_id=other.root_id) == {"ShortTermGoal": 1}
