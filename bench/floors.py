"""Benchmark: the least each of `migrate`'s guarantees costs on SQLite, beside the plan script
measured in the same run: a floor under any design that keeps them.

    .venv/bin/python -m bench.floors --size 1m [--repeat 3]

The plan script (bench/plan_script.py) adds a root column, fills it with one UPDATE per table
and builds the 26 indexes. A design that keeps `migrate`'s guarantees does that work and, at the
least, what each guarantee costs when it is done by its smallest statement, each measured on its
own; what the plan script's lookups already find is not counted again:

- **foreign keys verified**: `migrate`'s own check over the migrated file, every key it
  declares, every row: each table's query (`violation_probes`, which leave out the lookups
  a wider key vouches for), or `PRAGMA foreign_key_check` where it has none (a design
  checking rows as it writes them makes the same lookups);
- **dangling references found**: one lookup per row for each reference the plan script's
  UPDATEs do not follow (a missing metric definition, split, activity, template...). Those it
  follows (a goal's parent, an instance's session, a value's instance, a definition's
  activity) are found by its own lookups at no cost, and are measured only to show it;
- **the root rule's keys**: the `(id, root_id)` unique indexes its composite foreign keys point
  to, built on the migrated file;
- **audit stamps**: what writing `created_at` and `updated_at` into every metric value and
  activity instance adds to the plan script's UPDATE of its root (the two UPDATEs, on two copies
  given the same columns);
- **a verified backup**: the original left untouched as the backup, read once for its sha256,
  and its tables' rows counted (the one-pass design's own check; `migrate` copies the file
  instead);
- **Django**: its start, `manage.py showmigrations` (settings, apps, the migration graph), less
  a bare Python start (the plan script's start is in its own time).

Not counted, so the floor is lower than any real design's: the repairs' records and the records
that let going back refuse to lose writes, the placeholders' own rows, the checks that refuse a
bad file before anything changes, the legacy rules' derivation of roots beyond the plan's walk,
NOT NULL and CHECK constraints checked, and every commit but the plan script's.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
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
    migrated_copy,
    positive,
    row_counts,
    run_measured,
    save,
)
from goals_project.bases.foreign_keys import violation_probes
from goals_project.maintenance.db_tuning import BULK_PRAGMAS

# The references the plan script's UPDATEs follow to fill the root: their lookups find a
# missing row at no cost of their own (child table, column).
ON_THE_ROOTS_PATH = frozenset(
    {
        ("goals", "parent_id"),
        ("activity_instances", "practice_session_id"),
        ("metric_values", "activity_instance_id"),
        ("metric_definitions", "activity_id"),
        ("split_definitions", "activity_id"),
        ("practice_session_goals", "practice_session_id"),
        ("practice_session_goals", "short_term_goal_id"),
    }
)
# Columns that are not legacy references: the roots (filled, then checked with the keys) and
# the owner of a fractal (added empty).
NOT_LEGACY = frozenset({"root_id", "owner_id"})
STAMPED = ("metric_values", "activity_instances")
FLOORS = (
    "foreign keys verified",
    "dangling references found",
    "the root rule's keys",
    "audit stamps",
    "a verified backup",
    "Django",
)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=list(SIZES), default="smoke", help="Data size.")
    parser.add_argument("--repeat", type=positive, default=3, help="Runs of each (median).")
    options = parser.parse_args(argv)
    legacy = legacy_file(options.size)
    migrated = migrated_copy(legacy, f"migrated_{options.size}.db")
    statements = _plan_statements(legacy)
    runs: dict[str, list[float]] = {name: [] for name in ("plan_script", *FLOORS)}
    references: dict[str, list[float]] = {}
    on_path: dict[str, list[float]] = {}
    for number in range(1, options.repeat + 1):
        log(f"run {number}/{options.repeat}: the plan script (raw SQL)")
        plan = fresh_copy(legacy, "floors_plan.db")
        runs["plan_script"].append(
            run_measured(
                [PYTHON, "-m", "bench.raw_sql", f"sqlite:///{plan}", str(statements)], os.environ
            ).seconds
        )
        log(f"run {number}/{options.repeat}: the floors")
        checked = _foreign_keys_verified(fresh_copy(migrated, "floors_migrated.db"))
        runs["foreign keys verified"].append(checked)
        found, followed = _dangling_references(fresh_copy(legacy, "floors_legacy.db"), migrated)
        runs["dangling references found"].append(sum(found.values()))
        for name, seconds in found.items():
            references.setdefault(name, []).append(seconds)
        for name, seconds in followed.items():
            on_path.setdefault(name, []).append(seconds)
        runs["the root rule's keys"].append(_keys(fresh_copy(migrated, "floors_migrated.db")))
        runs["audit stamps"].append(_audit_stamps(legacy, migrated))
        runs["a verified backup"].append(_verified_backup(fresh_copy(legacy, "floors_legacy.db")))
        runs["Django"].append(_django(fresh_copy(migrated, "floors_migrated.db")))
    for leftover in WORK.glob("floors_*"):
        leftover.unlink()
    medians = {name: statistics.median(seconds) for name, seconds in runs.items()}
    floors = {name: medians[name] for name in FLOORS}
    floor = medians["plan_script"] + sum(floors.values())
    results = {
        "repeat": options.repeat,
        "plan_script": {"seconds": medians["plan_script"], "runs": runs["plan_script"]},
        "floors": floors,
        "runs": {name: runs[name] for name in FLOORS},
        "references": {name: statistics.median(s) for name, s in references.items()},
        "on_the_roots_path": {name: statistics.median(s) for name, s in on_path.items()},
        "floor_seconds": floor,
        "floor_ratio": floor / medians["plan_script"],
        "rows": row_counts(legacy),
    }
    log(
        f"plan script {medians['plan_script']:.2f} s; with the floors {floor:.2f} s, "
        f"{results['floor_ratio']:.2f}x"
    )
    save("floors", "sqlite", options.size, results)
    return results


def _plan_statements(legacy: Path) -> Path:
    """The plan script's SQL for this file, written by Django (bench.migrate's own)."""
    from bench.migrate import _statements

    target = WORK / "floors_plan_statements.json"
    url = f"sqlite:///{fresh_copy(legacy, 'floors_statements.db')}"
    target.write_text(json.dumps(_statements(url)["plan_script"]))
    return target


@contextlib.contextmanager
def _connection(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection with `migrate`'s settings, in autocommit mode (the statements open their
    own transactions)."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma, value in BULK_PRAGMAS.items():
            connection.execute(f"PRAGMA {pragma} = {value}")
        yield connection
    finally:
        connection.close()


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _foreign_keys_verified(path: Path) -> float:
    with _connection(path) as connection:
        cursor = connection.cursor()
        tables = [
            name
            for (name,) in cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
        ]
        probes = violation_probes(cursor, tables)
        checks = [probes[table] or f'PRAGMA foreign_key_check("{table}")' for table in tables]
        seconds = _timed(lambda: [cursor.execute(check).fetchall() for check in checks])
        if any(cursor.execute(check).fetchone() is not None for check in checks):
            raise SystemExit(f"{path}: a foreign key points nowhere; the floor means nothing")
    return seconds


def _references(migrated: Path, legacy: sqlite3.Connection) -> list[tuple[str, str, str, str]]:
    """The single-column foreign keys of the migrated file whose column and parent the legacy
    file has: (child table, column, parent table, parent column)."""
    present = {
        table: {row[1] for row in legacy.execute(f'PRAGMA table_info("{table}")')}
        for (table,) in legacy.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    found = []
    with contextlib.closing(sqlite3.connect(f"file:{migrated}?mode=ro", uri=True)) as final:
        for table in sorted(present):
            keys: dict[int, list[tuple]] = {}
            for row in final.execute(f'PRAGMA foreign_key_list("{table}")'):
                keys.setdefault(row[0], []).append(row)
            for (row,) in (rows for rows in keys.values() if len(rows) == 1):
                parent, column, to = row[2], row[3], row[4] or "id"
                if column in NOT_LEGACY or column not in present[table]:
                    continue
                if parent in present and to in present[parent]:
                    found.append((table, column, parent, to))
    return found


def _dangling_references(path: Path, migrated: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds to count the rows pointing nowhere, per reference: those the plan script's
    UPDATEs do not follow, and those they do. Compared as text, as after adoption: a legacy
    column declared `STRING` has numeric affinity, and SQLite will not look such a value up in
    a text key's index (a scan of the parent table for each row)."""
    found: dict[str, float] = {}
    followed: dict[str, float] = {}
    with _connection(path) as connection:
        for table, column, parent, to in _references(migrated, connection):
            sql = (
                f'SELECT COUNT(*) FROM "{table}" c WHERE c."{column}" IS NOT NULL AND NOT EXISTS '
                f'(SELECT 1 FROM "{parent}" p WHERE p."{to}" = CAST(c."{column}" AS TEXT))'
            )
            into = followed if (table, column) in ON_THE_ROOTS_PATH else found
            into[f"{table}.{column}"] = _timed(lambda sql=sql: connection.execute(sql).fetchone())
    return found, followed


def _keys(path: Path) -> float:
    with _connection(path) as connection:
        keys = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name LIKE '%_root_key'"
        ).fetchall()
        if not keys:
            raise SystemExit(f"{path} has no root keys: migrate it with this code")
        connection.execute("PRAGMA foreign_keys = OFF")
        for name, _ in keys:
            connection.execute(f'DROP INDEX "{name}"')
        return sum(_timed(lambda sql=sql: connection.execute(sql)) for _, sql in keys)


def _audit_stamps(legacy: Path, migrated: Path) -> float:
    """The UPDATE of each stamped table's root and stamps, less that of its root alone, on two
    copies with the same columns added; each row's values from the migrated file, attached."""
    seconds = {}
    for way in ("root", "root and stamps"):
        path = fresh_copy(legacy, "floors_stamps.db")
        with _connection(path) as connection:
            connection.execute(f"ATTACH DATABASE 'file:{migrated}?mode=ro' AS final")
            total = 0.0
            for table in STAMPED:
                present = {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}
                for column in ("root_id", "created_at", "updated_at"):
                    if column not in present:
                        connection.execute(f'ALTER TABLE "{table}" ADD COLUMN "{column}"')
                columns = ["root_id"] if way == "root" else ["root_id", "created_at", "updated_at"]
                sets = ", ".join(f'"{column}" = f."{column}"' for column in columns)
                total += _timed(
                    lambda sets=sets, table=table: connection.execute(
                        f'UPDATE "{table}" AS t SET {sets} FROM final."{table}" f WHERE f.id = t.id'
                    )
                )
        seconds[way] = total
    return max(0.0, seconds["root and stamps"] - seconds["root"])


def _verified_backup(path: Path) -> float:
    def check() -> None:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        row_counts(path)

    return _timed(check)


def _django(path: Path) -> float:
    """Django's own start: `manage.py showmigrations` (settings, apps, the migration graph and
    the applied ones read), less a bare Python start."""
    django = run_measured(
        [PYTHON, str(ROOT / "manage.py"), "showmigrations", "--plan", "--verbosity", "0"],
        django_env(f"sqlite:///{path}"),
    ).seconds
    bare = run_measured([PYTHON, "-c", "import sqlite3"], os.environ).seconds
    return max(0.0, django - bare)


if __name__ == "__main__":
    main()
