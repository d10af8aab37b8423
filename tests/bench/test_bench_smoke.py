"""The benchmark scripts at their smallest size, so they cannot rot; no timing is asserted.

What is asserted is what the scripts themselves promise: results for every measurement, the
selector and the hand-written SQL answering with the same rows, the plans naming the indexes the
migration built, and the report rendering every figure with its target.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.sqlite_only


@pytest.fixture(scope="module")
def bench_results(tmp_path_factory) -> Path:
    """Every bench script run once at the smoke size, results under a temporary folder."""
    base = tmp_path_factory.mktemp("bench")
    env = {
        **os.environ,
        "FRACTAL_BENCH_WORK": str(base / "work"),
        "FRACTAL_BENCH_RESULTS": str(base / "results"),
        "FRACTAL_BENCH_DOCUMENT": str(base / "benchmarks.md"),
    }
    env.pop("DATABASE_URL", None)
    for argv in (
        ["bench.migrate", "--size", "smoke", "--repeat", "1"],
        ["bench.queries", "--size", "smoke", "--min-seconds", "0"],
        ["bench.admin", "--sizes", "smoke", "1k", "--requests", "2"],
        ["bench.one_pass", "--size", "smoke", "--repeat", "2"],
        ["bench.floors", "--size", "smoke", "--repeat", "1"],
        ["bench.move", "--size", "smoke", "--repeat", "1"],  # on a throw-away cluster of its own
        ["bench.report"],
    ):
        subprocess.run(  # noqa: S603 - the project's own bench modules
            [sys.executable, "-m", *argv], cwd=ROOT, env=env, check=True, timeout=300
        )
    return base


def read(base: Path, name: str) -> dict:
    return json.loads((base / "results" / name).read_text())


def test_migrate_bench_measures_both_ways_and_every_migration(bench_results):
    migrate = read(bench_results, "migrate-sqlite-smoke.json")

    assert migrate["baseline"]["seconds"] > 0
    assert migrate["plan_script"]["seconds"] > 0
    assert migrate["migrate"]["seconds"] > 0
    assert migrate["verify"]["seconds"] > 0
    ratio = migrate["migrate"]["seconds"] / migrate["baseline"]["seconds"]
    assert migrate["migrate_ratio"] == pytest.approx(ratio)
    phases = migrate["migrate"]["phases"]
    assert {"backup and adoption", "goals.0004_backfill_root_ids"} <= set(phases)
    plan_ratio = migrate["migrate"]["seconds"] / migrate["plan_script"]["seconds"]
    assert migrate["plan_script_ratio"] == pytest.approx(plan_ratio)
    for way in ("plan_script", "baseline"):
        assert set(migrate[way]["phases"]) >= {"columns", "updates", "indexes"}
    # Both baselines build the plan's 26 indexes.
    assert migrate["baseline_statements"] >= 26
    assert migrate["plan_script_statements"] >= 26
    assert migrate["contention"]["cpu_per_wall_median"] > 0
    assert migrate["rows"]["metric_values"] > 0


def test_migrate_bench_says_where_the_time_goes_by_kind_of_work(bench_results):
    """The instrumented run names the work every migrate does, and counts no time twice: the
    rest (the run's time less every kind measured) is not negative."""
    work = read(bench_results, "migrate-sqlite-smoke.json")["migrate"]["work"]

    kinds = work["kinds"]
    assert all(seconds >= 0 for seconds in kinds.values()), kinds
    for kind in (
        "index builds (the plan's, the keys, the baseline's)",
        "foreign key checks",
        "table rebuilds (new table, copy, drop, rename)",
        "repair records (legacy_repairs)",
        "backfill: the goal tree's roots",
        "backward-safety records (digest)",
        "adoption",
        "commits",
    ):
        assert kinds[kind] > 0, kind
    # Taken on a thread while the file is checked: what is left is the wait for it, if any.
    assert "backup: the copy" in kinds
    # The report shows it where it shows the phases (100k and 1m).
    from bench.report import render

    shown = render([{**read(bench_results, "migrate-sqlite-smoke.json"), "size": "1m"}])
    assert "sqlite 1m, migrate by kind of work" in shown
    assert "| kind of work | seconds | share |" in shown


def test_one_pass_bench_measures_every_way_on_the_same_rows(bench_results):
    """Every way ran every time (the script fails a run whose table is not the migrated
    copy's), with its phases, and the report shows each beside the in-place way."""
    one_pass = read(bench_results, "one_pass-sqlite-smoke.json")

    assert one_pass["rows"] > 0
    for way in ("in_place", "written_once", "written_once_in_key_order"):
        assert len(one_pass[way]["runs"]) == 2
        assert round(one_pass[way]["seconds"], 3) in one_pass[way]["runs"]  # the median run
        assert set(one_pass[way]["phases"]) == {
            "columns and rows",
            "definition",
            "indexes",
            "commit",
        }
    assert one_pass["in_place"]["phases"]["definition"] > 0  # the in-place schema edit and check
    assert one_pass["written_once"]["phases"]["definition"] == 0  # part of its CREATE TABLE
    text = (bench_results / "benchmarks.md").read_text()
    assert "### metric_values in place or written once" in text
    for title in ("in place", "written once", "written once, in key order"):
        assert f"| smoke | {one_pass['rows']:,} | {title} |" in text


def test_floors_bench_measures_each_guarantee_beside_the_plan_script(bench_results):
    """Every floor is measured; the references the plan script's UPDATEs follow are shown
    apart and not counted; the floor is the plan script and the floors; the report shows it."""
    from bench.floors import FLOORS

    floors = read(bench_results, "floors-sqlite-smoke.json")

    assert list(floors["floors"]) == list(FLOORS)
    for name in ("foreign keys verified", "the root rule's keys", "a verified backup", "Django"):
        assert floors["floors"][name] > 0, name
    assert "metric_values.metric_definition_id" in floors["references"]
    assert "metric_values.split_definition_id" in floors["references"]
    assert "metric_values.activity_instance_id" in floors["on_the_roots_path"]
    assert "goals.parent_id" in floors["on_the_roots_path"]
    assert not set(floors["references"]) & set(floors["on_the_roots_path"])
    assert not any(name.endswith((".root_id", ".owner_id")) for name in floors["references"])
    total = floors["plan_script"]["seconds"] + sum(floors["floors"].values())
    assert floors["floor_seconds"] == pytest.approx(total)
    assert floors["floor_ratio"] == pytest.approx(
        total / floors["plan_script"]["seconds"], rel=0.01
    )
    text = (bench_results / "benchmarks.md").read_text()
    assert "### The least the guarantees cost (`bench/floors.py`)" in text
    assert f"| smoke | {floors['plan_script']['seconds']:.2f} |" in text


@pytest.fixture
def one_pass_files(tmp_path):
    """A legacy, a migrated and a result file of two rows each, the result as migrated."""
    import sqlite3

    schema = (
        "CREATE TABLE metric_values "
        "(id TEXT PRIMARY KEY, value REAL, root_id TEXT, created_at TEXT, updated_at TEXT)"
    )
    index = "CREATE INDEX idx_root ON metric_values (root_id)"
    files = [tmp_path / name for name in ("legacy.db", "migrated.db", "result.db")]
    for path in files:
        with contextlib.closing(sqlite3.connect(path)) as connection, connection:
            connection.execute(schema)
            connection.execute(index)
            connection.executemany(
                "INSERT INTO metric_values VALUES (?, ?, ?, '2025-06-01', '2025-06-02')",
                [("a", 1.0, "r1"), ("b", 2.0, "r2")],
            )
    return files


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("DELETE FROM metric_values WHERE id = 'b'", "1 rows of the legacy file's 2, 1 unlike"),
        ("UPDATE metric_values SET root_id = 'r1'", "2 rows of the legacy file's 2, 2 unlike"),
        ("UPDATE metric_values SET updated_at = NULL WHERE id = 'a'", "2 unlike"),
        ("UPDATE metric_values SET value = 3 WHERE id = 'a'", "2 unlike"),
        ("DROP INDEX idx_root", "0 indexes where the migrated copy has 1"),
        ("ALTER TABLE metric_values ADD COLUMN extra TEXT", "another definition"),
    ],
)
def test_one_pass_bench_refuses_a_way_that_wrote_another_table(one_pass_files, change, problem):
    """The check behind the comparison: a result that lost a row, gave one another root,
    stamp or value, or lacks an index or the definition, fails the run."""
    import sqlite3

    from bench import one_pass

    legacy, migrated, result = one_pass_files
    one_pass._same_rows(legacy, migrated, result)  # as migrated: accepted
    with contextlib.closing(sqlite3.connect(result)) as connection, connection:
        connection.execute(change)

    with pytest.raises(RuntimeError, match=problem):
        one_pass._same_rows(legacy, migrated, result)


def test_queries_bench_uses_the_plan_indexes(bench_results):
    queries = read(bench_results, "queries-sqlite-smoke.json")["queries"]

    assert set(queries) == {"analytics", "session_report", "progress"}
    expected = {
        "analytics": "idx_metric_values_root_metric",
        "session_report": "idx_activity_instances_root_date",
        "progress": "idx_goals_completed",
    }
    for name, index in expected.items():
        assert index in queries[name]["selector"]["indexes"], queries[name]["selector"]["plan"]
        assert queries[name]["selector"]["rows"] == queries[name]["hand_sql"]["rows"] > 0
        assert index not in queries[name]["legacy"]["indexes"]


def test_admin_bench_counts_queries_at_two_sizes(bench_results):
    admin = read(bench_results, "admin-sqlite-smoke-1k.json")

    small, large = admin["sizes"]["smoke"], admin["sizes"]["1k"]
    assert large["goals"] > small["goals"]
    for page, verdict in admin["pages"].items():
        assert small["pages"][page]["queries"] > 0
        assert verdict["same_queries"] == (
            small["pages"][page]["queries"] == large["pages"][page]["queries"]
        )


def test_move_bench_measures_the_move_beside_bare_copy_and_its_steps(bench_results):
    move = read(bench_results, "move-postgresql-smoke.json")

    assert move["move_seconds"] > 0 < move["copy_seconds"]
    assert move["ratio_to_copy"] == pytest.approx(move["move_seconds"] / move["copy_seconds"])
    assert move["move_peak_rss_mb"] > 0
    phases = move["move_phases"]
    assert {"copy metric_values", "Verifying every table, row and value", "Committed"} <= set(
        phases
    )
    assert sum(phases.values()) == pytest.approx(move["runs"][0]["move_seconds"], rel=0.05)


def test_report_renders_every_result_with_its_target(bench_results):
    text = (bench_results / "benchmarks.md").read_text()

    assert "### Migrate and verify_root_ids" in text
    assert "| migrate / plan script |" in text
    assert "| sqlite | smoke |" in text
    for query in ("analytics", "session_report", "progress"):
        assert f"| {query} |" in text
    assert "goals changelist" in text
    assert "### move_to_postgres against bare COPY" in text
    assert "idx_metric_values_root_metric" not in text  # plans are shown for the 1m size only


def test_a_migrated_copy_is_reused_only_for_the_same_file_and_code(tmp_path, monkeypatch):
    """The read benchmarks, the move and the one-pass comparison share cached migrated copies:
    one made from another legacy file or by other code is made again, and nothing of the
    building is left beside it."""
    import sqlite3

    from bench import common

    legacy = tmp_path / "legacy_x.db"
    with contextlib.closing(sqlite3.connect(legacy)) as connection, connection:
        connection.execute("CREATE TABLE goals (id TEXT PRIMARY KEY)")
    migrations = []

    def migrate(argv, env):
        building = env["DATABASE_URL"].removeprefix("sqlite:///")
        migrations.append(building)
        with contextlib.closing(sqlite3.connect(building)) as connection, connection:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("CREATE TABLE django_migrations (id INTEGER PRIMARY KEY)")
        (tmp_path / "work" / "migrated_x.db.partial.maintenance.lock").write_text("")

    monkeypatch.setattr(common, "WORK", tmp_path / "work")
    (tmp_path / "work").mkdir()
    monkeypatch.setattr(common, "run_measured", migrate)
    code = ["first"]
    real_key = common._copy_key
    monkeypatch.setattr(common, "_copy_key", lambda path: f"{real_key(path)} {code[0]}")

    copy = common.migrated_copy(legacy, "migrated_x.db")
    assert common.migrated_copy(legacy, "migrated_x.db") == copy
    assert len(migrations) == 1
    code[0] = "changed"
    common.migrated_copy(legacy, "migrated_x.db")
    assert len(migrations) == 2
    with contextlib.closing(sqlite3.connect(legacy)) as connection, connection:
        connection.execute("INSERT INTO goals VALUES ('a')")  # another legacy file
    common.migrated_copy(legacy, "migrated_x.db")
    assert len(migrations) == 3

    assert sorted(path.name for path in (tmp_path / "work").iterdir()) == [
        "migrated_x.db",
        "migrated_x.db.key",
    ]
    with contextlib.closing(sqlite3.connect(copy)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert connection.execute("SELECT COUNT(*) FROM django_migrations").fetchone() == (0,)
