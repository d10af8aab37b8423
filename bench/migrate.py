"""Benchmark: `manage.py migrate` from a legacy dev file to the final schema, then
`manage.py verify_root_ids`, each against the raw-SQL baseline (bench/raw_sql.py) run in the same
invocation on a copy of the same data.

    .venv/bin/python -m bench.migrate --size 1m [--backend postgresql] [--repeat 3]

Each run is a child process: wall time from start to exit, peak RSS from the kernel (wait4), and
the time of each phase from the moment its line appears (backup, adoption, every migration).
On PostgreSQL the RSS is the client's; the server's work shows in the time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
from pathlib import Path

from bench.common import (
    PYTHON,
    ROOT,
    SIZES,
    WORK,
    Measured,
    django_env,
    fresh_copy,
    legacy_file,
    log,
    row_counts,
    run_measured,
    save,
)
from bench.databases import django_setup

APPLYING = re.compile(r"Applying (\S+)\.\.\.")
# A migration that reports progress prints its OK on a line of its own.
APPLIED = re.compile(r"\bOK \((\d+\.\d+)s\)")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=list(SIZES), default="smoke", help="Data size.")
    parser.add_argument(
        "--backend", choices=["sqlite", "postgresql"], default="sqlite", help="Database."
    )
    parser.add_argument("--repeat", type=_positive, default=3, help="Runs of each (median).")
    options = parser.parse_args(argv)
    legacy = legacy_file(options.size)
    with _targets(options.backend, legacy) as fresh:
        results = _measure(fresh, options.repeat)
    results["rows"] = row_counts(legacy)
    save("migrate", options.backend, options.size, results)
    return results


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


@contextlib.contextmanager
def _targets(backend: str, legacy: Path):
    """Yields fresh(name) -> database URL of a new copy of the legacy data."""
    if backend == "sqlite":
        yield lambda name: f"sqlite:///{fresh_copy(legacy, f'{name}.db')}"
        return
    from bench.postgres import cluster, create_database, load_legacy

    with cluster() as server:
        load_legacy(server, "bench_legacy", legacy)
        yield lambda name: create_database(server, f"bench_{name}", template="bench_legacy")


def _measure(fresh, repeat: int) -> dict:
    statements_file = WORK / "baseline_statements.json"
    baseline_runs: list[Measured] = []
    migrate_runs: list[Measured] = []
    verify_runs: list[Measured] = []
    for number in range(1, repeat + 1):
        raw_url = fresh("raw")
        if number == 1:
            statements_file.write_text(json.dumps(_statements(raw_url)))
        log(f"run {number}/{repeat}: baseline (raw SQL)")
        baseline_runs.append(
            run_measured([PYTHON, "-m", "bench.raw_sql", raw_url, str(statements_file)], os.environ)
        )
        migrate_url = fresh("migrate")
        log(f"run {number}/{repeat}: manage.py migrate")
        migrate_runs.append(
            run_measured(
                [PYTHON, str(ROOT / "manage.py"), "migrate", "--verbosity", "2"],
                django_env(migrate_url, FRACTAL_BACKUP_DIR=str(WORK / "backups")),
            )
        )
        log(f"run {number}/{repeat}: manage.py verify_root_ids")
        verify_runs.append(
            run_measured(
                [PYTHON, str(ROOT / "manage.py"), "verify_root_ids"], django_env(migrate_url)
            )
        )
    baseline = _summary(baseline_runs)
    migrate = _summary(migrate_runs)
    verify = _summary(verify_runs)
    migrate["phases"] = _phases(_median_run(migrate_runs))
    return {
        "repeat": repeat,
        "baseline": baseline,
        "migrate": migrate,
        "verify": verify,
        "migrate_ratio": migrate["seconds"] / baseline["seconds"],
        "verify_ratio": verify["seconds"] / baseline["seconds"],
        "baseline_statements": len(json.loads(statements_file.read_text())),
    }


def _statements(url: str) -> list[str]:
    """The baseline SQL for this backend, written by Django in this process, then let go."""
    django_setup(url)
    from django.db import connections

    from bench.raw_sql import baseline_statements

    try:
        return baseline_statements(connections["default"])
    finally:
        connections.close_all()


def _summary(runs: list[Measured]) -> dict:
    return {
        "seconds": statistics.median(run.seconds for run in runs),
        "runs": [round(run.seconds, 3) for run in runs],
        "peak_rss_mb": round(max(run.peak_rss_mb for run in runs), 1),
    }


def _median_run(runs: list[Measured]) -> Measured:
    return sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]


def _phases(run: Measured) -> dict[str, float]:
    """Seconds per phase, from the time each phase's closing line appeared."""
    phases: dict[str, float] = {}
    last = 0.0
    applying = None
    for at, line in run.lines:
        if started := APPLYING.search(line):
            applying = started.group(1)
        if line.strip().startswith("verified backup"):
            phases["backup"] = at - last
            last = at
        elif line.startswith("Adopted legacy"):
            phases["adoption"] = at - last
            last = at
        if applying and (done := APPLIED.search(line)):
            phases[applying] = float(done.group(1))
            applying = None
            last = at
    phases["startup and the rest"] = run.seconds - sum(phases.values())
    return phases


if __name__ == "__main__":
    main()
