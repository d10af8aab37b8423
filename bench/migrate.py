"""Benchmark: `manage.py migrate` from a legacy dev file to the final schema, then
`manage.py verify_root_ids`, each against two baselines run in the same invocation on copies of the
same data: the improvement plan's own script (bench/plan_script.py) and the raw-SQL baseline
(bench/raw_sql.py).

    .venv/bin/python -m bench.migrate --size 1m [--backend postgresql] [--repeat 3]

Each run is a child process: wall time from start to exit, peak RSS from the kernel (wait4), and
the time of each phase from the moment its line appears (the backup and the adoption, which
overlap, then every migration).
On PostgreSQL the RSS is the client's; the server's work shows in the time.
On SQLite one more run, instrumented (bench/work.py), gives migrate's time by kind of work.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import tempfile
from collections.abc import Iterator
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
    positive,
    row_counts,
    run_measured,
    save,
)
from bench.databases import django_setup
from bench.work import REST as WORK_REST

APPLYING = re.compile(r"Applying (\S+)\.\.\.")
# A migration that reports progress prints its OK on a line of its own.
APPLIED = re.compile(r"\bOK \((\d+\.\d+)s\)")
PHASE = re.compile(r"phase (\S+) (\d+\.\d+)$")
BACKUP_AND_ADOPTION = "backup and adoption"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=list(SIZES), default="smoke", help="Data size.")
    parser.add_argument(
        "--backend", choices=["sqlite", "postgresql"], default="sqlite", help="Database."
    )
    parser.add_argument("--repeat", type=positive, default=3, help="Runs of each (median).")
    options = parser.parse_args(argv)
    legacy = legacy_file(options.size)
    with _targets(options.backend, legacy) as fresh:
        results = _measure(fresh, options.repeat, by_kind=options.backend == "sqlite")
    results["rows"] = row_counts(legacy)
    save("migrate", options.backend, options.size, results)
    return results


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


def _measure(fresh, repeat: int, *, by_kind: bool) -> dict:
    """Each run measures the three ways on fresh copies, in an order that rotates from run to
    run so that a busy spell of the shared machine does not always fall on the same one."""
    files = {
        "plan_script": WORK / "plan_script_statements.json",
        "baseline": WORK / "baseline_statements.json",
    }
    runs: dict[str, list[Measured]] = {"plan_script": [], "baseline": [], "migrate": []}
    verify_runs: list[Measured] = []
    for way, statements in _statements(fresh("statements")).items():
        files[way].write_text(json.dumps(statements))
    for number in range(1, repeat + 1):
        order = list(runs)
        order = order[(number - 1) % 3 :] + order[: (number - 1) % 3]
        for way in order:
            url = fresh("migrate" if way == "migrate" else way)
            if way == "migrate":
                log(f"run {number}/{repeat}: manage.py migrate")
                with _backup_folder() as backups:
                    runs[way].append(
                        run_measured(
                            [PYTHON, str(ROOT / "manage.py"), "migrate", "--verbosity", "2"],
                            django_env(url, FRACTAL_BACKUP_DIR=str(backups)),
                        )
                    )
                log(f"run {number}/{repeat}: manage.py verify_root_ids")
                verify_runs.append(
                    run_measured(
                        [PYTHON, str(ROOT / "manage.py"), "verify_root_ids"], django_env(url)
                    )
                )
                continue
            log(f"run {number}/{repeat}: {way.replace('_', ' ')} (raw SQL)")
            runs[way].append(
                run_measured([PYTHON, "-m", "bench.raw_sql", url, str(files[way])], os.environ)
            )
    summaries = {way: _summary(measured) for way, measured in runs.items()}
    for way in ("plan_script", "baseline"):
        summaries[way]["phases"] = _baseline_phases(_median_run(runs[way]))
    migrate = summaries["migrate"]
    migrate["phases"] = _phases(_median_run(runs["migrate"]))
    verify = _summary(verify_runs)
    if by_kind:
        migrate["work"] = _work(fresh("work"))
    every = [run for measured in runs.values() for run in measured]
    return {
        "repeat": repeat,
        **summaries,
        "verify": verify,
        "migrate_ratio": migrate["seconds"] / summaries["baseline"]["seconds"],
        "plan_script_ratio": migrate["seconds"] / summaries["plan_script"]["seconds"],
        # On a busy machine a process waits for a core as well as working; the CPU seconds it
        # got are what its work cost (SQLite: all of it is in the process; PostgreSQL: not).
        "cpu_ratios": {
            way: statistics.median(run.cpu_seconds for run in runs["migrate"])
            / statistics.median(run.cpu_seconds for run in runs[way])
            for way in ("plan_script", "baseline")
        },
        "verify_ratio": verify["seconds"] / summaries["baseline"]["seconds"],
        "baseline_statements": sum(map(len, json.loads(files["baseline"].read_text()))),
        "plan_script_statements": sum(map(len, json.loads(files["plan_script"].read_text()))),
        "contention": {
            "load_before_median": round(statistics.median(r.load_before for r in every), 2),
            "load_before_max": round(max(r.load_before for r in every), 2),
            # A process alone on a core gets about one CPU second a wall second (less while it
            # waits on the disk); much less says other work took the cores.
            "cpu_per_wall_median": round(
                statistics.median(r.cpu_seconds / r.seconds for r in every), 2
            ),
        },
    }


@contextlib.contextmanager
def _backup_folder() -> Iterator[Path]:
    """A folder for the backup of one run of migrate, removed after the run (outside its
    time): one backup kept per run would fill the disk (300 MB each at 1m)."""
    folder = Path(tempfile.mkdtemp(dir=WORK, prefix="backups-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, onerror=_say_not_removed)


def _say_not_removed(_function, path: str, error) -> None:
    log(f"not removed: {path}: {error[1]}")


def _work(url: str) -> dict:
    """One more migrate, instrumented (bench/work.py): its time by kind of work."""
    log("one instrumented run: manage.py migrate by kind of work (bench/work.py)")
    with _backup_folder() as backups:
        run = run_measured(
            [PYTHON, "-m", "bench.work"], django_env(url, FRACTAL_BACKUP_DIR=str(backups))
        )
    # The last line that is a JSON object: a warning printed at exit may follow it.
    kinds = next(json.loads(line) for _, line in reversed(run.lines) if line.startswith("{"))
    # What the child did before bench.work's first line ran: the interpreter and its imports.
    kinds[WORK_REST] = kinds.get(WORK_REST, 0.0) + run.seconds - sum(kinds.values())
    return {"seconds": round(run.seconds, 3), "kinds": kinds}


def _statements(url: str) -> dict[str, list[list[str]]]:
    """The SQL of both baselines for this backend, written by Django in this process from an
    untouched copy of the data (read only), then let go."""
    django_setup(url)
    from django.db import connections

    from bench.plan_script import plan_statements
    from bench.raw_sql import baseline_statements

    try:
        return {
            "plan_script": plan_statements(connections["default"]),
            "baseline": baseline_statements(connections["default"]),
        }
    finally:
        connections.close_all()


def _summary(runs: list[Measured]) -> dict:
    return {
        "seconds": statistics.median(run.seconds for run in runs),
        "runs": [round(run.seconds, 3) for run in runs],
        "cpu_seconds": [round(run.cpu_seconds, 3) for run in runs],
        "load_before": [round(run.load_before, 2) for run in runs],
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
            # The backup is checked while the file is adopted: one phase, both overlapping.
            phases[BACKUP_AND_ADOPTION] = phases.pop("backup", 0.0) + at - last
            last = at
        if applying and (done := APPLIED.search(line)):
            phases[applying] = float(done.group(1))
            applying = None
            last = at
    phases["startup and the rest"] = run.seconds - sum(phases.values())
    return phases


def _baseline_phases(run: Measured) -> dict[str, float]:
    """Seconds per phase of a baseline, from the `phase <name> <seconds>` lines it prints."""
    phases = {}
    for _, line in run.lines:
        if found := PHASE.match(line):
            phases[found.group(1)] = float(found.group(2))
    phases["startup and the rest"] = run.seconds - sum(phases.values())
    return phases


if __name__ == "__main__":
    main()
