"""Where `manage.py migrate` spends its time on SQLite, by kind of work: one instrumented run.

    DATABASE_URL=sqlite:///COPY DJANGO_SETTINGS_MODULE=goals_project.settings_dev \
        python -m bench.work

`bench.migrate` runs this once per SQLite size, after the measured runs, on a fresh copy of the
same file, and `bench.report` shows the result next to the plan script's own phases. Each
statement Django sends is timed and sorted into a kind by its SQL (index builds, foreign key
checks, table rebuilds...), or else counted to the step it runs in (the goal tree's roots, the
placeholders, the backward-safety records...), which the instrumentation knows by wrapping
those steps. A step's own time excludes the steps and the sorted statements inside it, so the
kinds add up to the run's time. A statement's time is its execution: rows fetched afterwards
count to the step that reads them (the backward-safety records stream theirs). The timers cost
a few microseconds a statement: the run's total is within noise of an uninstrumented one. The
last line of the output is JSON: seconds by kind.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator

STARTED = time.perf_counter()
TABLE_REBUILDS = "table rebuilds (new table, copy, drop, rename)"
COMMITS = "commits"
# The backfill's pass over the values: their table written anew (table_rewrite: its rows, then
# its old pages dropped at the run's end), or an UPDATE.
VALUES_WRITTEN = "metric_values' roots and stamps written (the backfill's)"

# Statements sorted by their SQL, whatever step sends them (first match wins).
STATEMENTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), kind)
    for pattern, kind in (
        (r"^\s*CREATE (UNIQUE )?INDEX", "index builds (the plan's, the keys, the baseline's)"),
        (r"^PRAGMA foreign_key_check", "foreign key checks"),
        (r'^SELECT 1 FROM "[^"]+" c( LEFT JOIN .*)? WHERE .* LIMIT 1$', "foreign key checks"),
        (r"^PRAGMA quick_check", "quick_check of the tables changed in place"),
        (
            r'^(INSERT INTO|DROP TABLE( IF EXISTS)?) main\."metric_values__rewritten"',
            VALUES_WRITTEN,
        ),
        (r'^(INSERT INTO|CREATE TABLE) "new__', TABLE_REBUILDS),
        (r'^DROP TABLE "(?!new__)', TABLE_REBUILDS),
        (r'^ALTER TABLE "new__\S+" RENAME TO', TABLE_REBUILDS),
        (r'^INSERT INTO "legacy_repairs"', "repair records (legacy_repairs)"),
        (r'^UPDATE "metric_values"', VALUES_WRITTEN),
        (r"LEFT JOIN \S+ x ON x\.id = c\.\S+ .*x\.id IS NULL", "dangling references, placeholders"),
    )
)
# Steps, by what they do; a statement no pattern sorts counts to the innermost one.
MIGRATE = "goals_project.maintenance.migrate_service"
BACKUPS = "goals_project.maintenance.backups"
BACKFILL = "goals.migrations.0004_backfill_root_ids"
STEPS: tuple[tuple[str, str, str], ...] = (
    (MIGRATE, "legacy_db_inspect_alias", "inspection, preflight"),
    (MIGRATE, "legacy_db_preflight", "inspection, preflight"),
    (MIGRATE, "legacy_db_adopt", "adoption"),
    (BACKUPS, "_sqlite_copy", "backup: the copy"),
    # The copy taken on a thread while the file is checked: what migrate waits for it afterwards.
    (BACKUPS, "PendingBackup.copied", "backup: the copy"),
    (BACKUPS, "PendingBackup.finish", "backup: waiting for its check"),
    (BACKFILL, "Backfill.run", "backfill: the other steps"),
    (BACKFILL, "Backfill.goal_roots", "backfill: the goal tree's roots"),
    (BACKFILL, "Backfill.placeholders", "dangling references, placeholders"),
    (BACKFILL, "backfill_state_record", "backward-safety records (digest)"),
    ("django.db.backends.base.base", "BaseDatabaseWrapper.commit", COMMITS),
    # The writeback's last fdatasync, which the commit no longer waits for itself.
    ("goals_project.maintenance.db_tuning", "last_pages_written", COMMITS),
)
REST = "Django and the rest (startup, migration states, small statements)"
# Steps whose statements and commits count to them: adoption runs while the backup is checked,
# so what it does inside is not what migrate waits for (the wait itself is counted apart).
OPAQUE = frozenset({"adoption"})


class Clock:
    """Exclusive seconds by kind on the main thread (the backup's check runs on its own)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.stack: list[list] = []  # [kind, seconds of what ran inside]
        self.main = threading.main_thread()

    def opaque(self) -> bool:
        return any(frame[0] in OPAQUE for frame in self.stack)

    @contextlib.contextmanager
    def kind(self, kind: str) -> Iterator[None]:
        if threading.current_thread() is not self.main or (kind == COMMITS and self.opaque()):
            yield
            return
        start = time.perf_counter()
        self.stack.append([kind, 0.0])
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            _, inside = self.stack.pop()
            self.seconds[kind] += elapsed - inside
            if self.stack:
                self.stack[-1][1] += elapsed


def statement_kind(sql: str) -> str | None:
    for pattern, kind in STATEMENTS:
        if pattern.search(sql):
            return kind
    return None


def _wrap(owner, name: str, wrapper: Callable) -> None:
    original = getattr(owner, name)
    setattr(owner, name, functools.wraps(original)(wrapper(original)))


def instrument(clock: Clock) -> None:
    """Time every statement Django sends and every step of STEPS."""
    from django.db.backends import utils

    def timed(original):
        def execute(self, sql, *args, **kwargs):
            kind = None if clock.opaque() else statement_kind(" ".join(str(sql).split()))
            if kind is None:
                return original(self, sql, *args, **kwargs)
            with clock.kind(kind):
                return original(self, sql, *args, **kwargs)

        return execute

    _wrap(utils.CursorWrapper, "_execute", timed)
    _wrap(utils.CursorWrapper, "_executemany", timed)
    for module_name, qualified, kind in STEPS:
        owner = importlib.import_module(module_name)
        *path, name = qualified.split(".")
        for part in path:
            owner = getattr(owner, part)

        def stepping(original, kind=kind):
            def step(*args, **kwargs):
                with clock.kind(kind):
                    return original(*args, **kwargs)

            return step

        _wrap(owner, name, stepping)


def main() -> None:
    import django

    django.setup()
    clock = Clock()
    instrument(clock)
    from django.core.management import call_command

    with clock.kind(REST):
        call_command("migrate", verbosity=0)
    # Interpreter start and imports before STARTED are not seen here: bench.migrate adds them
    # from the child's wall time.
    total = time.perf_counter() - STARTED
    seconds = dict(clock.seconds)
    seconds[REST] += total - sum(seconds.values())
    print(json.dumps({kind: round(value, 3) for kind, value in seconds.items()}))  # noqa: T201


if __name__ == "__main__":
    main()
