"""Benchmark: the analytics reads for one fractal out of 100, three ways in one run.

    .venv/bin/python -m bench.queries --size 1m [--backend postgresql]

- selector: the function the app calls (sessions/selectors.py), through the ORM, on the migrated
  copy;
- hand SQL: the same question written by hand against the migrated copy, through Django's cursor;
- legacy: the question as it had to be asked before the migration, on the untouched legacy data:
  walk the goal tree from the root (recursive CTE), add the sessions linked through
  practice_session_goals, then join down to what is wanted.

All three go through Django's connection layer, so they pay the same driver and value conversion
costs and differ by their SQL (and the selector by the ORM around it).

Each is timed by its median over repeated calls after a warm-up; the plans (EXPLAIN QUERY PLAN on
SQLite, EXPLAIN on PostgreSQL) name the index each one uses.
"""

from __future__ import annotations

import argparse
import datetime
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.common import SIZES, legacy_file, log, save
from bench.databases import Pair, django_alias, django_setup, legacy_and_migrated

RECOVERY_NAME = "Recovered records"
DEFAULT = "default"  # the migrated copy
LEGACY = "legacy"  # the legacy data, untouched

# The legacy question starts from the tree: the root, every goal below it (UNION stops at the
# cycles real files have), and the parentless sessions linked to any of them.
LEGACY_FRACTAL = """
WITH RECURSIVE tree(id) AS (
    SELECT id FROM goals WHERE id = %s
    UNION
    SELECT goals.id FROM goals JOIN tree ON goals.parent_id = tree.id
),
fractal(id) AS (
    SELECT id FROM tree
    UNION
    SELECT link.practice_session_id
    FROM practice_session_goals AS link JOIN tree ON link.short_term_goal_id = tree.id
)
"""

QUERIES = {
    "analytics": {
        "question": "one metric's values over time",
        "hand": """
            SELECT {seconds(created_at)}, value FROM metric_values
            WHERE root_id = %s AND metric_definition_id = %s
            ORDER BY created_at""",
        "legacy": LEGACY_FRACTAL
        + """
            SELECT instance.created_at, value.value
            FROM metric_values AS value
            JOIN activity_instances AS instance ON instance.id = value.activity_instance_id
            WHERE value.metric_definition_id = %s
              AND instance.practice_session_id IN (SELECT id FROM fractal)
            ORDER BY instance.created_at""",
    },
    "session_report": {
        "question": "activity instances of the fractal's sessions in a date range",
        "hand": """
            SELECT instance.id, instance.practice_session_id, {seconds(instance.created_at)},
                   instance.duration_seconds, definition.name
            FROM activity_instances AS instance
            JOIN activity_definitions AS definition
              ON definition.id = instance.activity_definition_id
            WHERE instance.deleted_at IS NULL AND instance.root_id = %s
              AND instance.created_at >= %s AND instance.created_at < %s
            ORDER BY instance.created_at DESC""",
        "legacy": LEGACY_FRACTAL
        + """
            SELECT instance.id, instance.practice_session_id, instance.created_at,
                   instance.duration_seconds, definition.name
            FROM activity_instances AS instance
            JOIN activity_definitions AS definition
              ON definition.id = instance.activity_definition_id
            WHERE instance.practice_session_id IN (SELECT id FROM fractal)
              AND instance.created_at >= %s AND instance.created_at < %s
            ORDER BY instance.created_at DESC""",
    },
    "progress": {
        "question": "completed goals per type",
        "hand": """
            SELECT type, COUNT(*) FROM goals
            WHERE deleted_at IS NULL AND completed AND root_id = %s
            GROUP BY type ORDER BY type""",
        "legacy": LEGACY_FRACTAL
        + """
            SELECT type, COUNT(*) FROM goals
            WHERE id IN (SELECT id FROM fractal) AND completed = %s
            GROUP BY type ORDER BY type""",
    },
}


# The hand SQL's wall-clock seconds (goals_project.bases.functions.WallClockSeconds), written out;
# on PostgreSQL the zone is the first parameter.
SECONDS = {
    "sqlite": "((julianday({column}) - 2440587.5) * 86400.0)",
    "postgresql": "CAST(EXTRACT(EPOCH FROM {column} AT TIME ZONE %s) AS double precision)",
}
SECONDS_OF = re.compile(r"\{seconds\(([\w.]+)\)\}")


def hand_sql(name: str, vendor: str) -> str:
    """The hand-written SQL of a query for a backend."""
    return SECONDS_OF.sub(
        lambda found: SECONDS[vendor].format(column=found[1]), QUERIES[name]["hand"]
    )


@dataclass(frozen=True)
class Subject:
    """The fractal, metric and date range every query asks about."""

    root_id: str
    name: str
    metric_definition_id: str
    start: datetime.datetime
    end: datetime.datetime


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=list(SIZES), default="smoke", help="Data size.")
    parser.add_argument(
        "--backend", choices=["sqlite", "postgresql"], default="sqlite", help="Database."
    )
    parser.add_argument(
        "--min-seconds",
        type=float,
        default=2.0,
        help="Time each way at least this long (and at least 5 calls) before taking the median.",
    )
    options = parser.parse_args(argv)
    legacy = legacy_file(options.size)
    with legacy_and_migrated(options.backend, legacy) as pair:
        django_setup(pair.migrated_url)
        results = measure(pair, options.min_seconds)
    save("queries", options.backend, options.size, results)
    return results


def measure(pair: Pair, min_seconds: float) -> dict:
    from django.db import connection

    subject = choose_subject()
    log(f"fractal {subject.name!r} ({subject.root_id}), metric {subject.metric_definition_id}")
    sqlite = connection.vendor == "sqlite"
    # The legacy query goes through Django's connection layer too, so all ways pay the same
    # driver and value conversion costs and differ only by their SQL.
    django_alias(LEGACY, pair.legacy_url)
    results: dict = {
        "subject": {
            "fractal": subject.name,
            "root_id": subject.root_id,
            "metric_definition_id": subject.metric_definition_id,
            "start": subject.start.isoformat(),
            "end": subject.end.isoformat(),
        },
        "queries": {},
    }
    for name, spec in QUERIES.items():
        log(f"{name}: {spec['question']}")
        selector = _selector(name, subject)
        selector_sql = _sql_sent_by(selector)
        hand = hand_sql(name, connection.vendor)
        hand_params = _hand_params(name, subject, connection, hand)
        legacy_params = _legacy_params(name, subject, sqlite)
        if [tuple(row) for row in selector()] != _rows(DEFAULT, hand, hand_params):
            raise RuntimeError(
                f"{name}: the selector and the hand SQL returned different values: they do not "
                "ask the same question"
            )
        ways = {
            "selector": _timed(selector, min_seconds),
            # The selector's own SQL without the ORM around it: the plan's share of its time.
            "selector_sql": _timed(lambda sql=selector_sql: _rows(DEFAULT, sql, None), min_seconds),
            "hand_sql": _timed(lambda sql=hand, p=hand_params: _rows(DEFAULT, sql, p), min_seconds),
            "legacy": _timed(
                lambda spec=spec, p=legacy_params: _rows(LEGACY, spec["legacy"], p),
                min_seconds,
            ),
        }
        ways["selector"]["plan"] = ways["selector_sql"]["plan"] = _plan(DEFAULT, selector_sql, None)
        ways["hand_sql"]["plan"] = _plan(DEFAULT, hand, hand_params)
        ways["legacy"]["plan"] = _plan(LEGACY, spec["legacy"], legacy_params)
        for way in ways.values():
            way["indexes"] = _index_names(way["plan"])
        results["queries"][name] = {
            "question": spec["question"],
            **ways,
            "speedup_vs_legacy": ways["legacy"]["seconds"] / ways["selector"]["seconds"],
            "selector_vs_hand_sql": ways["selector"]["seconds"] / ways["hand_sql"]["seconds"],
            "selector_sql_vs_hand_sql": (
                ways["selector_sql"]["seconds"] / ways["hand_sql"]["seconds"]
            ),
        }
        log(
            f"{name}: selector {ways['selector']['seconds'] * 1000:.2f} ms (its SQL alone "
            f"{ways['selector_sql']['seconds'] * 1000:.2f} ms), hand SQL "
            f"{ways['hand_sql']['seconds'] * 1000:.2f} ms, legacy "
            f"{ways['legacy']['seconds'] * 1000:.2f} ms"
        )
    return results


def choose_subject() -> Subject:
    """The middle fractal by age, its busiest metric, and the middle half of its activity."""
    from django.db.models import Count

    from goals.models import Goal, GoalType
    from sessions.models import ActivityInstance, MetricValue

    roots = (
        Goal.objects.filter(parent__isnull=True, type=GoalType.ULTIMATE)
        .exclude(name=RECOVERY_NAME)
        .order_by("created_at", "id")
    )
    count = roots.count()
    if not count:
        raise RuntimeError("the migrated copy has no fractal to ask about")
    root = roots[count // 2]
    busiest = (
        MetricValue.objects.filter(root_id=root.pk)
        .values("metric_definition_id")
        .annotate(values=Count("id"))
        .order_by("-values", "metric_definition_id")
        .first()
    )
    if busiest is None:
        raise RuntimeError(f"fractal {root.name!r} has no metric values")
    times = ActivityInstance.objects.filter(root_id=root.pk).order_by("created_at")
    total = times.count()
    start = times.values_list("created_at", flat=True)[total // 4]
    end = times.values_list("created_at", flat=True)[(3 * total) // 4]
    return Subject(root.pk, root.name, busiest["metric_definition_id"], start, end)


def _selector(name: str, subject: Subject) -> Callable[[], list]:
    """The app's selector, evaluated in full (rows become Python values or model instances)."""
    from sessions import selectors

    if name == "analytics":
        return lambda: list(
            selectors.metric_series(
                root_id=subject.root_id, metric_definition_id=subject.metric_definition_id
            )
        )
    if name == "session_report":
        return lambda: list(
            selectors.session_report(root_id=subject.root_id, start=subject.start, end=subject.end)
        )
    return lambda: list(selectors.goal_progress(root_id=subject.root_id).items())


def _sql_sent_by(call: Callable[[], list]) -> str:
    """The one statement `call` sends, with its parameters inlined by the backend."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        call()
    if len(queries.captured_queries) != 1:
        raise RuntimeError(f"expected one query, the selector sent {len(queries)}")
    return queries.captured_queries[0]["sql"]


def _hand_params(name: str, subject: Subject, connection, sql: str) -> list:
    from django.conf import settings

    zone = [settings.TIME_ZONE] if "TIME ZONE %s" in sql else []
    if name == "analytics":
        return [*zone, subject.root_id, subject.metric_definition_id]
    if name == "session_report":
        adapt = connection.ops.adapt_datetimefield_value
        return [*zone, subject.root_id, adapt(subject.start), adapt(subject.end)]
    return [subject.root_id]


def _legacy_params(name: str, subject: Subject, sqlite: bool) -> list:
    """Legacy SQLite files hold naive text times; PostgreSQL holds the loaded timestamps."""
    if name == "analytics":
        return [subject.root_id, subject.metric_definition_id]
    if name == "session_report":
        if sqlite:
            text = "%Y-%m-%d %H:%M:%S.%f"
            bounds = [subject.start.strftime(text), subject.end.strftime(text)]
        else:
            bounds = [subject.start, subject.end]
        return [subject.root_id, *bounds]
    return [subject.root_id, True]


def _rows(alias: str, sql: str, params: list | None) -> list:
    from django.db import connections

    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _timed(call: Callable[[], list], min_seconds: float) -> dict:
    """Median seconds of repeated calls after one warm-up: at least 5, for at least min_seconds."""
    rows = len(call())
    times: list[float] = []
    began = time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - began < min_seconds and len(times) < 1000):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times), "calls": len(times), "rows": rows}


def _plan(alias: str, sql: str, params: list | None) -> list[str]:
    """EXPLAIN QUERY PLAN on SQLite (its detail column), EXPLAIN on PostgreSQL."""
    from django.db import connections

    connection = connections[alias]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return [row[-1] for row in cursor.fetchall()]
        cursor.execute(f"EXPLAIN {sql}", params)
        return [row[0] for row in cursor.fetchall()]


def _index_names(plan: list[str]) -> list[str]:
    """Indexes a plan reads (SQLite: USING [COVERING] INDEX x; PostgreSQL: Index Scan using x)."""
    names = []
    for line in plan:
        for match in re.finditer(
            r"USING (?:COVERING )?INDEX (\w+)|(?:Index|Bitmap Index) (?:Only )?Scan(?: Backward)?"
            r" (?:using|on) (\w+)",
            line,
        ):
            name = match.group(1) or match.group(2)
            if name not in names:
                names.append(name)
    return names


if __name__ == "__main__":
    main()
