"""goals_project.maintenance.migrate_service.database_migrate, called directly: what `migrate`
does around Django's migrate, and its refusals with their exit statuses."""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import shutil
import sqlite3
import threading
from concurrent.futures import Future
from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError, OutputWrapper
from django.core.management.commands.migrate import Command as DjangoMigrateCommand
from django.db import OperationalError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from goals_project.bases.exit_codes import Exit
from goals_project.bases.progress import Reporter, silent
from goals_project.maintenance import backups, db_tuning, migrate_service
from goals_project.maintenance.backups import BackupError, PendingBackup, backup_read
from goals_project.maintenance.db_tuning import (
    BULK_CACHE_KIB,
    BULK_PRAGMAS,
    SORT_CACHE_KIB,
    SORT_THREADS,
    open_descriptors,
    sqlite_bulk_cache,
    sqlite_writeback,
)
from goals_project.maintenance.legacy import adoption
from goals_project.maintenance.legacy.preflight import legacy_data_check
from goals_project.maintenance.locking import maintenance_lock
from goals_project.maintenance.migrate_service import MigrateRefused, database_migrate
from goals_project.maintenance.verification import root_id_report
from tests.conftest import file_sha256


class Captured(Reporter):
    """A reporter writing into strings, for the test to read."""

    def __init__(self, verbosity: int = 1) -> None:
        self.out, self.err = StringIO(), StringIO()
        super().__init__(OutputWrapper(self.out), OutputWrapper(self.err), verbosity)

    def printed(self) -> tuple[str, str]:
        return self.out.getvalue(), self.err.getvalue()


@pytest.mark.sqlite_only
@pytest.mark.parametrize("written", [False, True], ids=["untouched", "written meanwhile"])
def test_adoption_checks_the_file_again_only_when_it_was_written_since_the_checks(
    written, make_legacy_db, legacy_database, monkeypatch
):
    """migrate checks a legacy file first; adoption, inside its transaction, reads the row
    counts and runs the same checks again only when another connection has written to the file
    since (adoption.write_witness). A row written after the first checks, which they did not
    see, is then refused. Without a backup, since a backup's copy holds the file as it is
    until the transaction begins (the next test)."""
    path = make_legacy_db("dev")
    rechecks = []
    preflight = adoption.legacy_db_preflight
    monkeypatch.setattr(
        adoption,
        "legacy_db_preflight",
        lambda **options: rechecks.append(options) or preflight(**options),
    )

    def the_legacy_app_writes_after(**options):
        known = preflight(**options)
        if written:
            with contextlib.closing(sqlite3.connect(path)) as app, app:
                app.execute("UPDATE activity_instances SET duration_seconds = -5 WHERE rowid = 1")
        return known

    monkeypatch.setattr(migrate_service, "legacy_db_preflight", the_legacy_app_writes_after)
    with legacy_database(path) as alias:
        if written:
            with pytest.raises(CommandError) as refused:
                database_migrate(using=alias, reporter=Captured(), backup=False)
        else:
            database_migrate(using=alias, reporter=Captured(), backup=False)
    assert len(rechecks) == written
    if written:  # refused by adoption's checks, before it changed anything
        assert refused.value.returncode == Exit.CHECKS_VIOLATED
        assert "negative duration in activity_instances" in str(refused.value)
        with contextlib.closing(sqlite3.connect(path)) as file:
            tables = {name for (name,) in file.execute("SELECT name FROM sqlite_master")}
        assert "django_migrations" not in tables


# A row that each of goals.0002's CHECKS rejects, in CHECKS' order.
REJECTED_ROWS = (
    "UPDATE goals SET type = 'Bogus' WHERE rowid = 1",
    "UPDATE goals SET session_start = '2026-01-02', session_end = '2026-01-01' WHERE rowid = 1",
    "UPDATE goals SET total_duration_seconds = -1 WHERE rowid = 1",
    "UPDATE activity_instances SET time_start = '2026-01-02', time_stop = '2026-01-01' "
    "WHERE rowid = 1",
    "UPDATE activity_instances SET duration_seconds = -1 WHERE rowid = 1",
)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("rejected", [None, *range(len(REJECTED_ROWS))])
def test_the_preflight_finds_what_goals_0002_rejects_in_its_one_read_of_each_table(
    rejected, make_legacy_db, legacy_database
):
    """The preflight looks for the conditions of goals.0002's check in the read of each legacy
    table it makes anyway (preflight.values_read), and runs the check's counts only when a row
    meets one: a file with one row each condition rejects is refused before anything changes,
    with the check's message; a clean file is migrated with the counts read once, by goals.0002
    itself."""
    check = legacy_data_check()
    assert len(REJECTED_ROWS) == len(check.CHECKS)
    path = make_legacy_db("dev")
    if rejected is not None:
        with contextlib.closing(sqlite3.connect(path)) as file, file:
            assert file.execute(REJECTED_ROWS[rejected]).rowcount == 1
    before = file_sha256(path)
    counted = []

    def counts(execute, sql, params, many, context):
        if "COUNT(*) FILTER" in sql:
            counted.append(sql)
        return execute(sql, params, many, context)

    with legacy_database(path) as alias, connections[alias].execute_wrapper(counts):
        if rejected is None:
            database_migrate(using=alias, reporter=Captured(), backup=False)
        else:
            with pytest.raises(CommandError) as refused:
                database_migrate(using=alias, reporter=Captured(), backup=False)
    tables = {table for table, *_ in check.CHECKS}
    if rejected is None:
        assert len(counted) == len(tables)  # goals.0002's own, one read of each table
        return
    table, _condition, what, _fix = check.CHECKS[rejected]
    assert refused.value.returncode == Exit.CHECKS_VIOLATED
    assert f"1 {what} in {table}" in str(refused.value)
    assert file_sha256(path) == before


@pytest.mark.sqlite_only
def test_no_write_comes_between_the_backup_and_the_migration(
    make_legacy_db, legacy_database, settings, tmp_path, monkeypatch
):
    """The backup's copy is taken while the file is checked, and its read transaction is held
    until migrate's own holds the write lock: another program trying to write once the copy is
    taken, just before migrate's transaction begins, is kept out (SQLite's busy error), so the
    backup is the file exactly as migrate starts from. A write slipping in there would be in the
    migrated file and not in the backup."""
    settings.FRACTAL_BACKUP_DIR = str(tmp_path / "backups")
    path = make_legacy_db("dev")
    with contextlib.closing(sqlite3.connect(path)) as file:
        (before,) = file.execute("SELECT name FROM goals WHERE rowid = 1").fetchone()
    copied = threading.Event()
    copy = backups._sqlite_copy

    def copying(*args, held=None, **options):
        def copy_taken():  # the copy's read transaction still open, as after the copy
            copied.set()
            held.wait()

        return copy(*args, held=None if held is None else _Waited(copy_taken), **options)

    attempts = []
    check_not_locked = migrate_service.check_not_locked

    def the_legacy_app_writes(file):
        assert copied.wait(timeout=30)
        attempts.append(_another_program_writes(path))
        check_not_locked(file)

    monkeypatch.setattr(backups, "_sqlite_copy", copying)
    monkeypatch.setattr(migrate_service, "check_not_locked", the_legacy_app_writes)
    with legacy_database(path) as alias:
        result = database_migrate(using=alias, reporter=Captured())
    assert attempts == ["database is locked"]
    with contextlib.closing(sqlite3.connect(result.backup.path)) as backup:
        assert backup.execute("SELECT name FROM goals WHERE rowid = 1").fetchone() == (before,)
    with contextlib.closing(sqlite3.connect(path)) as file:
        assert file.execute("SELECT name FROM goals WHERE rowid = 1").fetchone() == (before,)


@pytest.mark.sqlite_only
def test_the_copy_is_taken_inside_the_snapshot_it_holds(
    make_legacy_db, legacy_database, settings, tmp_path, monkeypatch
):
    """The copy's bytes are read inside the read transaction it holds: another connection
    trying to commit while the file is being copied is kept out (SQLite's busy error), so no
    page changes under the copy, neither by another program nor by migrate's transaction,
    which goes on once it holds the write lock and writes to the file only once the copy is
    done (a write to the file needs every reader gone). The backup is the legacy file byte
    for byte."""
    settings.FRACTAL_BACKUP_DIR = str(tmp_path / "backups")
    path = make_legacy_db("dev")
    digest = file_sha256(path)
    copy = shutil.copyfile
    attempts = []

    def copying_while_another_writes(source, target, **options):
        attempts.append(_another_program_writes(path))
        return copy(source, target, **options)

    monkeypatch.setattr(backups.shutil, "copyfile", copying_while_another_writes)
    with legacy_database(path) as alias:
        result = database_migrate(using=alias, reporter=Captured())
        report = root_id_report(using=alias)
    assert attempts == ["database is locked"]
    assert file_sha256(result.backup.path) == digest
    assert result.backup.sha256 == digest
    assert report.ok, report


def _another_program_writes(path) -> str:
    """Another connection renames the first goal, without waiting for a lock: "written", or
    SQLite's error."""
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=0)) as app, app:
            app.execute("UPDATE goals SET name = 'written meanwhile' WHERE rowid = 1")
    except sqlite3.OperationalError as error:
        return str(error)
    return "written"


class _Waited:
    """An Event stand-in whose wait() runs `waiting` (which waits for the real event)."""

    def __init__(self, waiting) -> None:
        self.waiting = waiting

    def wait(self) -> None:
        self.waiting()


@pytest.mark.sqlite_only
@pytest.mark.parametrize("written", [False, True], ids=["untouched", "written meanwhile"])
def test_what_the_preflight_read_of_values_is_read_again_when_the_file_was_written(
    written, make_legacy_db, legacy_database, monkeypatch
):
    """The preflight's read of the tables' values spares adoption its own (a NULL key, a
    value that is not text in a column whose type becomes text) only while nothing is written
    to the file. A number the legacy app writes into a dev file's
    metric_values.split_definition_id (a STRING column, where SQLite keeps it a number) after
    the checks makes adoption read the column again and rebuild the table, whose text column
    stores it as text; the adopted table never holds a number there. Without a backup, whose
    copy would keep the write out until the migration is done."""
    path = make_legacy_db("dev")
    with contextlib.closing(sqlite3.connect(path)) as file:
        (value_id,) = file.execute(
            "SELECT id FROM metric_values WHERE split_definition_id IS NULL LIMIT 1"
        ).fetchone()
    preflight = migrate_service.legacy_db_preflight

    def the_legacy_app_writes_after(**options):
        known = preflight(**options)
        if written:
            with contextlib.closing(sqlite3.connect(path)) as app, app:
                app.execute(
                    "UPDATE metric_values SET split_definition_id = 42 WHERE id = ?", (value_id,)
                )
        return known

    in_place, count = adoption.alter_constraints_in_place, adoption._count
    adopted = {}

    def adopting(editor, model, known=None):
        kept = in_place(editor, model, known)
        if model._meta.db_table == "metric_values":
            adopted.update(kept=kept, known=known)
        return kept

    def counting(connection, table):  # each table's count, once it is adopted
        if table == "metric_values" and "kept" in adopted:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT typeof(split_definition_id) FROM metric_values WHERE id = %s",
                    [value_id],
                )
                adopted["stored"] = cursor.fetchone()[0]
        return count(connection, table)

    monkeypatch.setattr(migrate_service, "legacy_db_preflight", the_legacy_app_writes_after)
    monkeypatch.setattr(adoption, "alter_constraints_in_place", adopting)
    monkeypatch.setattr(adoption, "_count", counting)
    with legacy_database(path) as alias:
        database_migrate(using=alias, reporter=Captured(), backup=False)
    assert ("split_definition_id" in adopted["known"].text_only) is not written
    assert adopted["kept"] is not written  # pages kept in place, or the table rebuilt
    assert adopted["stored"] == ("text" if written else "null")


@pytest.mark.sqlite_only
@pytest.mark.parametrize("change", ["none", "a commit", "a file renamed over it"])
def test_the_write_witness_tells_a_commit_and_a_file_replaced(
    change, make_legacy_db, legacy_database, tmp_path
):
    """adoption.write_witness: nothing done to the file reads as unchanged; a commit through
    another connection, or another file renamed over it (which the witness's own connection,
    holding the old one, would not see), reads as a change."""
    path = make_legacy_db("dev")
    other = tmp_path / "other.db"
    shutil.copyfile(path, other)
    with legacy_database(path) as alias, adoption.write_witness(alias) as unchanged:
        assert unchanged()
        if change == "a commit":
            with contextlib.closing(sqlite3.connect(path)) as app, app:
                app.execute("UPDATE goals SET name = name || '!' WHERE rowid = 1")
        elif change == "a file renamed over it":
            os.replace(other, path)
        assert unchanged() is (change == "none")


@pytest.mark.sqlite_only
def test_a_legacy_file_is_backed_up_adopted_and_migrated(
    make_legacy_db, legacy_database, settings, tmp_path
):
    """Through the service a legacy file is backed up (verified), adopted, migrated to the
    latest migrations with every root right, and left in WAL mode; the result says so."""
    settings.FRACTAL_BACKUP_DIR = str(tmp_path / "backups")
    path = make_legacy_db("dev")
    reporter = Captured()
    with legacy_database(path) as alias:
        result = database_migrate(using=alias, reporter=reporter)
        assert root_id_report(using=alias).ok
    assert result.pending is True
    assert result.adoption.adopted is True
    assert result.adoption.variant == "dev"
    assert result.recovered_journal is None
    assert backup_read(result.backup.path, deep=True).verified
    database = sqlite3.connect(path)
    assert database.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    database.close()
    out, err = reporter.printed()
    assert f"  verified backup {result.backup.path}" in out
    assert "Adopted legacy 'dev' database" in out
    assert err == ""


@pytest.mark.sqlite_only
def test_adoption_runs_while_the_backup_is_checked_and_commits_only_after_it_passed(
    make_legacy_db, legacy_database, settings, tmp_path
):
    """Adoption goes on while the backup's copy is checked, inside a transaction that waits for
    the check: a copy that fails it (here an index of the user's own table that disagrees with
    its rows) rolls the finished adoption back. The file is as it was, with no backup and no
    partial copy left, and the refusal says why (exit 21)."""
    settings.FRACTAL_BACKUP_DIR = str(tmp_path / "backups")
    path = make_legacy_db("dev")
    with sqlite3.connect(path) as database:
        database.execute("CREATE TABLE my_notes (id INTEGER PRIMARY KEY, note TEXT, tag TEXT)")
        database.execute("INSERT INTO my_notes (note, tag) VALUES ('stretch first', 'habit')")
        database.execute("CREATE INDEX my_notes_by_note ON my_notes (note)")
        database.execute("PRAGMA writable_schema = ON")
        database.execute(
            "UPDATE sqlite_master SET sql = 'CREATE INDEX my_notes_by_note ON my_notes (tag)' "
            "WHERE name = 'my_notes_by_note'"
        )
    database.close()
    digest = file_sha256(path)
    reporter = Captured()
    with legacy_database(path) as alias:
        with (
            CaptureQueriesContext(connections[alias]) as queries,
            pytest.raises(MigrateRefused) as refused,
        ):
            database_migrate(using=alias, reporter=reporter)
        connections[alias].close()
    adopted = [query["sql"] for query in queries if query["sql"].startswith("INSERT INTO")]
    # The adoption had finished: its last step records the baseline migrations as applied.
    assert any(sql.startswith('INSERT INTO "django_migrations"') for sql in adopted)
    assert refused.value.code == Exit.BACKUP_UNVERIFIED
    assert str(refused.value).startswith("The copy is not a sound backup: integrity_check failed: ")
    assert str(refused.value).endswith(
        "The backup taken before migrating failed, so nothing was migrated."
    )
    assert file_sha256(path) == digest
    assert list((tmp_path / "backups").iterdir()) == []
    assert "verified backup" not in reporter.printed()[0]


@pytest.mark.sqlite_only
def test_with_a_backup_a_refusal_after_adoption_takes_the_whole_run_back(
    make_legacy_db, legacy_database, settings, tmp_path
):
    """With a backup, a legacy file is adopted and migrated in one transaction, committed once
    the backup is verified: a migration refused after the adoption and the backfill have run
    leaves the file byte for byte as it was, not adopted, and its refusal says so; the backup
    is there, verified."""
    settings.FRACTAL_BACKUP_DIR = str(tmp_path / "backups")
    path = make_legacy_db("dev")
    digest = file_sha256(path)
    reporter = Captured()

    def apply_then_refuse() -> None:
        call_command(
            DjangoMigrateCommand(), "goals", "0004", database=alias, verbosity=0, stdout=StringIO()
        )
        applied = connections[alias].cursor().execute("SELECT name FROM django_migrations")
        assert "0004_backfill_root_ids" in {name for (name,) in applied.fetchall()}
        raise CommandError("refused after the backfill", returncode=Exit.ROOTS_BROKEN)

    with legacy_database(path) as alias:
        with pytest.raises(CommandError) as refused:
            database_migrate(using=alias, reporter=reporter, apply=apply_then_refuse)
        connections[alias].close()
    assert refused.value.returncode == Exit.ROOTS_BROKEN
    assert str(refused.value) == (
        f"refused after the backfill\n{migrate_service.ROLLED_BACK_WITH_THE_RUN}"
    )
    assert file_sha256(path) == digest
    (backup,) = [p for p in (tmp_path / "backups").iterdir() if p.suffix != ".json"]
    assert backup_read(backup, deep=True).verified


@pytest.mark.sqlite_only
def test_the_one_commit_failing_is_rolled_back_and_said(
    make_legacy_db, legacy_database, settings, tmp_path, monkeypatch
):
    """The run's one commit can fail (here SQLite reports a full disk as it commits): Django
    rolls the run back, and migrate says so with the full disk's exit status, the file as it
    was."""
    settings.FRACTAL_BACKUP_DIR = str(tmp_path / "backups")
    path = make_legacy_db("dev")
    digest = file_sha256(path)
    with legacy_database(path) as alias:
        connection = connections[alias]

        def full() -> None:
            error = sqlite3.OperationalError("database or disk is full")
            error.sqlite_errorname = "SQLITE_FULL"
            with connection.wrap_database_errors:
                raise error

        monkeypatch.setattr(connection, "_commit", full)
        with pytest.raises(MigrateRefused) as refused:
            database_migrate(using=alias, reporter=Captured())
        monkeypatch.undo()
        connection.close()
    assert refused.value.code == Exit.NO_SPACE
    assert str(refused.value).startswith(
        f"SQLite could not commit the migration of {path} (database or disk is full), so it was "
        "rolled back: the file is as it was before this run."
    )
    assert file_sha256(path) == digest


@pytest.mark.sqlite_only
def test_a_failed_check_of_the_backup_stops_the_run_at_the_next_migration(tmp_path):
    """In one transaction the backup's check runs beside the migrations; once it has failed,
    raise_if_failed (called between migrations) raises its error at once, with the copy
    removed, where a check still running or passed raises nothing."""
    copy = tmp_path / "copy.partial"
    copy.write_bytes(b"")
    pending = PendingBackup(using="default", folder=tmp_path, keep=None, step=silent)
    pending.partial = copy
    pending.checking = Future()
    pending.raise_if_failed()  # still running
    pending.checking.set_exception(BackupError("the copy is damaged", Exit.BACKUP_UNVERIFIED))
    with pytest.raises(BackupError, match="the copy is damaged"):
        pending.raise_if_failed()
    assert not copy.exists()
    passed = PendingBackup(using="default", folder=tmp_path, keep=None, step=silent)
    passed.checking = Future()
    passed.checking.set_result("digest")
    passed.raise_if_failed()
    assert not passed.finished


@pytest.mark.sqlite_only
def test_a_file_that_is_not_sqlite_is_refused_with_its_exit_status(
    tmp_path, legacy_database, settings
):
    """A refusal surfaces as MigrateRefused carrying the exit status; the file is unchanged."""
    settings.FRACTAL_BACKUP_DIR = str(tmp_path / "backups")
    path = tmp_path / "notes.db"
    path.write_text("shopping list: milk, eggs\n" * 10)
    digest = file_sha256(path)
    with legacy_database(path) as alias, pytest.raises(MigrateRefused) as refused:
        database_migrate(using=alias, reporter=Captured())
    assert refused.value.code == Exit.NOT_SQLITE
    assert refused.value.returncode == Exit.NOT_SQLITE
    assert file_sha256(path) == digest
    assert not (tmp_path / "backups").exists()


@pytest.mark.sqlite_only
def test_going_back_over_new_data_is_refused_after_the_backup(migrated_db, settings, tmp_path):
    """Going back over a row written since the backfill stops with WOULD_DISCARD, naming the
    backup the service took first, which the result of a refusal cannot carry."""
    settings.FRACTAL_BACKUP_DIR = str(tmp_path / "backups")
    path, alias = migrated_db
    with sqlite3.connect(path) as legacy:
        legacy.execute(
            "UPDATE goals SET name = 'Mine', updated_at = '2999-01-01 00:00:00.000000' "
            "WHERE id = (SELECT MIN(id) FROM goals WHERE type = 'PracticeSession')"
        )
    digest = file_sha256(path)
    reporter = Captured()
    with pytest.raises(MigrateRefused) as refused:
        database_migrate(using=alias, reporter=reporter, app_label="goals", migration_name="0001")
    assert refused.value.code == Exit.WOULD_DISCARD
    backup = reporter.printed()[0].split("verified backup ")[1].split()[0]
    assert f"A verified backup of the database as it is: {backup}." in str(refused.value)
    assert file_sha256(path) == digest


@pytest.mark.django_db(transaction=True)
def test_a_held_maintenance_lock_is_refused_as_busy(make_legacy_db, legacy_database):
    """While another job holds the database's lock the service stops at once with BUSY
    (a file lock on SQLite, an advisory lock on PostgreSQL)."""
    if connection.vendor == "sqlite":
        path = make_legacy_db("dev")
        digest = file_sha256(path)
        with (
            legacy_database(path) as alias,
            maintenance_lock(operation="restore_db", using=alias),
            pytest.raises(MigrateRefused) as refused,
        ):
            database_migrate(using=alias, reporter=Captured())
        assert file_sha256(path) == digest
    else:
        with (
            maintenance_lock(operation="restore_db"),
            pytest.raises(MigrateRefused) as refused,
        ):
            database_migrate(using="default", reporter=Captured())
    assert refused.value.code == Exit.BUSY
    assert "is busy" in str(refused.value)


@pytest.mark.postgresql_only
@pytest.mark.django_db(transaction=True)
def test_an_up_to_date_postgresql_database_needs_nothing(settings, tmp_path):
    """On PostgreSQL at the latest migrations nothing is pending, adopted or backed up, and at
    -v0 nothing is printed."""
    settings.FRACTAL_BACKUP_DIR = str(tmp_path / "backups")
    reporter = Captured(verbosity=0)
    result = database_migrate(using="default", reporter=reporter)
    assert result.pending is False
    assert result.backup is None
    assert result.adoption.adopted is False
    assert reporter.printed() == ("", "")


@pytest.mark.postgresql_only
@pytest.mark.django_db(transaction=True)
def test_postgresql_going_back_and_forth_through_the_service(settings, tmp_path):
    """On PostgreSQL the service takes Django's migrate back to the baseline and forward
    again (no data: no backup), reporting each migration at -v1."""
    settings.FRACTAL_BACKUP_DIR = str(tmp_path / "backups")
    back = Captured()
    database_migrate(using="default", reporter=back, app_label="goals", migration_name="0001")
    forward = Captured()
    result = database_migrate(using="default", reporter=forward)
    assert result.pending is True
    assert "Unapplying goals.0004_backfill_root_ids... OK" in back.printed()[0]
    assert "Applying goals.0004_backfill_root_ids... OK" in forward.printed()[0]
    assert root_id_report().ok


@pytest.mark.sqlite_only
def test_the_bulk_settings_reach_a_reopened_connection_and_end_with_the_job(
    make_legacy_db, legacy_database
):
    """migrate's SQLite settings (a large page cache, for the temporary tables too, freed pages
    not zeroed, sorting threads) hold for the connection adoption reopens, and the connection
    has SQLite's own defaults afterwards."""
    path = make_legacy_db("dev")
    bulk = {
        "cache_size": -BULK_CACHE_KIB,
        "temp.cache_size": -BULK_CACHE_KIB,
        "secure_delete": 2,
        "threads": SORT_THREADS,
    }
    with contextlib.closing(sqlite3.connect(":memory:")) as fresh:
        defaults = {name: fresh.execute(f"PRAGMA {name}").fetchone()[0] for name in BULK_PRAGMAS}
    assert defaults != bulk

    def pragmas(alias: str) -> dict[str, object]:
        with connections[alias].cursor() as cursor:
            return {name: cursor.execute(f"PRAGMA {name}").fetchone()[0] for name in BULK_PRAGMAS}

    with legacy_database(path) as alias:
        with sqlite_bulk_cache(using=alias):
            connections[alias].close()  # as adoption does
            assert pragmas(alias) == bulk
        assert pragmas(alias) == defaults


@pytest.mark.sqlite_only
def test_written_pages_go_to_the_disk_meanwhile_and_sqlites_locks_stay(
    make_legacy_db, legacy_database, monkeypatch
):
    """sqlite_writeback: while inside, a thread puts the file's pages on the disk (fdatasync) by
    a descriptor SQLite holds on that file, never another's; it opens and closes none, so the
    write lock of a transaction inside holds against another connection all along. The thread
    ends with the block."""
    path = make_legacy_db("dev")
    real = os.path.realpath(path)
    synced, turns = [], threading.Semaphore(0)
    fdatasync = os.fdatasync

    def recorded(descriptor: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        fdatasync(descriptor)
        turns.release()

    monkeypatch.setattr(os, "fdatasync", recorded)
    with legacy_database(path) as alias:
        with sqlite_writeback(using=alias), transaction.atomic(using=alias):
            with connections[alias].cursor() as cursor:
                cursor.execute("UPDATE goals SET name = name || '!'")
            held = open_descriptors(real)
            assert held  # SQLite's own
            for _ in range(3):
                assert turns.acquire(timeout=30)
            assert open_descriptors(real) == held
            with (
                contextlib.closing(sqlite3.connect(path, timeout=0)) as other,
                pytest.raises(sqlite3.OperationalError, match="locked"),
            ):
                other.execute("BEGIN IMMEDIATE")
        assert not [thread for thread in threading.enumerate() if thread.name == "sqlite-writeback"]
    assert len(synced) >= 3
    assert set(synced) == {real}


@pytest.mark.sqlite_only
def test_a_page_the_disk_refused_meanwhile_rolls_the_run_back_before_its_commit(
    make_legacy_db, legacy_database, settings, tmp_path, monkeypatch
):
    """The kernel reports a failed write back once per open file: when it reports it to
    sqlite_writeback's fdatasync (here a disk error on its first turn), SQLite's own fsync at
    the commit would not hear of it. So the run is rolled back instead of committed, and said;
    the file is as it was."""
    settings.FRACTAL_BACKUP_DIR = str(tmp_path / "backups")
    path = make_legacy_db("dev")
    digest = file_sha256(path)
    monkeypatch.setattr(db_tuning, "WRITEBACK_SECONDS", 0.01)
    fdatasync, failed = os.fdatasync, threading.Event()

    def the_disk_fails(descriptor: int) -> None:
        if threading.current_thread().name == "sqlite-writeback":
            failed.set()
            raise OSError(errno.EIO, "Input/output error")
        fdatasync(descriptor)

    monkeypatch.setattr(os, "fdatasync", the_disk_fails)
    with legacy_database(path) as alias:
        with pytest.raises(MigrateRefused) as refused:
            database_migrate(using=alias, reporter=Captured())
        connections[alias].close()
    assert failed.is_set()
    assert refused.value.code == Exit.DATABASE_ERROR
    assert str(refused.value).startswith(
        f"Writing the migration of {path} to the disk failed ([Errno 5] Input/output error: "
    )
    assert "rolled back before its commit: the file is as it was before this run" in str(
        refused.value
    )
    assert file_sha256(path) == digest


# Statements of the kinds the backfill sends: the placeholders' INSERT of one row per missing id
# (a GROUP BY over the pointing rows), and a copy of rows.
GROUPS = 'INSERT INTO probe_types (type, n) SELECT type, COUNT(*) FROM "goals"\ngroup  by type'
COPIES = 'INSERT INTO probe_copy (id) SELECT id FROM "goals"'


@pytest.mark.sqlite_only
def test_sorts_of_a_bulk_job_run_with_the_small_cache_and_give_the_large_one_back(
    make_legacy_db, legacy_database
):
    """Inside the bulk settings a CREATE INDEX (of any spelling, one that fails too) and an
    INSERT of the groups of a GROUP BY run with SORT_CACHE_KIB of page cache; every other
    statement (an INSERT without one too), and whatever follows, has the bulk job's large
    cache."""
    path = make_legacy_db("dev")
    seen: list[tuple[str, int]] = []

    def observe(execute, sql, params, many, context):
        size = context["connection"].connection.execute("PRAGMA cache_size").fetchone()[0]
        seen.append((sql, size))
        return execute(sql, params, many, context)

    with legacy_database(path) as alias:
        connection = connections[alias]
        connection.ensure_connection()
        connection.connection.execute("CREATE TEMPORARY TABLE probe_types (type TEXT, n INT)")
        connection.connection.execute("CREATE TEMPORARY TABLE probe_copy (id TEXT)")
        with sqlite_bulk_cache(using=alias), connection.execute_wrapper(observe):
            with connection.cursor() as cursor:
                cursor.execute('  create  index "probe_one" ON "goals" ("name")')
                cursor.execute('CREATE UNIQUE INDEX "probe_two" ON "goals" ("id", "name")')
                with pytest.raises(OperationalError, match="already exists"):
                    cursor.execute('CREATE INDEX "probe_one" ON "goals" ("name")')
                cursor.execute(GROUPS)
                cursor.execute(COPIES)
                cursor.execute('SELECT COUNT(*) FROM "goals"')
            after = connection.connection.execute("PRAGMA cache_size").fetchone()[0]
    assert seen == [
        ('  create  index "probe_one" ON "goals" ("name")', -SORT_CACHE_KIB),
        ('CREATE UNIQUE INDEX "probe_two" ON "goals" ("id", "name")', -SORT_CACHE_KIB),
        ('CREATE INDEX "probe_one" ON "goals" ("name")', -SORT_CACHE_KIB),
        (GROUPS, -SORT_CACHE_KIB),
        (COPIES, -BULK_CACHE_KIB),
        ('SELECT COUNT(*) FROM "goals"', -BULK_CACHE_KIB),
    ]
    assert after == -BULK_CACHE_KIB


@pytest.mark.parametrize("app", ["auth", "admin"])
def test_going_back_past_a_table_of_users_is_refused_while_it_holds_rows(
    app, make_migrated_db, legacy_database
):
    """`migrate auth zero` dropped every user and the admin's history and said it was done: like
    the baselines of the legacy tables, an app's first migration is not unapplied while a table
    it created holds a row (24), and nothing changes."""
    path = make_migrated_db("dev")
    with legacy_database(path) as alias:
        User.objects.db_manager(alias).create_user("alice")
        LogEntry.objects.using(alias).create(
            user=User.objects.db_manager(alias).get(), action_flag=1, object_repr="x"
        )
        digest = file_sha256(path)
        with pytest.raises(CommandError) as refused:
            call_command("migrate", app, "zero", "--no-backup", database=alias, stdout=StringIO())
        assert refused.value.returncode == Exit.WOULD_DISCARD
        assert "django_admin_log (1 rows)" in str(refused.value)
        if app == "auth":
            assert "auth_user (1 rows)" in str(refused.value)
        assert "Delete those rows first" in str(refused.value)
        assert file_sha256(path) == digest


@pytest.mark.sqlite_only
@pytest.mark.parametrize("options", [{"backup": False}, {}])
def test_a_disk_filling_up_during_a_migration_is_said_as_a_full_disk(
    options, make_legacy_db, legacy_database, settings, tmp_path, monkeypatch
):
    """SQLite rolls the whole transaction back when the disk fills up during a statement; Django's
    schema editor, leaving, then ran a statement inside it, and its error (no query until the end
    of the atomic block) replaced the full disk's: exit 17 and no word of the disk. Here the
    backfill meets a full disk as SQLite reports it."""
    settings.FRACTAL_BACKUP_DIR = str(tmp_path / "backups")
    path = make_legacy_db("dev")
    backfill = importlib.import_module("goals.migrations.0004_backfill_root_ids")
    with legacy_database(path) as alias:
        connection = connections[alias]

        def full(self) -> None:
            connection.connection.execute("ROLLBACK")  # as SQLite does on SQLITE_FULL
            error = sqlite3.OperationalError("database or disk is full")
            error.sqlite_errorname = "SQLITE_FULL"
            with connection.wrap_database_errors:
                raise error

        monkeypatch.setattr(backfill.Backfill, "run", full)
        with pytest.raises(MigrateRefused) as refused:
            database_migrate(using=alias, reporter=Captured(), **options)
        monkeypatch.undo()
        connection.close()
    assert refused.value.code == Exit.NO_SPACE
    assert (
        "goals.0004_backfill_root_ids was stopped by the database (database or disk is full)"
        in (str(refused.value))
    )


@pytest.mark.parametrize(
    ("options", "status", "said"),
    [
        (("--check",), 1, "it will be adopted at the baseline first"),
        (("--plan",), None, "it will be adopted at the baseline first"),
        (("--prune",), Exit.USAGE, "Migrations can be pruned only when an app is specified."),
        (("goals", "--prune"), None, "No migrations to prune."),
    ],
)
def test_what_applies_nothing_on_a_legacy_file_takes_no_backup_and_adopts_nothing(
    options, status, said, make_legacy_db, legacy_database, settings, tmp_path
):
    """--check, --plan and --prune apply no migration: a legacy file is neither backed up nor
    adopted for them (--check took a backup and adopted the file, then exited 1 with the
    adoption rolled back; --prune without an app did the same before Django's usage error)."""
    settings.FRACTAL_BACKUP_DIR = str(tmp_path / "backups")
    path = make_legacy_db("dev")
    digest = file_sha256(path)
    out = StringIO()
    with legacy_database(path) as alias:
        if status is None:
            call_command("migrate", *options, database=alias, stdout=out)
        elif status == 1:  # Django's --check exits with 1 when a migration is pending
            with pytest.raises(SystemExit) as stopped:
                call_command("migrate", *options, database=alias, stdout=out)
            assert stopped.value.code == 1
        else:
            with pytest.raises(CommandError) as refused:
                call_command("migrate", *options, database=alias, stdout=out)
            assert refused.value.returncode == status
            out.write(str(refused.value))
    assert said in out.getvalue()
    assert file_sha256(path) == digest
    assert not (tmp_path / "backups").exists()
