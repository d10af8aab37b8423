"""The app keeps writing while backup_db and verify_root_ids run (SQLite and PostgreSQL).

A child process writes practice sessions, activity instances and metric values through the
models, one transaction each, without pause. Meanwhile backups are taken and verify_root_ids
runs over and over. Each backup must be verified and consistent (whole transactions only, root
ids right), verify_root_ids must pass every time, and the writer must never be held up for more
than a bounded time. Two maintenance jobs at once are in tests/goals/test_locking.py.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from goals_project.maintenance.backups import backup_read
from tests.reliability.harness import ROOT, Target, manage

# A writer kept waiting this long would be blocked, not slowed; WAL readers and PostgreSQL's
# MVCC mean a reader should never make it wait more than a few milliseconds.
MAX_WAIT_SECONDS = 2.0


@dataclass
class Written:
    sessions: int
    root_id: str
    slowest: float


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.sqlite_only),
        pytest.param("postgresql", marks=pytest.mark.postgresql_only),
    ]
)
def app_database(request, tmp_path):
    """A new, migrated database the writer and the commands share."""
    if request.param == "sqlite":
        target = Target("sqlite", f"sqlite:///{tmp_path / 'goals.db'}", lambda: None, tmp_path)
        assert manage(target, ["migrate", "--no-backup", "--verbosity", "0"]).returncode == 0
        yield target
        return
    import psycopg

    from bench.postgres import create_database, database_url

    server = database_url(os.environ["DATABASE_URL"], "postgres")
    target = Target(
        "postgresql", create_database(server, "concurrency_run"), lambda: None, tmp_path
    )
    assert manage(target, ["migrate", "--no-backup", "--verbosity", "0"]).returncode == 0
    yield target
    with psycopg.connect(server, autocommit=True) as connection:
        for name in ("concurrency_run", "concurrency_check"):
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _start_writer(target: Target) -> subprocess.Popen:
    """The writer, started and writing; it stops when _finish closes its standard input."""
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.app_writer"],
        cwd=ROOT,
        env=target.env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert json.loads(writer.stdout.readline()) == {"started": True}, writer.stderr.read()
    return writer


def _finish(writer: subprocess.Popen) -> Written:
    assert writer.poll() is None, writer.stderr.read()  # still writing when the commands ended
    out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    return Written(**json.loads(out.strip().splitlines()[-1]))


def test_backups_taken_while_the_app_writes_are_verified_and_consistent(app_database):
    target = app_database
    writer = _start_writer(target)
    try:
        for _ in range(2):
            result = manage(target, ["backup_db"])
            assert result.returncode == 0, result.stderr
    finally:
        written = _finish(writer)
    assert written.sessions > 0
    assert written.slowest < MAX_WAIT_SECONDS
    backups = [p for p in (target.workdir / "backups").iterdir() if p.suffix != ".json"]
    assert len(backups) == 2
    for path in backups:
        checked = backup_read(path, deep=True)
        assert checked.verified, checked.problem
        copy = _open_backup(target, path)
        result = manage(copy, ["verify_root_ids"])
        assert result.returncode == 0, result.stdout + result.stderr
        counts = _writer_rows(copy, written.root_id)
        # Whole transactions only: every session has its instance and both of its values.
        assert counts["instances"] == counts["sessions"]
        assert counts["values"] == 2 * counts["sessions"]


def test_verify_root_ids_passes_and_never_blocks_the_writer(app_database):
    target = app_database
    writer = _start_writer(target)
    try:
        for _ in range(3):
            result = manage(target, ["verify_root_ids"])
            assert result.returncode == 0, result.stdout + result.stderr
    finally:
        written = _finish(writer)
    assert written.sessions > 0
    assert written.slowest < MAX_WAIT_SECONDS
    counts = _writer_rows(target, written.root_id)
    assert counts == {
        "sessions": written.sessions,
        "instances": written.sessions,
        "values": 2 * written.sessions,
        "wrong roots": 0,
    }


def _open_backup(target: Target, path: Path) -> Target:
    """A database holding the backup's contents, to run commands and queries against."""
    if target.backend == "sqlite":
        copy = target.workdir / f"check-{path.name}.db"
        copy.write_bytes(path.read_bytes())
        return Target("sqlite", f"sqlite:///{copy}", lambda: None, target.workdir)
    from bench.postgres import create_database, database_url
    from goals_project.maintenance.backups import _postgres_tool

    server = database_url(target.url, "postgres")
    url = create_database(server, "concurrency_check")
    restored = subprocess.run(  # noqa: S603 - PostgreSQL's own tool
        [_postgres_tool("pg_restore"), "--no-owner", "--dbname", url, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert restored.returncode == 0, restored.stderr
    return Target("postgresql", url, lambda: None, target.workdir)


def _writer_rows(target: Target, root_id: str) -> dict[str, int]:
    queries = {
        "sessions": "SELECT COUNT(*) FROM goals WHERE root_id = %s AND type = 'PracticeSession'",
        "instances": "SELECT COUNT(*) FROM activity_instances WHERE root_id = %s",
        "values": "SELECT COUNT(*) FROM metric_values WHERE root_id = %s",
        # Rows under the writer's sessions whose root_id is not the writer's fractal.
        "wrong roots": (
            "SELECT COUNT(*) FROM metric_values v JOIN activity_instances i "
            "ON i.id = v.activity_instance_id JOIN goals s ON s.id = i.practice_session_id "
            "WHERE s.parent_id IN (SELECT id FROM goals WHERE root_id = %s) "
            "AND (v.root_id <> s.root_id OR i.root_id <> s.root_id)"
        ),
    }
    if target.backend == "sqlite":
        connection = sqlite3.connect(target.url.removeprefix("sqlite:///"))
        try:
            return {
                name: connection.execute(sql.replace("%s", "?"), [root_id]).fetchone()[0]
                for name, sql in queries.items()
            }
        finally:
            connection.close()
    import psycopg

    with psycopg.connect(target.url) as connection:
        return {
            name: connection.execute(sql, [root_id]).fetchone()[0] for name, sql in queries.items()
        }
