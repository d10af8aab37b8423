"""Benchmark: the one-pass design (the migrated database written into a new file, each table once,
the original left as the backup), measured on the table whose rewrite it is about.

    .venv/bin/python -m bench.one_pass --size 1m [--repeat 3] [--cache-mib 32]

`metric_values` holds seven in ten of a legacy file's rows and most of `migrate`'s time. Three
ways bring it to its final shape, on copies of the same file, in turns, each in one transaction
with `migrate`'s settings (BULK_PRAGMAS, on every attached file as well):

- **in place**, what `migrate` did until it wrote the values anew under their own table
  (`table_rewrite.sqlite_rewrite`, docs/benchmarks.md, sixteenth round): `ALTER TABLE ... ADD
  COLUMN` for the columns the legacy table lacks, one `UPDATE ... FROM` writing every row's root
  and audit stamps (the plan script's own pass, which writes the root alone), the final
  definition written into the schema and checked by `PRAGMA quick_check`
  (goals_project.maintenance.migration_operations), then the table's four indexes, in the file
  itself, with the rollback journal `migrate` needs;
- **written once**, the one-pass design: a new file, the table created in its final definition,
  one `INSERT ... SELECT` from the legacy file writing each row in its final shape, the same four
  indexes. The new file needs no journal (a crash loses only a file nobody uses yet) and gets one
  fsync at the end;
- **written once, in key order**: the same, the rows inserted in the order of their primary key
  (`ORDER BY id`), so that its index grows at one end instead of taking random UUIDs.

All take each row's root and stamps from the same migrated copy of the file (attached), so all
do the same lookups, and each must end with every legacy row, every column equal to the migrated
copy's, its definition and its indexes (checked after every run, outside the time).
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
    SIZES,
    WORK,
    fresh_copy,
    legacy_file,
    log,
    migrated_copy,
    positive,
    save,
)
from goals_project.maintenance.db_tuning import BULK_CACHE_KIB, BULK_PRAGMAS
from goals_project.maintenance.migration_operations import replace_definition

TABLE = "metric_values"
INSTANCES = "activity_instances"
# What each column the legacy table lacks holds once migrated: the root and stamps of the row's
# activity instance (the backfill's rule; the migrated instance has both).
DERIVED = {"root_id": "i.root_id", "created_at": "i.created_at", "updated_at": "i.created_at"}
WAYS = ("in_place", "written_once", "written_once_in_key_order")
PHASES = ("columns and rows", "definition", "indexes", "commit")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=list(SIZES), default="smoke", help="Data size.")
    parser.add_argument("--repeat", type=positive, default=3, help="Runs of each (median).")
    parser.add_argument(
        "--cache-mib",
        type=positive,
        default=BULK_CACHE_KIB // 1024,
        help="SQLite page cache of every way, in MiB (default: migrate's).",
    )
    options = parser.parse_args(argv)
    legacy = legacy_file(options.size)
    migrated = _migrated(legacy, options.size)
    cache_kib = options.cache_mib * 1024
    runs: dict[str, list[dict[str, float]]] = {way: [] for way in WAYS}
    try:
        for number in range(1, options.repeat + 1):
            shift = (number - 1) % len(WAYS)
            for way in WAYS[shift:] + WAYS[:shift]:
                log(f"run {number}/{options.repeat}: {TABLE} {way.replace('_', ' ')}")
                target = WORK / f"one_pass_{way}.db"
                runs[way].append(MEASURES[way](legacy, migrated, target, cache_kib))
                _same_rows(legacy, migrated, target)
    finally:
        for way in WAYS:
            _remove(WORK / f"one_pass_{way}.db")
    results = {
        "repeat": options.repeat,
        "cache_mib": options.cache_mib,
        "rows": _count(legacy, TABLE),
        **{way: _summary(measured) for way, measured in runs.items()},
    }
    for way in WAYS[1:]:
        results[f"{way}_ratio"] = results[way]["seconds"] / results["in_place"]["seconds"]
    save("one_pass", "sqlite", options.size, results)
    return results


def _remove(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _migrated(legacy: Path, size: str) -> Path:
    """The source of every row's root and stamps, and of the table's final definition."""
    return migrated_copy(legacy, f"one_pass_migrated_{size}.db")


def _connect(path: Path, cache_kib: int, **attached: Path) -> sqlite3.Connection:
    """A connection with `migrate`'s settings, on `path` and on each file attached (read only)."""
    connection = sqlite3.connect(f"file:{path}", uri=True, isolation_level=None)
    connection.execute("PRAGMA foreign_keys = OFF")
    for schema, source in attached.items():
        connection.execute(f"ATTACH DATABASE 'file:{source}?mode=ro' AS {schema}")
    settings = {**BULK_PRAGMAS, "cache_size": f"-{cache_kib}"}
    for pragma, value in settings.items():  # main's, and those naming their schema (temp)
        connection.execute(f"PRAGMA {pragma} = {value}")
    for schema in attached:
        for pragma, value in settings.items():
            if "." not in pragma:
                connection.execute(f"PRAGMA {schema}.{pragma} = {value}")
    return connection


def _read(path: Path, sql: str, params=()) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as source:
        return source.execute(sql, params).fetchall()


def _definition(migrated: Path) -> tuple[str, list[str], list[str]]:
    """The final table's CREATE TABLE, its columns, and its index builds, from the migrated copy."""
    ((create,),) = _read(
        migrated, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [TABLE]
    )
    columns = [row[1] for row in _read(migrated, f'PRAGMA table_info("{TABLE}")')]
    indexes = [
        sql
        for (sql,) in _read(
            migrated,
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL ORDER BY name",
            [TABLE],
        )
    ]
    return create, columns, indexes


def _in_place(legacy: Path, migrated: Path, target: Path, cache_kib: int) -> dict[str, float]:
    create, columns, indexes = _definition(migrated)
    kept = {row[1] for row in _read(legacy, f'PRAGMA table_info("{TABLE}")')}
    types = {row[1]: row[2] for row in _read(migrated, f'PRAGMA table_info("{TABLE}")')}
    added = [column for column in columns if column not in kept]  # in the final order
    _remove(target)
    fresh_copy(legacy, target.name)
    with open(target, "rb+") as copy:  # the copy's own writes are not the way's
        os.fsync(copy.fileno())
    phases = dict.fromkeys(PHASES, 0.0)
    connection = _connect(target, cache_kib, m=migrated)
    try:
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
        start = time.perf_counter()
        # What migrate's alter_constraints_in_place does once it has compared the definitions:
        # the added columns, NOT NULL in the final definition, searched for a NULL (it adds no
        # CHECK to this table).
        problems = replace_definition(connection.cursor(), TABLE, create, not_null=sorted(added))
        if problems != ["ok"]:
            raise RuntimeError(f"{target.name}: {TABLE} breaks its definition: {problems[:3]}")
        phases["definition"] = time.perf_counter() - start
        phases["indexes"] = _indexes(connection, indexes)
        phases["commit"] = _commit(connection)
    finally:
        connection.close()
    return phases


def _written_once(
    legacy: Path, migrated: Path, target: Path, cache_kib: int, *, order: str = ""
) -> dict[str, float]:
    create, columns, indexes = _definition(migrated)
    kept = {row[1] for row in _read(legacy, f'PRAGMA table_info("{TABLE}")')}
    values = ", ".join(f'v."{column}"' if column in kept else DERIVED[column] for column in columns)
    names = ", ".join(f'"{column}"' for column in columns)
    _remove(target)
    phases = dict.fromkeys(PHASES, 0.0)
    connection = _connect(target, cache_kib, old=legacy, m=migrated)
    try:
        connection.execute("PRAGMA main.journal_mode = OFF")
        connection.execute("PRAGMA main.synchronous = OFF")
        start = time.perf_counter()
        connection.execute("BEGIN")
        connection.execute(create)
        connection.execute(
            f'INSERT INTO main."{TABLE}" ({names}) SELECT {values} FROM old."{TABLE}" AS v '
            f'JOIN m."{INSTANCES}" AS i ON i.id = v.activity_instance_id {order}'
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


def _written_once_in_key_order(
    legacy: Path, migrated: Path, target: Path, cache_kib: int
) -> dict[str, float]:
    return _written_once(legacy, migrated, target, cache_kib, order="ORDER BY v.id")


MEASURES = {
    "in_place": _in_place,
    "written_once": _written_once,
    "written_once_in_key_order": _written_once_in_key_order,
}


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
    """A way must end with the migrated copy's table: its definition, its indexes, every legacy
    row and every column of each as the migrated copy has it. A way that wrote less would look
    faster."""
    create, columns, indexes = _definition(migrated)
    names = ", ".join(f'"{column}"' for column in columns)
    with contextlib.closing(sqlite3.connect(f"file:{target}?mode=ro", uri=True)) as result:
        result.execute(f"ATTACH DATABASE 'file:{migrated}?mode=ro' AS m")
        ((written,),) = result.execute(f'SELECT COUNT(*) FROM main."{TABLE}"').fetchall()
        differ = sum(
            result.execute(
                f'SELECT COUNT(*) FROM (SELECT {names} FROM {one}."{TABLE}" '
                f'EXCEPT SELECT {names} FROM {other}."{TABLE}")'
            ).fetchone()[0]
            for one, other in (("main", "m"), ("m", "main"))
        )
        ((definition,),) = result.execute(
            "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = ?", [TABLE]
        ).fetchall()
        built = sorted(
            sql
            for (sql,) in result.execute(
                "SELECT sql FROM main.sqlite_master WHERE type = 'index' AND tbl_name = ? "
                "AND sql IS NOT NULL",
                [TABLE],
            )
        )
    expected = _count(legacy, TABLE)
    problems = []
    if written != expected or differ:
        problems.append(
            f"{written} rows of the legacy file's {expected}, {differ} unlike the migrated copy's"
        )
    if definition != create:
        problems.append("another definition than the migrated copy's")
    if built != sorted(indexes):
        problems.append(f"{len(built)} indexes where the migrated copy has {len(indexes)}")
    if problems:
        raise RuntimeError(f"{target.name}, {TABLE}: {'; '.join(problems)}")


def _count(path: Path, table: str) -> int:
    return _read(path, f'SELECT COUNT(*) FROM "{table}"')[0][0]


def _summary(runs: list[dict[str, float]]) -> dict:
    """The median run (the lower of the two middle ones for an even number), with its phases."""
    totals = [sum(phases.values()) for phases in runs]
    median = totals.index(statistics.median_low(totals))
    return {
        "seconds": totals[median],
        "runs": [round(total, 3) for total in totals],
        "phases": {name: round(seconds, 4) for name, seconds in runs[median].items()},
    }


if __name__ == "__main__":
    main()
