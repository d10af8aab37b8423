"""SIGKILL at any point of migrate, backup_db and restore_db, then the documented command again.

- migrate: killed at 20+ steps (backup, adoption, the backfill, table rebuilds, tables written
  anew, indexes), then `manage.py migrate` again must finish, `verify_root_ids` must pass, and
  every row and value of the legacy file must be there (the database is taken back to the
  baseline and compared).
- backup_db: a killed backup never looks verified, and the next backup_db works.
- restore_db: a killed restore leaves the old database or the restored one, whole, never a mix
  or nothing; restore_db again finishes the job.

Each runs on SQLite and on PostgreSQL; the points and results go to var/reliability/ and from
there to docs/reliability.md (tests/reliability/report.py).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.db.migrations.loader import MigrationLoader

from goals_project.maintenance.backups import backup_read
from goals_project.maintenance.backward_safety import APPS
from tests.conftest import file_sha256
from tests.reliability.harness import (
    FULL_SWEEP,
    ROOT,
    Point,
    Target,
    choose,
    crash_points,
    expect,
    failures,
    list_steps,
    manage,
    postgres_target,
    run,
    save,
    sqlite_target,
    sweep,
)

MIGRATE = ["migrate", "--verbosity", "0"]
MARK = " (after backup)"
INSIDE = {
    "backup": lambda phase, label: phase == "backup",
    # The copy begun on its thread, with the checks still to run on the main one.
    "copy": lambda phase, label: label == "file _sqlite_copy",
    "adoption": lambda phase, label: phase == "adoption",
    "backfill": lambda phase, label: phase == "goals.0004_backfill_root_ids",
    "rebuild": lambda phase, label: '"new__' in label or label.startswith("sql ALTER TABLE"),
    # A table written anew (table_rewrite): its rows, the swap of its pages, the old ones dropped.
    "rewrite": lambda phase, label: (
        ("__rewritten" in label and "PRAGMA" not in label)
        or any(mark in label for mark in ("SET rootpage", "writable_schema = RESET"))
    ),
    "indexes": lambda phase, label: label.startswith("sql CREATE INDEX"),
    # Right after a migration's changes, before it is recorded as applied.
    "record": lambda phase, label: label.startswith('sql INSERT INTO "django_migrations"'),
}


# -- migrate ------------------------------------------------------------------------------------


def _crash_migrate(target: Target, legacy: Path) -> None:
    steps = list_steps(target, MIGRATE)
    points = sweep(choose(steps, 16, INSIDE))

    def check(point: Point) -> None:
        _backups_honest(point, target)
        if target.backend == "sqlite":
            _old_or_new(point, target, legacy)
        expect(point, "migrate again", manage(target, MIGRATE))
        expect(point, "verify_root_ids", manage(target, ["verify_root_ids"]))
        expect(point, "every legacy row and value", _check_legacy(target, legacy))

    results = crash_points(target, MIGRATE, points, steps, check)
    save(target.backend, "migrate", len(steps), results)
    assert sum(point.killed for point in results) >= (20 if FULL_SWEEP else len(points)), [
        p.step for p in results
    ]
    assert not failures(results), failures(results)


def _old_or_new(point: Point, target: Target, legacy: Path) -> None:
    """SQLite, where migrate with a backup is one transaction: once SQLite has rolled back what
    the kill cut off (`adopt_legacy_db --recover`, which does only that), the file is the
    legacy file byte for byte, or migrated to the end; never adopted or migrated in part."""
    expect(point, "recover", manage(target, ["adopt_legacy_db", "--recover"]))
    database = Path(target.url.removeprefix("sqlite:///"))
    if file_sha256(database) == file_sha256(legacy):
        found = "old"
    else:
        connection = sqlite3.connect(database)
        try:
            applied = {
                f"{app}.{name}"
                for app, name in connection.execute("SELECT app, name FROM django_migrations")
            }
        except sqlite3.Error as error:
            applied = {f"unreadable: {error}"}
        finally:
            connection.close()
        latest = _latest_migrations()
        found = "new" if applied >= latest else f"a mix ({len(latest - applied)} not applied)"
    point.checks["old or new, whole"] = found in ("old", "new")
    if found not in ("old", "new") and not point.problem:
        point.problem = f"after the kill and SQLite's rollback the database is {found}"


def _latest_migrations() -> set[str]:
    """The last migration of each of the project's apps, as app.name."""
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    return {f"{app}.{name}" for app, name in graph.leaf_nodes() if app in APPS}


def _check_legacy(target: Target, legacy: Path) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - this interpreter and the project's own module
        [sys.executable, "-m", "tests.reliability.check_legacy", str(legacy)],
        cwd=ROOT,
        env=target.env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _backups_honest(point: Point, target: Target) -> None:
    """Whatever a killed run left in the backup folder, nothing unsound passes as verified."""
    folder = target.workdir / "backups"
    for path in folder.iterdir() if folder.is_dir() else ():
        if path.suffix == ".json":
            continue
        if backup_read(path).verified and not backup_read(path, deep=True).verified:
            point.checks["no half backup looks verified"] = False
            point.problem = f"{path.name} looks verified but is not"
            return
    point.checks["no half backup looks verified"] = True


# -- backup_db ----------------------------------------------------------------------------------


def _crash_backup(target: Target) -> None:
    argv = ["backup_db"]
    steps = list_steps(target, argv)
    points = sweep(list(range(1, len(steps) + 1)))

    def check(point: Point) -> None:
        _backups_honest(point, target)
        expect(point, "backup_db again", manage(target, argv))
        verified = [
            path
            for path in (target.workdir / "backups").iterdir()
            if path.suffix != ".json" and backup_read(path, deep=True).verified
        ]
        point.checks["a verified backup after the rerun"] = bool(verified)

    results = crash_points(target, argv, points, steps, check)
    save(target.backend, "backup_db", len(steps), results)
    assert not failures(results), failures(results)


# -- restore_db ---------------------------------------------------------------------------------


def _crash_restore(target: Target, backup: Path, state: callable) -> None:
    """`state()` says "old", "new" or what else it found in the database."""
    argv = ["restore_db", str(backup), "--yes", "--dir", str(target.workdir / "safety")]
    steps = list_steps(target, argv)
    points = sweep(list(range(1, len(steps) + 1)))

    def check(point: Point) -> None:
        found = state()
        point.checks["old or new, whole"] = found in ("old", "new")
        if found not in ("old", "new"):
            point.problem = f"after the kill the database is {found}"
        expect(point, "restore_db again", manage(target, argv))
        point.checks["restored after the rerun"] = state() == "new"

    results = crash_points(target, argv, points, steps, check)
    save(target.backend, "restore_db", len(steps), results)
    assert not failures(results), failures(results)


def _state(names: list[str]) -> str:
    marked = sum(name.endswith(MARK) for name in names)
    if names and marked == len(names):
        return "old"
    if names and marked == 0:
        return "new"
    return f"a mix ({marked} of {len(names)} goals marked)" if names else "empty"


# -- SQLite -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_files(legacy_files, tmp_path_factory):
    """The legacy file, a migrated copy, a backup of it, and the copy changed after the backup;
    made once for the three tests, which work on copies."""
    tmp_path = tmp_path_factory.mktemp("crash-sqlite")
    legacy = legacy_files("dev")
    migrated = tmp_path / "migrated.db"
    migrated.write_bytes(legacy.read_bytes())
    setup = sqlite_target(migrated, tmp_path / "setup")
    setup.reset()
    assert manage(setup, ["migrate", "--no-backup", "--verbosity", "0"]).returncode == 0
    assert manage(setup, ["backup_db", "--dir", str(tmp_path / "kept")]).returncode == 0
    (backup,) = [p for p in (tmp_path / "kept").iterdir() if p.suffix != ".json"]
    database = Path(setup.url.removeprefix("sqlite:///"))
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    migrated.write_bytes(database.read_bytes())
    changed = tmp_path / "changed.db"
    changed.write_bytes(migrated.read_bytes())
    connection = sqlite3.connect(changed)
    connection.execute("UPDATE goals SET name = name || ?", [MARK])
    connection.commit()
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the copies are of the file alone
    connection.close()
    return legacy, migrated, backup, changed


@pytest.mark.sqlite_only
def test_migrate_survives_sigkill_at_every_point_on_sqlite(sqlite_files, tmp_path):
    legacy, *_ = sqlite_files
    _crash_migrate(sqlite_target(legacy, tmp_path / "run"), legacy)


@pytest.mark.sqlite_only
def test_backup_survives_sigkill_at_every_point_on_sqlite(sqlite_files, tmp_path):
    _, migrated, _, _ = sqlite_files
    _crash_backup(sqlite_target(migrated, tmp_path / "run"))


@pytest.mark.sqlite_only
def test_restore_survives_sigkill_at_every_point_on_sqlite(sqlite_files, tmp_path):
    _, _, backup, changed = sqlite_files
    target = sqlite_target(changed, tmp_path / "run")
    database = target.url.removeprefix("sqlite:///")

    def state() -> str:
        if not Path(database).exists():
            return "missing"
        connection = sqlite3.connect(database)
        try:
            if connection.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                return "damaged"
            return _state([name for (name,) in connection.execute("SELECT name FROM goals")])
        finally:
            connection.close()

    _crash_restore(target, backup, state)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("phase", ["adoption", "goals.0004_backfill_root_ids", "indexes"])
def test_ctrl_c_during_migrate_is_said_and_rolls_the_run_back(phase, sqlite_files, tmp_path):
    """Ctrl-C during migrate (here at a step of adoption, the backfill, the index builds) is exit
    15 saying what is left, not a traceback and 130: the legacy file is as it was (one
    transaction), and migrate again finishes the job."""
    legacy, *_ = sqlite_files
    target = sqlite_target(legacy, tmp_path / "run")
    steps = list_steps(target, MIGRATE)
    inside = INSIDE.get(phase, lambda at, label: at == phase)
    point = next(number for number, step in enumerate(steps, 1) if inside(*step))
    target.reset()
    database = Path(target.url.removeprefix("sqlite:///"))
    digest = file_sha256(database)
    stopped = run(target, MIGRATE, kill_at=point, interrupt=True)
    assert stopped.returncode == 15, stopped.stderr[-2000:]
    said = stopped.stderr.lower()  # adoption says it in its own words
    assert "interrupted" in said and "rolled back" in said, stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert file_sha256(database) == digest
    assert manage(target, MIGRATE).returncode == 0
    assert manage(target, ["verify_root_ids"]).returncode == 0


@pytest.mark.sqlite_only
def test_ctrl_c_during_restore_is_said_and_leaves_the_old_database_or_the_new(
    sqlite_files, tmp_path
):
    """Ctrl-C at a step in the middle of restore_db is exit 15, not a traceback and 130; the
    database is the old one or the backup, whole, and restore_db again finishes."""
    _, _, backup, changed = sqlite_files
    target = sqlite_target(changed, tmp_path / "run")
    argv = ["restore_db", str(backup), "--yes", "--dir", str(target.workdir / "safety")]
    steps = list_steps(target, argv)
    target.reset()
    stopped = run(target, argv, kill_at=len(steps) // 2, interrupt=True)
    assert stopped.returncode == 15, stopped.stderr[-2000:]
    assert "Interrupted (Ctrl-C): the database is as it was, or wholly the backup" in (
        stopped.stderr
    )
    connection = sqlite3.connect(target.url.removeprefix("sqlite:///"))
    try:
        names = [name for (name,) in connection.execute("SELECT name FROM goals")]
    finally:
        connection.close()
    assert _state(names) in ("old", "new")
    assert manage(target, argv).returncode == 0


@pytest.mark.sqlite_only
def test_ctrl_c_during_backup_db_is_said_and_leaves_no_partial_copy(sqlite_files, tmp_path):
    """Ctrl-C at a step in the middle of backup_db (here between the copy's rename and its
    manifest) is exit 15 saying so, not a traceback and 130; no copy without its manifest is
    left, and backup_db again makes a verified one."""
    legacy, *_ = sqlite_files
    target = sqlite_target(legacy, tmp_path / "run")
    folder = target.workdir / "kept"
    argv = ["backup_db", "--dir", str(folder)]
    steps = list_steps(target, argv)
    target.reset()
    shutil.rmtree(folder, ignore_errors=True)
    stopped = run(target, argv, kill_at=len(steps) // 2, interrupt=True)
    assert stopped.returncode == 15, stopped.stderr[-2000:]
    assert "Interrupted (Ctrl-C): a backup counts only once its manifest is written" in (
        stopped.stderr
    )
    assert "Traceback" not in stopped.stderr
    assert sorted(path.name for path in folder.glob("*")) == []
    assert manage(target, argv).returncode == 0


# -- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_templates(legacy_files, tmp_path_factory):
    """Template databases: the legacy data at the baseline, migrated, and changed after a backup
    (with that backup); made once for the three tests, which work on copies."""
    import psycopg

    from bench.postgres import create_database, database_url, load_legacy

    tmp_path = tmp_path_factory.mktemp("crash-postgresql")
    server = database_url(os.environ["DATABASE_URL"], "postgres")
    legacy = legacy_files("dev")
    load_legacy(server, "crash_legacy", legacy)
    migrated = create_database(server, "crash_migrated", template="crash_legacy")
    setup = Target("postgresql", migrated, lambda: None, tmp_path / "setup")
    assert manage(setup, ["migrate", "--no-backup", "--verbosity", "0"]).returncode == 0
    assert manage(setup, ["backup_db", "--dir", str(tmp_path / "kept")]).returncode == 0
    (backup,) = [p for p in (tmp_path / "kept").iterdir() if p.suffix != ".json"]
    changed = create_database(server, "crash_changed", template="crash_migrated")
    with psycopg.connect(changed, autocommit=True) as connection:
        connection.execute("UPDATE goals SET name = name || %s", [MARK])
    yield server, legacy, backup
    with psycopg.connect(server, autocommit=True) as connection:
        for name in ("crash_run", "crash_changed", "crash_migrated", "crash_legacy"):
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgresql_only
def test_migrate_survives_sigkill_at_every_point_on_postgresql(postgres_templates, tmp_path):
    server, legacy, _ = postgres_templates
    _crash_migrate(postgres_target(server, "crash_legacy", tmp_path / "run"), legacy)


@pytest.mark.postgresql_only
def test_backup_survives_sigkill_at_every_point_on_postgresql(postgres_templates, tmp_path):
    server, _, _ = postgres_templates
    _crash_backup(postgres_target(server, "crash_migrated", tmp_path / "run"))


@pytest.mark.postgresql_only
def test_restore_survives_sigkill_at_every_point_on_postgresql(postgres_templates, tmp_path):
    import psycopg

    server, _, backup = postgres_templates
    target = postgres_target(server, "crash_changed", tmp_path / "run")

    def state() -> str:
        try:
            with psycopg.connect(target.url) as connection:
                names = [name for (name,) in connection.execute("SELECT name FROM goals")]
        except psycopg.Error as error:
            return f"unreadable ({error})"
        return _state(names)

    _crash_restore(target, backup, state)
