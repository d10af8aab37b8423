"""SIGKILL at any point of move_to_postgres, then the same command again.

After each kill the target holds nothing of ours or the whole verified copy (the rerun then
finds it, verifies it again and says so); the rerun finishes and verify_root_ids passes on the
target. A migrated source is byte for byte what it was. A legacy source goes through `migrate`
first (its own sweep, tests/reliability/test_crash.py, covers a kill inside it): after a kill
there the rerun finishes the migration and moves; after a kill in the move itself the file is
byte for byte what the migration left. Results go to var/reliability/ like the other sweeps
(tests/reliability/harness.py).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import psycopg
import pytest

from tests.conftest import file_sha256, postgres_objects
from tests.reliability.harness import (
    FULL_SWEEP,
    Point,
    Target,
    choose,
    crash_points,
    expect,
    failures,
    fresh_folder,
    list_steps,
    manage,
    save,
    sweep,
)

TARGET = "crash_move"
INSIDE = {
    "schema": lambda phase, label: phase == "move: schema",
    "copy": lambda phase, label: label == "file _copy_batch",
    "verify": lambda phase, label: phase == "move: verify",
    "sequences": lambda phase, label: "setval" in label,
}


def _checkpointed(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


@pytest.mark.postgresql_only
@pytest.mark.parametrize("state", ["migrated", "legacy"])
def test_move_to_postgres_survives_sigkill_at_every_point(make_legacy_db, tmp_path, state):
    from bench.postgres import database_url

    server = database_url(os.environ["DATABASE_URL"], "postgres")
    target_url = database_url(server, TARGET)
    legacy = make_legacy_db("dev")
    setup = tmp_path / "setup"
    setup.mkdir()
    migrated = setup / "goals.db"
    shutil.copyfile(legacy, migrated)
    if state == "migrated":
        prepare = Target("sqlite", f"sqlite:///{migrated}", lambda: None, setup)
        assert manage(prepare, ["migrate", "--no-backup", "--verbosity", "0"]).returncode == 0
        _checkpointed(migrated)
    workdir = tmp_path / "run"
    source = workdir / "goals.db"

    def reset() -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal", ".maintenance.lock"):
            Path(f"{source}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(migrated, source)
        fresh_folder(workdir / "backups")
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{TARGET}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{TARGET}"')

    target = Target("sqlite", f"sqlite:///{source}", reset, workdir)
    moved = Target("postgresql", target_url, lambda: None, workdir)
    argv = ["move_to_postgres", target_url, "--verbosity", "0"]
    expected_sha = file_sha256(migrated)
    steps = list_steps(target, argv)
    points = sweep(choose(steps, 16, INSIDE))

    def check(point: Point) -> None:
        in_move = point.phase.startswith("move: ")
        if state == "migrated":
            point.checks["source unchanged"] = file_sha256(source) == expected_sha
        elif in_move:
            _checkpointed(source)  # what the finished migration left, its WAL folded in
        at_kill = file_sha256(source)
        found = postgres_objects(target_url)
        rerun = manage(target, argv)
        expect(point, "move_to_postgres again", rerun)
        if found:
            # Something of ours is there: it must be the whole copy, found and verified again.
            point.checks["nothing or the whole verified copy"] = "already held" in rerun.stdout
            if "already held" not in rerun.stdout and not point.problem:
                point.problem = f"after the kill the target held {len(found)} objects, not the copy"
        else:
            point.checks["nothing or the whole verified copy"] = True
        expect(point, "verify_root_ids on the target", manage(moved, ["verify_root_ids"]))
        if state == "migrated":
            point.checks["source unchanged after the rerun"] = file_sha256(source) == expected_sha
        else:
            expect(point, "verify_root_ids on the source", manage(target, ["verify_root_ids"]))
            if in_move:
                point.checks["the move left the migrated source as it was"] = (
                    file_sha256(source) == at_kill
                )

    try:
        results = crash_points(target, argv, points, steps, check)
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{TARGET}" WITH (FORCE)')
    save("postgresql", f"move_to_postgres_{state}", len(steps), results)
    assert sum(point.killed for point in results) >= (20 if FULL_SWEEP else len(points))
    assert not failures(results), failures(results)
