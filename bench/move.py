"""Benchmark: `manage.py move_to_postgres` of a migrated SQLite file against bare COPY of the
same rows into the same tables, side by side in one run on one throw-away cluster.

    .venv/bin/python -m bench.move --size 1m [--repeat 3]

- **move**: the command as a child process on a fresh empty database: its read-only snapshot,
  the schema by the migrations, COPY of every table, sequences, foreign-key check and the
  verification of every value and of the root rule; wall time, peak RSS (wait4) and where the
  time goes (its `-v2` steps and rows, timed as they are printed).
- **bare COPY** (the baseline): the same tables made by the same migrations beforehand (not
  timed), then in one transaction every row of every table read from the SQLite file and sent
  through COPY with only the booleans converted (psycopg's own `write_row`), committed; nothing
  checked. Its time is that of the load alone; `schema` is the migrations' time, so the ratio
  against "schema + COPY" is the like-for-like one.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import statistics
import subprocess
import time
from pathlib import Path

import psycopg

from bench.common import (
    PYTHON,
    ROOT,
    SIZES,
    django_env,
    fresh_copy,
    legacy_file,
    log,
    migrated_copy,
    row_counts,
    run_measured,
    save,
)
from bench.postgres import _copy_table as copy_table
from bench.postgres import cluster, create_database

NOT_COPIED = ("sqlite_sequence", "django_migrations")
ROWS_LINE = re.compile(r"^  (\S+): \d+/\d+ rows$")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=list(SIZES), default="smoke", help="Data size.")
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each (median).")
    options = parser.parse_args(argv)
    migrated = _migrated(legacy_file(options.size), options.size)
    with cluster() as server:
        runs = [_one_run(server, migrated, number) for number in range(options.repeat)]
    results = {
        "runs": runs,
        "move_seconds": statistics.median(run["move_seconds"] for run in runs),
        "copy_seconds": statistics.median(run["copy_seconds"] for run in runs),
        "schema_seconds": statistics.median(run["schema_seconds"] for run in runs),
        "move_peak_rss_mb": max(run["move_peak_rss_mb"] for run in runs),
        "move_phases": {
            name: statistics.median(run["move_phases"].get(name, 0.0) for run in runs)
            for name in runs[0]["move_phases"]
        },
        "rows": row_counts(migrated),
    }
    results["ratio_to_copy"] = results["move_seconds"] / results["copy_seconds"]
    results["ratio_to_schema_and_copy"] = results["move_seconds"] / (
        results["copy_seconds"] + results["schema_seconds"]
    )
    log(
        f"move {results['move_seconds']:.1f}s, bare COPY {results['copy_seconds']:.1f}s "
        f"(+ schema {results['schema_seconds']:.1f}s): {results['ratio_to_copy']:.2f}x COPY, "
        f"{results['ratio_to_schema_and_copy']:.2f}x schema + COPY; peak RSS "
        f"{results['move_peak_rss_mb']:.0f} MB"
    )
    save("move", "postgresql", options.size, results)
    return results


def _migrated(legacy: Path, size: str) -> Path:
    """The legacy file migrated once for this code (the move's source), in one file."""
    return migrated_copy(legacy, f"migrated_{size}.db")


def _one_run(server: str, migrated: Path, number: int) -> dict:
    source = fresh_copy(migrated, "move_source.db")
    target = create_database(server, "bench_move")
    log(f"run {number + 1}: move_to_postgres")
    moved = run_measured(
        [PYTHON, str(ROOT / "manage.py"), "move_to_postgres", target, "--verbosity", "2"],
        django_env(f"sqlite:///{source}"),
    )
    baseline = create_database(server, "bench_copy")
    log(f"run {number + 1}: schema, then bare COPY")
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 - our own manage.py
        [PYTHON, str(ROOT / "manage.py"), "migrate", "--no-backup", "--verbosity", "0"],
        check=True,
        cwd=ROOT,
        env=django_env(baseline),
        capture_output=True,
    )
    schema = time.perf_counter() - started
    copy = _bare_copy(source, baseline)
    return {
        "move_seconds": moved.seconds,
        "move_peak_rss_mb": moved.peak_rss_mb,
        "move_phases": _phases(moved.lines, moved.seconds),
        "copy_seconds": copy,
        "schema_seconds": schema,
    }


def _phases(lines: list[tuple[float, str]], seconds: float) -> dict[str, float]:
    """Seconds from each step or table's first line to the next step's (the start-up before the
    first line is `start`; `Committed` runs to the end: the summary and the exit)."""
    marks: list[tuple[float, str]] = [(0.0, "start")]
    for at, line in lines:
        if marks[-1][1] == "Committed":
            break
        rows = ROWS_LINE.match(line)
        if rows:
            name = f"copy {rows.group(1)}"
        elif line.startswith("  ") and not line.startswith("   ") and ":" not in line:
            name = line.strip()
        else:
            continue
        if name != marks[-1][1]:
            marks.append((at, name))
    phases: dict[str, float] = {}
    for (at, name), (until, _) in zip(marks, [*marks[1:], (seconds, "")], strict=True):
        phases[name] = phases.get(name, 0.0) + until - at
    return phases


def _bare_copy(source: Path, url: str) -> float:
    """Every row into the migrated tables with COPY, in one transaction; the seconds it took."""
    started = time.perf_counter()
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        tables = [
            name
            for (name,) in reader.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
            if name not in NOT_COPIED
        ]
        with psycopg.connect(url) as connection:
            connection.execute("SET CONSTRAINTS ALL DEFERRED")
            quoted = ", ".join(f'"{table}"' for table in tables)
            connection.execute(f"TRUNCATE {quoted}")  # the migrations' own repair records
            for table in tables:
                copy_table(reader, connection, table)
    finally:
        reader.close()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
