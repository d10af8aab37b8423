"""One maintenance job at a time: a second migrate or restore_db stops at once, clearly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from goals_project.maintenance.backups import backups_list
from goals_project.maintenance.locking import EXIT_BUSY, lock_path, maintenance_lock
from tests.conftest import file_sha256, manage_process

ROOT = Path(__file__).resolve().parents[2]

HOLDER = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "goals_project.settings"
import django
django.setup()
from goals_project.maintenance.locking import maintenance_lock
with maintenance_lock(operation="migrate"):
    print("held", flush=True)
    sys.stdin.read()
"""


def _manage(path: Path, *args: str) -> subprocess.CompletedProcess:
    return manage_process(f"sqlite:///{path}", *args, timeout=120)


def _holder(path: Path) -> subprocess.Popen:
    """Another process holding the maintenance lock of the file at path until told to stop."""
    holder = subprocess.Popen(  # noqa: S603 - this interpreter with a fixed script
        [sys.executable, "-c", HOLDER],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{path}"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.mark.sqlite_only
def test_second_migrate_stops_while_another_holds_the_file(make_legacy_db):
    """migrate on a file another migrate is working on exits 11, names it, changes nothing."""
    path = make_legacy_db("dev")
    digest = file_sha256(path)
    holder = _holder(path)
    try:
        result = _manage(path, "migrate")
    finally:
        holder.communicate("", timeout=30)
    assert result.returncode == EXIT_BUSY, result.stderr
    assert f"{path} is busy: migrate (pid {holder.pid}, since" in result.stderr
    assert "nothing was changed" in result.stderr
    assert file_sha256(path) == digest
    assert not list(path.parent.rglob(f"{path.name}.backup_*"))


@pytest.mark.sqlite_only
def test_restore_stops_while_a_migrate_holds_the_file(make_migrated_db, legacy_database):
    """restore_db waits for no one: with the lock taken it exits 11 and the file is unchanged."""
    path = make_migrated_db("dev")
    with legacy_database(path) as alias:
        call_command("backup_db", database=alias, stdout=StringIO())
        (backup,) = backups_list(using=alias)
    digest = file_sha256(path)
    holder = _holder(path)
    try:
        result = _manage(path, "restore_db", str(backup.path), "--yes")
    finally:
        holder.communicate("", timeout=30)
    assert result.returncode == EXIT_BUSY, result.stderr
    assert "is busy: migrate" in result.stderr
    assert file_sha256(path) == digest


@pytest.mark.sqlite_only
@pytest.mark.parametrize("held_through", ["the symlink", "the file it points to"])
def test_migrate_through_another_name_of_the_file_stops_while_it_is_held(
    make_legacy_db, tmp_path, held_through
):
    """A symlink and the file it points to are one database with one maintenance lock: migrate
    through either name stops (exit 11) while a job holds it through the other."""
    real = make_legacy_db("dev")
    link = tmp_path / "elsewhere" / "goals.db"
    link.parent.mkdir()
    link.symlink_to(real)
    held, other = (link, real) if held_through == "the symlink" else (real, link)
    digest = file_sha256(real)
    holder = _holder(held)
    try:
        result = _manage(other, "migrate")
    finally:
        holder.communicate("", timeout=30)

    assert result.returncode == EXIT_BUSY, result.stderr
    assert f"{real} is busy: migrate (pid {holder.pid}, since" in result.stderr
    assert file_sha256(real) == digest
    assert lock_path(real).exists()
    assert not lock_path(link).exists()


@pytest.mark.sqlite_only
def test_a_killed_holder_leaves_no_lock_behind(make_legacy_db):
    """The lock dies with its process: after SIGKILL the next migrate runs to the end."""
    path = make_legacy_db("dev")
    holder = _holder(path)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert lock_path(path).exists()  # what it wrote stays, but the flock is gone

    result = _manage(path, "migrate", "--no-backup")

    assert result.returncode == 0, result.stderr
    assert _manage(path, "verify_root_ids").returncode == 0


@pytest.mark.sqlite_only
def test_two_migrates_at_once_one_proceeds(make_legacy_db):
    """Started together, one migrate does the work and the other either stops (exit 11) or,
    starting after the first has finished, finds nothing to do; never both at once."""
    path = make_legacy_db("dev", sessions_per_fractal=150)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "FRACTAL_BACKUP_DIR": ""}
    argv = [sys.executable, str(ROOT / "manage.py"), "migrate", "--no-backup"]
    first = subprocess.Popen(  # noqa: S603 - the project's manage.py
        argv, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not (lock_path(path).exists() and lock_path(path).stat().st_size):
        assert time.monotonic() < deadline, "the first migrate never took the lock"
        time.sleep(0.01)
    second = subprocess.run(  # noqa: S603 - the project's manage.py
        argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    first_error = first.communicate(timeout=120)[1]

    assert first.returncode == 0, first_error
    assert second.returncode in (0, EXIT_BUSY), second.stderr
    if second.returncode == EXIT_BUSY:
        assert "is busy: migrate" in second.stderr
    assert _manage(path, "verify_root_ids").returncode == 0


@pytest.mark.postgresql_only
@pytest.mark.django_db(transaction=True)
def test_postgresql_restore_stops_while_another_session_holds_the_lock(tmp_path, settings):
    """On PostgreSQL the lock is an advisory lock of the database: a second job stops at once."""
    settings.FRACTAL_BACKUP_DIR = tmp_path
    call_command("backup_db", stdout=StringIO())
    (backup,) = backups_list()
    with maintenance_lock(operation="migrate"):
        with pytest.raises(CommandError, match="is busy: another migrate or restore_db") as caught:
            call_command("restore_db", str(backup.path), "--yes", stdout=StringIO())
        assert caught.value.returncode == EXIT_BUSY
        with pytest.raises(CommandError, match="fractal-goals migrate"):
            call_command("migrate", stdout=StringIO(), verbosity=0)
    # Released: the same restore now goes through.
    call_command("restore_db", str(backup.path), "--yes", stdout=StringIO())
