"""Kill a command at chosen steps, run the documented command again, and check what is left.

The command runs in a child (tests/reliability/crash_child.py) in a process group of its own,
killed with SIGKILL at its Nth step. A first run with nothing killed lists every step; the points
are chosen from that list, spread over the whole run, with extra ones inside the root_id backfill
and inside table rebuilds. Results are written as JSON (FRACTAL_RELIABILITY_RESULTS, default
var/reliability/) for tests/reliability/report.py, which writes docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.common import django_env

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("FRACTAL_RELIABILITY_RESULTS", ROOT / "var" / "reliability"))
TIMEOUT = 300
# Every point (`scripts/test --full`, which CI runs), or a few spread over each run (the default,
# so that the everyday test loop stays short).
FULL_SWEEP = os.environ.get("FRACTAL_CRASH_SWEEP", "quick") == "full"
QUICK_POINTS = 3


def sweep(points: list[int]) -> list[int]:
    """All the points in a full sweep; otherwise QUICK_POINTS of them, first and last included."""
    if FULL_SWEEP or len(points) <= QUICK_POINTS:
        return points
    last = len(points) - 1
    return sorted({points[round(k * last / (QUICK_POINTS - 1))] for k in range(QUICK_POINTS)})


@dataclass
class Target:
    """A database the commands run against, and how to put it back to its starting state."""

    backend: str
    url: str
    reset: Callable[[], None]
    workdir: Path

    def env(self, **extra: str) -> dict[str, str]:
        return django_env(self.url, FRACTAL_BACKUP_DIR=str(self.workdir / "backups"), **extra)


@dataclass
class Point:
    step: int
    phase: str
    label: str
    killed: bool = False
    checks: dict[str, bool] = field(default_factory=dict)
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.killed and all(self.checks.values())


def run(
    target: Target,
    argv: list[str],
    *,
    kill_at: int = 0,
    steps: Path | None = None,
    interrupt: bool = False,
):
    """The command in a child of its own process group; killed at step kill_at (0: never), or
    with `interrupt` given a Ctrl-C there."""
    env = target.env(FRACTAL_CRASH_AT=str(kill_at))
    if interrupt:
        env["FRACTAL_CRASH_SIGNAL"] = "INT"
    if steps is not None:
        env["FRACTAL_CRASH_STEPS"] = str(steps)
    return subprocess.run(  # noqa: S603 - this interpreter and the project's own module
        [sys.executable, "-m", "tests.reliability.crash_child", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        start_new_session=True,
        check=False,
    )


def manage(target: Target, argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - the project's manage.py
        [sys.executable, str(ROOT / "manage.py"), *argv],
        cwd=ROOT,
        env=target.env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def list_steps(target: Target, argv: list[str]) -> list[tuple[str, str]]:
    """(phase, label) of every step of an uninterrupted run, which must succeed."""
    target.reset()
    steps = target.workdir / "steps.txt"
    result = run(target, argv, steps=steps)
    if result.returncode != 0:
        raise AssertionError(f"the uninterrupted {argv[0]} failed:\n{result.stderr[-3000:]}")
    return [tuple(line.rstrip("\n").split("\t", 1)) for line in steps.read_text().splitlines()]


def choose(steps: list[tuple[str, str]], spread: int, inside: dict[str, Callable]) -> list[int]:
    """`spread` steps evenly over the run, plus 3 steps matching each named predicate."""
    total = len(steps)
    chosen = {round(1 + index * (total - 1) / max(spread - 1, 1)) for index in range(spread)}
    for predicate in inside.values():
        matching = [number for number, step in enumerate(steps, 1) if predicate(*step)]
        if matching:
            chosen.update(matching[len(matching) * k // 4] for k in (1, 2, 3))
    return sorted(chosen)


def crash_points(
    target: Target,
    argv: list[str],
    points: list[int],
    steps: list[tuple[str, str]],
    check: Callable[[Point], None],
) -> list[Point]:
    """Kill the command at each point, then let `check` run the recovery and record checks."""
    results = []
    for number in points:
        phase, label = steps[number - 1]
        point = Point(step=number, phase=phase, label=label[:90])
        target.reset()
        crashed = run(target, argv, kill_at=number)
        point.killed = crashed.returncode == -signal.SIGKILL
        if not point.killed:
            point.problem = f"exit {crashed.returncode}: {crashed.stderr[-500:]}"
        else:
            try:
                check(point)
            except Exception as error:  # recorded, then reported by the test
                point.checks["check ran"] = False
                point.problem = f"{type(error).__name__}: {error}"
        results.append(point)
    return results


def expect(point: Point, name: str, result: subprocess.CompletedProcess) -> None:
    point.checks[name] = result.returncode == 0
    if result.returncode != 0 and not point.problem:
        point.problem = f"{name} exited {result.returncode}: {result.stderr[-800:]}"


def save(backend: str, command: str, steps: int, points: list[Point]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{command}-{backend}.json"
    payload = {
        "backend": backend,
        "command": command,
        "steps": steps,
        "points": [{**asdict(point), "ok": point.ok} for point in points],
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def failures(points: list[Point]) -> list[str]:
    return [
        f"step {point.step} ({point.phase}: {point.label}): {point.problem or point.checks}"
        for point in points
        if not point.ok
    ]


def fresh_folder(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def sqlite_target(source: Path, workdir: Path) -> Target:
    """A copy of `source` that reset() puts back byte for byte, with an empty backup folder."""
    database = workdir / "goals.db"

    def reset() -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal", ".maintenance.lock"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(source, database)
        fresh_folder(workdir / "backups")

    return Target("sqlite", f"sqlite:///{database}", reset, workdir)


def postgres_target(server_url: str, template: str, workdir: Path) -> Target:
    """A database recreated from `template` by reset(), with an empty backup folder."""
    import psycopg

    from bench.postgres import database_url

    name = "crash_run"

    def reset() -> None:
        with psycopg.connect(server_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        fresh_folder(workdir / "backups")

    return Target("postgresql", database_url(server_url, name), reset, workdir)


def scratch(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
