"""What every benchmark shares: the sizes, the generated data, child-process measurement, medians
and the JSON results that `bench/report.py` turns into docs/benchmarks.md.

Every figure is a ratio against a baseline measured in the same run on a copy of the same data,
because machines are noisy and only the comparison is meaningful.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("FRACTAL_BENCH_WORK", ROOT / "var" / "bench"))
RESULTS = ROOT / "docs" / "benchmarks"
PYTHON = sys.executable

# Legacy files by metric values (about: the generator adds its dirt on top). The 1m shape is the
# issue's: 100 fractals x 500 sessions x 5 activity instances x 4 metric values.
SIZES: dict[str, dict[str, int]] = {
    "smoke": {"fractals": 4, "sessions": 5, "activities": 2, "metrics": 2},
    "10k": {"fractals": 100, "sessions": 5, "activities": 5, "metrics": 4},
    "100k": {"fractals": 100, "sessions": 50, "activities": 5, "metrics": 4},
    "1m": {"fractals": 100, "sessions": 500, "activities": 5, "metrics": 4},
}
# Admin pages by number of goals (one activity with one value per session keeps files small).
ADMIN_SIZES: dict[str, dict[str, int]] = {
    "smoke": {"fractals": 2, "sessions": 10, "activities": 1, "metrics": 1},
    "1k": {"fractals": 10, "sessions": 88, "activities": 1, "metrics": 1},
    "100k": {"fractals": 200, "sessions": 488, "activities": 1, "metrics": 1},
}
SEED = 2026


def legacy_file(size: str, shapes: dict[str, dict[str, int]] = SIZES, prefix: str = "") -> Path:
    """The generated legacy dev file of a size, made once and reused (same seed, same file)."""
    shape = shapes[size]
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"legacy_{prefix}{size}.db"
    if not path.exists():
        log(f"generating {path.name} ({shape})")
        subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
            [
                PYTHON,
                str(ROOT / "manage.py"),
                "make_legacy_db",
                str(path),
                "--fractals",
                str(shape["fractals"]),
                "--sessions-per-fractal",
                str(shape["sessions"]),
                "--activities-per-session",
                str(shape["activities"]),
                "--metrics-per-activity",
                str(shape["metrics"]),
                "--seed",
                str(SEED),
                "--verbosity",
                "0",
            ],
            check=True,
            cwd=ROOT,
            env=django_env(f"sqlite:///{WORK / 'unused.db'}"),
        )
    return path


def row_counts(path: Path) -> dict[str, int]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            table: connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
            for table in sorted(tables)
        }
    finally:
        connection.close()


def fresh_copy(source: Path, name: str) -> Path:
    """A copy of `source` under the work folder, replacing an earlier one of the same name, on
    disk before it is returned: otherwise the first fsync of whatever runs on it next (a
    commit, a backup) waits for the copy's own pages to be written, and that run's time counts
    the copy."""
    target = WORK / name
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)
    os.sync()
    return target


# The code a migrated copy is made by: a cached copy made by other code is made again.
PRODUCT = ("goals", "sessions", "goals_project")


def _copy_key(legacy: Path) -> str:
    """What a migrated copy of `legacy` is made from: the file (size, time) and the code."""
    digest = hashlib.sha256()
    for folder in PRODUCT:
        for path in sorted((ROOT / folder).rglob("*.py")):
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    stat = legacy.stat()
    return f"{stat.st_size} {stat.st_mtime_ns} {digest.hexdigest()}"


def migrated_copy(legacy: Path, name: str) -> Path:
    """A copy of `legacy` taken through `manage.py migrate` under the work folder, made once for
    this file and this code and reused (the read benchmarks' and the one-pass comparison's).
    Left in rollback-journal mode: readers of a WAL file leave -wal and -shm files beside it."""
    migrated = WORK / name
    key_file = migrated.with_name(f"{migrated.name}.key")
    key = _copy_key(legacy)
    if migrated.exists() and key_file.exists() and key_file.read_text() == key:
        return migrated
    log(f"migrating a copy of {legacy.name} into {name}")
    key_file.unlink(missing_ok=True)
    building = fresh_copy(legacy, f"{name}.partial")
    try:
        run_measured(
            [PYTHON, str(ROOT / "manage.py"), "migrate", "--no-backup", "--verbosity", "0"],
            django_env(f"sqlite:///{building}"),
        )
        connection = sqlite3.connect(building)
        try:
            connection.execute("PRAGMA journal_mode = DELETE")
        finally:
            connection.close()
        building.replace(migrated)
    finally:
        for leftover in WORK.glob(f"{building.name}*"):  # its journal, its lock file
            leftover.unlink()
    key_file.write_text(key)
    return migrated


def django_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "goals_project.settings_dev",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@dataclass
class Measured:
    """A child process's wall time, peak resident memory, CPU time, the machine's load when it
    started and its output lines with their times."""

    seconds: float
    peak_rss_mb: float
    lines: list[tuple[float, str]] = field(default_factory=list)
    cpu_seconds: float = 0.0
    load_before: float = 0.0


def run_measured(argv: list[str], env: dict[str, str]) -> Measured:
    """Run a child to completion; its peak RSS comes from the kernel (wait4), not from sampling."""
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    child = subprocess.Popen(  # noqa: S603 - our own commands
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines = [(time.perf_counter() - start, line.rstrip("\n")) for line in child.stdout]
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stdout.close()
    if child.returncode != 0:
        tail = "\n".join(line for _, line in lines[-30:])
        raise RuntimeError(f"{' '.join(argv)} exited {child.returncode}:\n{tail}")
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(seconds, usage.ru_maxrss / 1024, lines, cpu, load_before)


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def save(kind: str, backend: str, size: str, data: dict) -> Path:
    """Write one run's results as docs/benchmarks/<kind>-<backend>-<size>.json."""
    directory = Path(os.environ.get("FRACTAL_BENCH_RESULTS", RESULTS))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{kind}-{backend}-{size}.json"
    payload = {"kind": kind, "backend": backend, "size": size, "machine": machine(), **data}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    log(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path


def positive(text: str) -> int:
    """argparse type: a whole number of 1 or more (runs, sizes of a cache)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)  # noqa: T201 - progress for people
