"""Benchmark: the one-pass design (the migrated database written into a new file, each table once,
the original left as the backup), measured on the table whose rewrite it is about.

    .venv/bin/python -m bench.one_pass --size 1m [--repeat 3]

`metric_values` holds nine in ten of a legacy file's rows and most of `migrate`'s time. Two ways
bring it to its final shape, on copies of the same file, alternately, each in one transaction
with `migrate`'s page cache:

- **in place**, what `migrate` and the plan script both do: `ALTER TABLE ... ADD COLUMN` for
  the columns the legacy table lacks, one `UPDATE ... FROM` writing every row's root and audit
  stamps, then the table's four indexes, in the file itself (its rollback journal keeps the
  pages the update overwrites, as `migrate`'s must);
- **written once**, the one-pass design: a new file, the table created in its final definition
  (taken from a migrated copy), one `INSERT ... SELECT` from the legacy file writing each row in
  its final shape, then the same four indexes. The new file needs no journal, since a crash only
  loses a file nobody uses yet, and gets one fsync at the end.

Both take each row's root and stamps from the same migrated copy of the file (attached), so
both do the same lookups, and both end with the same rows, roots and stamps (checked after every
run). What differs is the writing: an in-place update rewrites each row's record in the table
and keeps the primary key's index as it is, while a new table inserts every key into a new
primary key index, in the random order of the legacy UUIDs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import statistics
import time
from pathlib import Path

from bench.common import (
    PYTHON,
    ROOT,
    SIZES,
    WORK,
    django_env,
    fresh_copy,
    legacy_file,
    log,
    run_measured,
    save,
)
from goals_project.maintenance.db_tuning import BULK_CACHE_KIB

TABLE = "metric_values"
INSTANCES = "activity_instances"
# What each column the legacy table lacks holds once migrated: the root and stamps of the row's
# activity instance (the backfill's rule; the migrated instance has both).
DERIVED = {"root_id": "i.root_id", "created_at": "i.created_at", "updated_at": "i.created_at"}
WAYS = ("in_place", "written_once")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=list(SIZES), default="smoke", help="Data size.")
    parser.add_argument("--repeat", type=_positive, default=3, help="Runs of each (median).")
    parser.add_argument(
        "--cache-mib",
        type=_positive,
        default=BULK_CACHE_KIB // 1024,
        help="SQLite page cache of both ways, in MiB (default: migrate's).",
    )
    options = parser.parse_args(argv)
    legacy = legacy_file(options.size)
    migrated = _migrated(legacy, options.size)
    runs: dict[str, list[dict[str, float]]] = {way: [] for way in WAYS}
    for number in range(1, options.repeat + 1):
        order = WAYS if number % 2 else WAYS[::-1]
        for way in order:
            log(f"run {number}/{options.repeat}: {TABLE} {way.replace('_', ' ')}")
            target = WORK / f"one_pass_{way}.db"
            runs[way].append(MEASURES[way](legacy, migrated, target, options.cache_mib * 1024))
            _same_rows(legacy, migrated, target)
        Path(WORK / "one_pass_in_place.db").unlink(missing_ok=True)
        Path(WORK / "one_pass_written_once.db").unlink(missing_ok=True)
    results = {
        "repeat": options.repeat,
        "cache_mib": options.cache_mib,
        "rows": _count(legacy, TABLE),
        **{way: _summary(measured) for way, measured in runs.items()},
    }
    results["ratio"] = results["written_once"]["seconds"] / results["in_place"]["seconds"]
    save("one_pass", "sqlite", options.size, results)
    return results


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _migrated(legacy: Path, size: str) -> Path:
    """A copy of the legacy file taken through `manage.py migrate`, made once per size: the
    source of every row's root and stamps, and of the table's final definition."""
    path = WORK / f"one_pass_migrated_{size}.db"
    if not path.exists() or path.stat().st_mtime < legacy.stat().st_mtime:
        log(f"migrating a copy of {legacy.name} (the roots both ways use)")
        building = fresh_copy(legacy, f"one_pass_migrating_{size}.db")
        run_measured(
            [PYTHON, str(ROOT / "manage.py"), "migrate", "--no-backup", "--verbosity", "0"],
            django_env(f"sqlite:///{building}"),
        )
        building.replace(path)
    return path


def _connect(path: Path, cache_kib: int) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute(f"PRAGMA cache_size = -{cache_kib}")
    connection.execute("PRAGMA foreign_keys = OFF")
    return connection


def _definition(migrated: Path) -> tuple[str, list[str], list[str]]:
    """The final table's CREATE TABLE, its columns, and its index builds, from the migrated copy."""
    with contextlib.closing(sqlite3.connect(f"file:{migrated}?mode=ro", uri=True)) as source:
        (create,) = source.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [TABLE]
        ).fetchone()
        columns = [row[1] for row in source.execute(f'PRAGMA table_info("{TABLE}")')]
        indexes = [
            sql
            for (sql,) in source.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                "AND sql IS NOT NULL ORDER BY name",
                [TABLE],
            )
        ]
    return create, columns, indexes


def _legacy_columns(legacy: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(f"file:{legacy}?mode=ro", uri=True)) as source:
        return [row[1] for row in source.execute(f'PRAGMA table_info("{TABLE}")')]


def _in_place(legacy: Path, migrated: Path, target: Path, cache_kib: int) -> dict[str, float]:
    _, columns, indexes = _definition(migrated)
    added = [column for column in columns if column not in _legacy_columns(legacy)]
    types = _column_types(migrated)
    fresh_copy(legacy, target.name)
    phases: dict[str, float] = {}
    connection = _connect(target, cache_kib)
    try:
        connection.execute("ATTACH DATABASE ? AS m", [f"file:{migrated}?mode=ro"])
        start = time.perf_counter()
        connection.execute("BEGIN")
        for column in added:
            connection.execute(f'ALTER TABLE "{TABLE}" ADD COLUMN "{column}" {types[column]} NULL')
        assignments = ", ".join(f'"{column}" = {DERIVED[column]}' for column in added)
        connection.execute(
            f'UPDATE "{TABLE}" AS v SET {assignments} FROM m."{INSTANCES}" AS i '
            "WHERE i.id = v.activity_instance_id"
        )
        phases["columns and rows"] = time.perf_counter() - start
        phases["indexes"] = _indexes(connection, indexes)
        phases["commit"] = _commit(connection)
    finally:
        connection.close()
    return phases


def _written_once(legacy: Path, migrated: Path, target: Path, cache_kib: int) -> dict[str, float]:
    create, columns, indexes = _definition(migrated)
    kept = set(_legacy_columns(legacy))
    values = ", ".join(f'v."{column}"' if column in kept else DERIVED[column] for column in columns)
    names = ", ".join(f'"{column}"' for column in columns)
    for suffix in ("", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    phases: dict[str, float] = {}
    connection = _connect(target, cache_kib)
    try:
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("ATTACH DATABASE ? AS old", [f"file:{legacy}?mode=ro"])
        connection.execute("ATTACH DATABASE ? AS m", [f"file:{migrated}?mode=ro"])
        start = time.perf_counter()
        connection.execute("BEGIN")
        connection.execute(create)
        connection.execute(
            f'INSERT INTO main."{TABLE}" ({names}) '
            f'SELECT {values} FROM old."{TABLE}" AS v '
            f'JOIN m."{INSTANCES}" AS i ON i.id = v.activity_instance_id'
        )
        phases["columns and rows"] = time.perf_counter() - start
        phases["indexes"] = _indexes(connection, indexes)
        phases["commit"] = _commit(connection)
        start = time.perf_counter()
        with open(target, "rb+") as written:  # synchronous = OFF: the design's one fsync
            os.fsync(written.fileno())
        phases["commit"] += time.perf_counter() - start
    finally:
        connection.close()
    return phases


MEASURES = {"in_place": _in_place, "written_once": _written_once}


def _column_types(migrated: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(f"file:{migrated}?mode=ro", uri=True)) as source:
        return {row[1]: row[2] for row in source.execute(f'PRAGMA table_info("{TABLE}")')}


def _indexes(connection: sqlite3.Connection, indexes: list[str]) -> float:
    start = time.perf_counter()
    for sql in indexes:
        connection.execute(sql)
    return time.perf_counter() - start


def _commit(connection: sqlite3.Connection) -> float:
    start = time.perf_counter()
    connection.execute("COMMIT")
    return time.perf_counter() - start


def _same_rows(legacy: Path, migrated: Path, target: Path) -> None:
    """Both ways must end with every legacy row, and with the root and stamps the migrated copy
    gives it: a way that wrote less would look faster."""
    columns = ("root_id", "created_at", "updated_at")
    with contextlib.closing(sqlite3.connect(f"file:{target}?mode=ro", uri=True)) as result:
        result.execute("ATTACH DATABASE ? AS m", [f"file:{migrated}?mode=ro"])
        written = result.execute(f'SELECT COUNT(*) FROM "{TABLE}"').fetchone()[0]
        agree = " AND ".join(f't."{column}" IS f."{column}"' for column in columns)
        same = result.execute(
            f'SELECT COUNT(*) FROM "{TABLE}" AS t JOIN m."{TABLE}" AS f USING (id) WHERE {agree}'
        ).fetchone()[0]
        indexes = result.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL",
            [TABLE],
        ).fetchone()[0]
    expected = _count(legacy, TABLE)
    if not written == same == expected or indexes != len(_definition(migrated)[2]):
        raise RuntimeError(
            f"{target.name}: {written} rows, {same} with the migrated roots and stamps, "
            f"{indexes} indexes; the legacy file has {expected} rows"
        )


def _count(path: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as source:
        return source.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]


def _summary(runs: list[dict[str, float]]) -> dict:
    totals = [sum(phases.values()) for phases in runs]
    median = sorted(range(len(runs)), key=lambda index: totals[index])[len(runs) // 2]
    return {
        "seconds": statistics.median(totals),
        "runs": [round(total, 3) for total in totals],
        "phases": {name: round(seconds, 3) for name, seconds in runs[median].items()},
    }


if __name__ == "__main__":
    main()
