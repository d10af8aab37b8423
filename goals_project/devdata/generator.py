"""A realistic legacy database generator, for tests, the demo and benchmarks.

It writes a variant's real DDL (goals_project/maintenance/legacy/ddl/) with Python's sqlite3,
not the ORM: the file is a foreign legacy file, shaped like the real ones, dirt included
(README, "Legacy data").

Fractal `n` is rooted at `ROOT_TYPES[n % 4]` (the legacy create-fractal endpoint accepted all
four), so fractal 0 is an UltimateGoal and any four consecutive fractals hold each root type; the
first LongTermGoal root is named "Test", as in real files. Below a root the tree follows the legacy
app's order down to short-term goals, then practice sessions, and under some sessions of each
kind (with a parent, linked only through practice_session_goals, unlinked) immediate goals, with
micro and nano goals below some of them; the first session of each kind holds a whole chain.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from goals_project.maintenance.legacy.schemas import VARIANTS, table_columns

Progress = Callable[[str, int, int], None]
BATCH_SIZE = 10_000
BASE_TIME = datetime(2025, 6, 1, 7, 30)  # noqa: DTZ001 - legacy timestamps are naive local time
# The date of the real files (../shared/legacy): their clocks ran up to it, never past it.
FILE_DATE = datetime(2026, 1, 1)  # noqa: DTZ001 - as BASE_TIME
# Minutes the clock moves per session, on average: the session's own tick and its share of the
# others (goals, definitions, programs), measured on generated files.
MINUTES_PER_SESSION = 340
SECOND = timedelta(seconds=1)
DIRT_KINDS = (
    "sessions_of_deleted_fractal",
    "session_without_anything",
    "activity_definitions_of_deleted_fractal",
    "metric_definitions_of_deleted_fractal",
    "session_templates_of_deleted_fractal",
    "activity_groups_of_deleted_fractal",
    "metric_values_with_deleted_definition",
    "session_with_missing_template",
    "wrong_root_other_fractal",
    "root_null",
    "session_own_root",
    "root_points_to_missing_goal",
)
# The root types the legacy create-fractal endpoint accepted; in this order they are also the top
# of the tree (then PracticeSession, ImmediateGoal, MicroGoal, NanoGoal).
ROOT_TYPES = ("UltimateGoal", "LongTermGoal", "MidTermGoal", "ShortTermGoal")
CHILD_TYPE = dict(itertools.pairwise(ROOT_TYPES))
GOAL_LABELS = {
    "LongTermGoal": "Long-term",
    "MidTermGoal": "Mid-term",
    "ShortTermGoal": "Short-term",
}
# Below a session: its immediate goals, their micro goals, and those micro goals' nano goals.
SESSION_GOAL_NAMES = {
    "ImmediateGoal": "Next step",
    "MicroGoal": "Tiny step",
    "NanoGoal": "Smallest step",
}
# How a session belongs to its fractal: by parent_id, only through practice_session_goals, or not at
# all (a session of a deleted fractal, a session with nothing).
SESSION_KINDS = ("parented", "linked_only", "unlinked")
# "nano_goals_under_linked_only_sessions": nano goals whose chain (micro, immediate) hangs under a
# session linked only through practice_session_goals.
SESSION_GOAL_SHAPES = {
    (kind, goal_type): f"{goal_type.removesuffix('Goal').lower()}_goals_under_{kind}_sessions"
    for kind in SESSION_KINDS
    for goal_type in SESSION_GOAL_NAMES
}
# What the legacy app allowed and real files hold without being dirt; a kind appears in the report
# only when the file holds it (a file of fewer than four fractals lacks some root types).
SHAPE_KINDS = (
    *(f"fractals_rooted_at_{goal_type}" for goal_type in ROOT_TYPES),
    *SESSION_GOAL_SHAPES.values(),
)
SAMPLE_IDS = 50
# uuid4's version and variant bits, set on 128 random bits as uuid.UUID(version=4) sets them.
UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


class LegacyGenerateError(ValueError):
    """The generator was asked for something it cannot or must not do."""


@dataclass(frozen=True)
class GeneratedLegacyDb:
    """What was written: rows per table, and how much of each kind of dirt and of each legacy
    shape that is not dirt (`SHAPE_KINDS`), with sample ids."""

    path: Path
    variant: str
    row_counts: dict[str, int]
    dirt: dict[str, int]
    dirt_ids: dict[str, list[str]] = field(default_factory=dict)
    shapes: dict[str, int] = field(default_factory=dict)
    shape_ids: dict[str, list[str]] = field(default_factory=dict)


class _Writer:
    """Buffers rows per table and writes them in batches; a row is a dict of possible columns."""

    def __init__(self, connection: sqlite3.Connection, progress: Progress | None) -> None:
        self.connection = connection
        self.columns = table_columns(connection)
        self.buffers: dict[str, list[dict]] = {}
        self.counts: dict[str, int] = dict.fromkeys(self.columns, 0)
        self.progress = progress

    def has(self, table: str, column: str) -> bool:
        return column in self.columns.get(table, ())

    def add(self, table: str, row: dict) -> None:
        if table not in self.columns:
            return  # an older variant without this table
        buffer = self.buffers.setdefault(table, [])
        buffer.append(row)
        if len(buffer) >= BATCH_SIZE:
            self.flush(table)

    def flush(self, table: str) -> None:
        rows = self.buffers.pop(table, [])
        if not rows:
            return
        columns = self.columns[table]
        names = ", ".join(f'"{name}"' for name in columns)
        values = ", ".join("?" * len(columns))
        self.connection.executemany(
            f'INSERT INTO "{table}" ({names}) VALUES ({values})',  # noqa: S608 - DDL's own names
            (tuple(map(row.get, columns)) for row in rows),
        )
        self.counts[table] += len(rows)
        if self.progress is not None:
            self.progress(table, self.counts[table], self.counts[table])

    def flush_all(self) -> None:
        for table in list(self.buffers):
            self.flush(table)


class _Generator:
    def __init__(self, writer: _Writer, rng: random.Random, variant: str, **sizes) -> None:
        self.w = writer
        self.rng = rng
        self.variant = variant
        self.sizes = sizes
        self.script = variant == "script_migrated"
        self.pre_sti = variant == "pre_sti"
        self.dirt: dict[str, int] = dict.fromkeys(DIRT_KINDS, 0)
        self.dirt_ids: dict[str, list[str]] = {kind: [] for kind in DIRT_KINDS}
        self.shapes: dict[str, int] = dict.fromkeys(SHAPE_KINDS, 0)
        self.shape_ids: dict[str, list[str]] = {kind: [] for kind in SHAPE_KINDS}
        self.session_kinds_written: set[str] = set()
        self.clock = BASE_TIME
        # A file of more sessions than fit between BASE_TIME and FILE_DATE at the usual pace
        # moves its clock proportionally slower, so that it ends about FILE_DATE, as a real
        # file does, rather than years ahead of any migration. The random draws stay the same.
        sessions = max(1, sizes["fractals"] * sizes["sessions_per_fractal"])
        usual = timedelta(minutes=MINUTES_PER_SESSION) * sessions
        self.pace = min(1.0, (FILE_DATE - BASE_TIME) / usual)
        self.fractal_ids: list[str] = []
        self.link_id = 0

    # -- small helpers ---------------------------------------------------------------------------

    def uid(self) -> str:
        # str(uuid.UUID(int=..., version=4)), without the UUID object: a million values need
        # over a million ids.
        digits = f"{(self.rng.getrandbits(128) & UUID4_CLEAR) | UUID4_SET:032x}"
        return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"

    def ts(self, dt: datetime | None = None) -> str:
        # A microsecond of at least 1 makes isoformat() write the legacy "%Y-%m-%d %H:%M:%S.%f",
        # at half the cost of strftime().
        return (dt or self.clock).replace(microsecond=self.rng.randint(1, 999_999)).isoformat(" ")

    def tick(self, minutes: int = 30) -> datetime:
        # At least a second, so that stamps drawn one after the other stay in order (ts() draws
        # their microseconds) however slow the pace.
        self.clock += max(timedelta(minutes=self.rng.randint(1, minutes)) * self.pace, SECOND)
        return self.clock

    def mark(self, kind: str, row_id: str) -> None:
        self.dirt[kind] += 1
        if len(self.dirt_ids[kind]) < SAMPLE_IDS:
            self.dirt_ids[kind].append(row_id)

    def shape(self, kind: str, row_id: str) -> None:
        self.shapes[kind] += 1
        if len(self.shape_ids[kind]) < SAMPLE_IDS:
            self.shape_ids[kind].append(row_id)

    def maybe_null(self, value: str, rate: float = 0.01) -> str | None:
        return None if self.rng.random() < rate else value

    def script_root(self, correct: str | None, row_id: str) -> str | None:
        """The root an earlier improvement script wrote: usually right, sometimes not."""
        if not self.script:
            return None
        draw = self.rng.random()
        if draw < 0.04 and len(self.fractal_ids) > 1:
            self.mark("wrong_root_other_fractal", row_id)
            return self.rng.choice([f for f in self.fractal_ids if f != correct] or [correct])
        if draw < 0.07:
            self.mark("root_null", row_id)
            return None
        if draw < 0.08:
            self.mark("root_points_to_missing_goal", row_id)
            return self.uid()
        return correct

    def audit(self, created: str | None) -> dict:
        """The columns the earlier script added, as it filled them."""
        deleted = self.ts(self.tick()) if self.rng.random() < 0.01 else None
        return {"deleted_at": deleted, "updated_at": created, "sort_order": 0}

    # -- goals -----------------------------------------------------------------------------------

    def goal(
        self,
        goal_type: str,
        name: str,
        parent: str | None,
        root: str | None,
        stored_root: str | None = None,
        **extra,
    ) -> str:
        """One goal row; `stored_root` is the root_id the legacy app wrote (sessions only)."""
        goal_id = extra.pop("id", None) or self.uid()
        created = self.maybe_null(self.ts(self.tick()))
        row = {
            "id": goal_id,
            "type": goal_type,
            "name": name,
            "description": self.rng.choice(["", "Keep going.", None]),
            "deadline": self.ts(self.clock + timedelta(days=90))
            if self.rng.random() < 0.3
            else None,
            "completed": int(self.rng.random() < 0.2),
            "created_at": created,
            "parent_id": parent,
            "root_id": None if stored_root == "__own__" else stored_root,
            "targets": json.dumps([{"metric": "reps", "value": 10}])
            if self.rng.random() < 0.3
            else None,
            "updated_at": None,
            "attributes": None,
            **extra,
        }
        if self.script:
            row.update(self.audit(created))
            row["root_id"] = self.script_root(root or goal_id, goal_id)
            if stored_root == "__own__":
                row["root_id"] = goal_id  # the earlier script made an orphan its own root
                self.mark("session_own_root", goal_id)
        self.w.add("goals", row)
        return goal_id

    def tree(self, fractal: int) -> tuple[str, list[str]]:
        """A fractal rooted at the next of the four root types, and its short-term goals."""
        root_type = ROOT_TYPES[fractal % len(ROOT_TYPES)]
        if root_type == "UltimateGoal":
            name = f"Life goal {fractal + 1}"
        elif root_type == "LongTermGoal" and fractal < len(ROOT_TYPES):
            name = "Test"  # real files hold a parentless LongTermGoal of that name
        else:
            name = f"{GOAL_LABELS[root_type]} goal {fractal + 1}"
        root = self.goal(root_type, name, None, None)
        self.fractal_ids.append(root)
        self.shape(f"fractals_rooted_at_{root_type}", root)
        if root_type == "ShortTermGoal":
            return root, [root]
        short_terms: list[str] = []
        self.branch(root, root, CHILD_TYPE[root_type], "", short_terms)
        return root, short_terms

    def branch(
        self, parent: str, root: str, goal_type: str, path: str, short_terms: list[str]
    ) -> None:
        """The goals of `goal_type` under `parent`, down to short-term goals."""
        for n in range(2 if goal_type == "LongTermGoal" else self.rng.randint(1, 2)):
            here = f"{path}.{n + 1}" if path else f"{n + 1}"
            goal = self.goal(goal_type, f"{GOAL_LABELS[goal_type]} {here}", parent, root)
            if goal_type in CHILD_TYPE:
                self.branch(goal, root, CHILD_TYPE[goal_type], here, short_terms)
            else:
                short_terms.append(goal)

    # -- definitions -----------------------------------------------------------------------------

    def definitions(self, root: str, deleted: bool = False) -> list[tuple[str, list, list, list]]:
        """Groups, activities with their metrics, deleted metric ids and splits, templates."""
        groups = []
        for g in range(1 if deleted else self.rng.randint(1, 2)):
            group_id = self.uid()
            created = self.ts(self.tick())
            row = {
                "id": group_id,
                "root_id": root,
                "name": f"Group {g + 1}",
                "description": "",
                "created_at": created,
                "sort_order": g,
            }
            if self.script:
                row.update(deleted_at=None, updated_at=created)
            self.w.add("activity_groups", row)
            groups.append(group_id)
            if deleted:
                self.mark("activity_groups_of_deleted_fractal", group_id)
        activities = []
        for a in range(1 if deleted else 4):
            activity_id = self.uid()
            created = self.ts(self.tick())
            has_splits = int(a == 0 and self.w.has("activity_definitions", "has_splits"))
            row = {
                "id": activity_id,
                "root_id": root,
                "name": f"Activity {a + 1}",
                "description": "",
                "created_at": created,
                "has_sets": int(a % 2 == 0),
                "has_metrics": 1,
                "metrics_multiplicative": 0,
                "has_splits": has_splits,
                "group_id": groups[a % len(groups)] if a < 2 else None,
            }
            if self.script:
                row.update(deleted_at=None, updated_at=created)
            self.w.add("activity_definitions", row)
            if deleted:
                self.mark("activity_definitions_of_deleted_fractal", activity_id)
            metrics = []
            for m in range(self.rng.randint(2, 4)):
                metric_id = self.uid()
                name, unit = [
                    ("Weight", "kg"),
                    ("Reps", "reps"),
                    ("Distance", "km"),
                    ("Tempo", "bpm"),
                ][m]
                row = {
                    "id": metric_id,
                    "activity_id": activity_id,
                    "name": name,
                    "unit": unit,
                    "created_at": self.ts(self.tick()),
                    "deleted_at": self.ts(self.tick()) if self.rng.random() < 0.05 else None,
                    "is_active": 1,
                    "is_top_set_metric": int(m == 0),
                    "is_multiplicative": 1,
                }
                if self.script:
                    row.update(
                        root_id=self.script_root(root, metric_id), updated_at=None, sort_order=m
                    )
                self.w.add("metric_definitions", row)
                metrics.append(metric_id)
                if deleted:
                    self.mark("metric_definitions_of_deleted_fractal", metric_id)
            ghosts = [self.uid() for _ in range(self.rng.randint(1, 2))]
            splits = []
            if has_splits:
                for s, name in enumerate(("Left", "Right")):
                    split_id = self.uid()
                    row = {
                        "id": split_id,
                        "activity_id": activity_id,
                        "name": name,
                        "order": s,
                        "created_at": self.ts(self.tick()),
                    }
                    self.w.add("split_definitions", row)
                    splits.append(split_id)
            activities.append((activity_id, metrics, ghosts, splits))
        templates = []
        for t in range(1 if deleted else self.rng.randint(1, 2)):
            template_id = self.uid()
            created = self.ts(self.tick())
            row = {
                "id": template_id,
                "name": f"Template {t + 1}",
                "description": None,
                "root_id": root,
                "created_at": created,
                "template_data": json.dumps({"activities": [a[0] for a in activities[:2]]}),
            }
            if self.script:
                row.update(deleted_at=None, updated_at=created)
            self.w.add("session_templates", row)
            templates.append(template_id)
            if deleted:
                self.mark("session_templates_of_deleted_fractal", template_id)
        return activities, templates

    def program(self, root: str, templates: list[str]) -> None:
        program_id = self.uid()
        start = self.tick()
        created = self.ts(start)
        self.w.add(
            "programs",
            {
                "id": program_id,
                "root_id": root,
                "name": "Season plan",
                "description": "",
                "start_date": self.ts(start),
                "end_date": self.ts(start + timedelta(weeks=12)),
                "created_at": created,
                "updated_at": created,
                "is_active": 1,
                "goal_ids": json.dumps([root]),
                "weekly_schedule": json.dumps({"mon": templates[:1]}),
            },
        )
        for b in range(self.rng.randint(1, 2)):
            block_id = self.uid()
            day0 = (start + timedelta(weeks=4 * b)).date()
            self.w.add(
                "program_blocks",
                {
                    "id": block_id,
                    "program_id": program_id,
                    "name": f"Block {b + 1}",
                    "start_date": day0.isoformat(),
                    "end_date": (day0 + timedelta(weeks=4)).isoformat(),
                    "color": "#4a90d9",
                    "goal_ids": json.dumps([root]),
                },
            )
            for d in range(self.rng.randint(2, 3)):
                day_id = self.uid()
                self.w.add(
                    "program_days",
                    {
                        "id": day_id,
                        "block_id": block_id,
                        "date": (day0 + timedelta(days=d)).isoformat(),
                        "day_number": d + 1,
                        "name": f"Day {d + 1}",
                        "notes": None,
                    },
                )
                self.w.add(
                    "scheduled_sessions",
                    {
                        "id": self.uid(),
                        "day_id": day_id,
                        "session_template_id": self.rng.choice(templates),
                        "is_completed": int(self.rng.random() < 0.5),
                        "completion_data": None,
                    },
                )

    # -- sessions --------------------------------------------------------------------------------

    def link(self, session: str, short_term: str) -> None:
        self.link_id += 1
        self.w.add(
            "practice_session_goals",
            {
                "id": self.link_id,
                "practice_session_id": session,
                "short_term_goal_id": short_term,
                "created_at": self.ts(),
            },
        )

    def session(
        self,
        root: str | None,
        parent: str | None,
        activities,
        templates,
        template_id: str | None = None,
        stored_root: str | None = None,
        *,
        kind: str,
        whole_chain: bool = False,
    ) -> str:
        """A practice session of `kind` (SESSION_KINDS), the goals below it and its activities."""
        start = self.tick(600)
        minutes = self.rng.randint(20, 90)
        session_id = self.uid()
        extra = {
            "id": session_id,
            "duration_minutes": minutes,
            "session_data": json.dumps({"notes": "Good session", "energy": self.rng.randint(1, 5)}),
            "session_start": self.ts(start),
            "session_end": self.ts(start + timedelta(minutes=minutes)),
            "total_duration_seconds": minutes * 60,
            "template_id": template_id
            or (self.rng.choice(templates) if templates and self.rng.random() < 0.4 else None),
        }
        if self.pre_sti:
            self.w.add(
                "practice_sessions",
                {
                    "id": session_id,
                    "name": "Practice",
                    "description": None,
                    "completed": 1,
                    "created_at": self.ts(start),
                    "root_id": root,
                    "session_data": extra["session_data"],
                    "duration_minutes": minutes,
                },
            )
        else:
            self.goal(
                "PracticeSession",
                f"Practice {start:%Y-%m-%d}",
                parent,
                root,
                stored_root=stored_root or root,
                **extra,
            )
            whole_chain = whole_chain or kind not in self.session_kinds_written
            self.session_kinds_written.add(kind)
            # Under a session without a root the earlier script's walk up the parents stopped at
            # the session, which it made its own root.
            self.session_goals(session_id, kind, root or session_id, whole_chain)
        self.instances(session_id, root, start, activities)
        return session_id

    def session_goals(self, session_id: str, kind: str, root: str, whole_chain: bool) -> None:
        """None, one or two immediate goals under a session (the legacy app's only place for
        them), each with a micro goal half the time, which has a nano goal half the time; or,
        with `whole_chain`, one immediate goal with a micro and a nano goal below."""
        draw = self.rng.random()
        count = 1 if whole_chain else 0 if draw < 0.5 else 1 if draw < 0.85 else 2
        for _ in range(count):
            parent = session_id
            for depth, (goal_type, name) in enumerate(SESSION_GOAL_NAMES.items()):
                if depth and not whole_chain and self.rng.random() < 0.5:
                    break
                parent = self.goal(goal_type, name, parent, root)
                self.shape(SESSION_GOAL_SHAPES[kind, goal_type], parent)

    def instances(self, session_id: str, root: str | None, start: datetime, activities) -> None:
        rate = self.sizes["deleted_metric_rate"]
        clock = start
        for position in range(self.sizes["instances_per_session"]):
            activity_id, metrics, ghosts, splits = activities[position % len(activities)]
            instance_id = self.uid()
            time_start = clock + timedelta(minutes=1)
            time_stop = time_start + timedelta(seconds=self.rng.randint(60, 900))
            clock = time_stop
            created = self.maybe_null(self.ts(time_start))
            row = {
                "id": instance_id,
                "practice_session_id": session_id,
                "activity_definition_id": activity_id,
                "created_at": created,
                "time_start": self.ts(time_start),
                "time_stop": self.ts(time_stop),
                "duration_seconds": int((time_stop - time_start).total_seconds()),
            }
            if self.script:
                row.update(
                    self.audit(created),
                    root_id=self.script_root(root, instance_id),
                    completed=0,
                    notes=None,
                    data=None,
                )
            self.w.add("activity_instances", row)
            for m in range(self.sizes["metrics_per_instance"]):
                value_id = self.uid()
                if self.rng.random() < rate:
                    metric_id = self.rng.choice(ghosts)
                    self.mark("metric_values_with_deleted_definition", value_id)
                else:
                    metric_id = metrics[m % len(metrics)]
                row = {
                    "id": value_id,
                    "activity_instance_id": instance_id,
                    "metric_definition_id": metric_id,
                    "value": round(self.rng.uniform(1, 200), 2),
                    "split_definition_id": self.rng.choice(splits)
                    if splits and self.rng.random() < 0.5
                    else None,
                }
                if self.script:
                    row.update(
                        root_id=self.script_root(root, value_id),
                        updated_at=None,
                        created_at=self.maybe_null(created or self.ts(), 0.3),
                    )
                self.w.add("metric_values", row)

    # -- the whole file --------------------------------------------------------------------------

    def run(self) -> None:
        fractals = self.sizes["fractals"]
        per_fractal = self.sizes["sessions_per_fractal"]
        first: tuple | None = None
        for fractal in range(fractals):
            root, short_terms = self.tree(fractal)
            activities, templates = self.definitions(root)
            self.program(root, templates)
            if first is None:
                first = (root, short_terms, activities, templates)
            for _ in range(per_fractal):
                if self.pre_sti:
                    session = self.session(root, None, activities, templates, kind="linked_only")
                    self.link(session, self.rng.choice(short_terms))
                elif self.rng.random() < 0.7:
                    parent = self.rng.choice(short_terms)
                    session = self.session(root, parent, activities, templates, kind="parented")
                    self.link(session, parent)
                else:
                    session = self.session(root, None, activities, templates, kind="linked_only")
                    for short_term in self.rng.sample(
                        short_terms, min(len(short_terms), self.rng.choice((1, 1, 2)))
                    ):
                        self.link(session, short_term)
        if first is None or per_fractal == 0 or self.pre_sti:
            return
        self.dirt_rows(*first, total_sessions=fractals * per_fractal)

    def dirt_rows(self, root, short_terms, activities, templates, *, total_sessions: int) -> None:
        # A fractal that was deleted, leaving its definitions and sessions behind.
        deleted_root = self.uid()
        deleted_activities, _ = self.definitions(deleted_root, deleted=True)
        for _ in range(max(1, round(total_sessions * 0.01))):
            session = self.session(deleted_root, None, deleted_activities, [], kind="unlinked")
            self.mark("sessions_of_deleted_fractal", session)
        # A session with no parent, no root and no link, with a whole chain of goals below.
        orphan = self.session(
            None, None, activities, [], stored_root="__own__", kind="unlinked", whole_chain=True
        )
        self.mark("session_without_anything", orphan)
        # A session whose template was deleted.
        missing = self.session(
            root, short_terms[0], activities, templates, template_id=self.uid(), kind="parented"
        )
        self.link(missing, short_terms[0])
        self.mark("session_with_missing_template", missing)
        if "linked_only" not in self.session_kinds_written:
            # A small file may have drawn no parentless session; every file holds goals under
            # each kind of session.
            linked = self.session(root, None, activities, templates, kind="linked_only")
            self.link(linked, short_terms[0])


def legacy_db_generate(
    *,
    path: Path,
    variant: str = "dev",
    fractals: int = 3,
    sessions_per_fractal: int = 20,
    instances_per_session: int = 3,
    metrics_per_instance: int = 4,
    seed: int = 1,
    deleted_metric_rate: float = 0.5,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> GeneratedLegacyDb:
    """Write a legacy database of `variant` at `path`; refuse to replace a file unless told to."""
    path = Path(path)
    if variant not in VARIANTS:
        raise LegacyGenerateError(
            f"Unknown variant '{variant}'. Choose one of: {', '.join(VARIANTS)}."
        )
    sizes = {
        "fractals": fractals,
        "sessions_per_fractal": sessions_per_fractal,
        "instances_per_session": instances_per_session,
        "metrics_per_instance": metrics_per_instance,
    }
    negative = [name for name, size in sizes.items() if size < 0]
    if negative:
        raise LegacyGenerateError(f"{', '.join(negative)} must be 0 or more.")
    if not 0 <= deleted_metric_rate <= 1:
        raise LegacyGenerateError("deleted_metric_rate must be between 0 and 1.")
    if path.exists() and not overwrite:
        raise LegacyGenerateError(
            f"{path} already exists; it was left unchanged. Choose another path, or pass "
            "--overwrite to replace it."
        )
    if not path.parent.is_dir():
        raise LegacyGenerateError(f"The folder {path.parent} does not exist. Create it first.")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    temporary.unlink(missing_ok=True)
    connection = sqlite3.connect(temporary, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.executescript(VARIANTS[variant].ddl)
        connection.execute("BEGIN")
        writer = _Writer(connection, progress)
        generator = _Generator(
            writer,
            random.Random(seed),  # noqa: S311 - reproducible test data, not secrets
            variant,
            deleted_metric_rate=deleted_metric_rate,
            **sizes,
        )
        generator.run()
        writer.flush_all()
        connection.execute("COMMIT")
        connection.execute("PRAGMA journal_mode=DELETE")
    except BaseException:
        connection.close()
        temporary.unlink(missing_ok=True)
        raise
    connection.close()
    os.replace(temporary, path)
    return GeneratedLegacyDb(
        path=path,
        variant=variant,
        row_counts=dict(writer.counts),
        dirt={kind: count for kind, count in generator.dirt.items() if count},
        dirt_ids={kind: ids for kind, ids in generator.dirt_ids.items() if ids},
        shapes={kind: count for kind, count in generator.shapes.items() if count},
        shape_ids={kind: ids for kind, ids in generator.shape_ids.items() if ids},
    )
