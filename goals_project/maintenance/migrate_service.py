"""What `manage.py migrate` does around Django's own migrate, as a service tests can call.

Under the database's maintenance lock and SQLite's bulk cache: roll back a write a killed program
left, inspect the file, refuse what cannot be migrated (before anything changes), back up a
database that holds data, adopt a legacy file, refuse going back over data written since the
backfill; then apply the migrations with the recording executor, and afterwards switch SQLite to
WAL and refresh the planner's statistics (VACUUM ANALYZE on PostgreSQL).
"""

from __future__ import annotations

import contextlib
import errno
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.management.commands.migrate import Command as DjangoMigrateCommand
from django.db import (
    DatabaseError,
    IntegrityError,
    OperationalError,
    connections,
    migrations,
    transaction,
)
from django.db.migrations.exceptions import AmbiguityError
from django.db.migrations.executor import MigrationExecutor

from goals_project.bases.exit_codes import Exit
from goals_project.bases.progress import Reporter, reporting
from goals_project.maintenance.backups import (
    Backup,
    BackupError,
    PendingBackup,
    backup_begin,
    in_rollback_journal_mode,
)
from goals_project.maintenance.backward_safety import (
    APPS,
    MIGRATION,
    DroppedColumn,
    backward_losses,
    refusal_message,
)
from goals_project.maintenance.db_tuning import (
    WritebackFailed,
    planner_statistics_refresh,
    sqlite_bulk_cache,
    sqlite_writeback,
)
from goals_project.maintenance.legacy.adoption import (
    AdoptionResult,
    legacy_db_adopt,
    legacy_db_check_writable,
    legacy_db_inspect_alias,
    legacy_db_preflight,
    legacy_db_recover,
    recovered_note,
    sqlite_enable_wal,
    write_failure,
    write_witness,
)
from goals_project.maintenance.legacy.inspection import (
    DbState,
    LegacyDbError,
    LegacyDbProblem,
    check_not_locked,
    is_file_database,
    legacy_db_integrity_begin,
    locked_error,
)
from goals_project.maintenance.legacy.preflight import (
    disk_refusal,
    holds_data_to_migrate,
    migrate_disk_needs,
    sqlite_temp_folder,
)
from goals_project.maintenance.legacy.schemas import VARIANTS
from goals_project.maintenance.locking import MaintenanceBusy, maintenance_lock
from goals_project.maintenance.migration_executor import held_transaction, recording_executor
from goals_project.maintenance.migration_operations import ColumnsAddedRecord, fields_added
from goals_project.maintenance.table_rewrite import sqlite_drops_at_end

# Said after a migration's refusal when the run was one transaction (_one_transaction).
ROLLED_BACK_WITH_THE_RUN = (
    "With a backup, migrate commits its whole run (a legacy file's adoption and the migrations) "
    "once the backup is verified: all of it was rolled back, and the database is as it was "
    "before this run."
)


class ReportingMigrateCommand(DjangoMigrateCommand):
    """Django's migrate, whose reporter knows when Django has left a line open."""

    reporter: Reporter | None = None

    def migration_progress_callback(self, action, migration=None, fake=False) -> None:
        super().migration_progress_callback(action, migration, fake)
        if self.reporter is not None:
            # "  Applying <migration>..." waits for its " OK" until the migration is done.
            self.reporter.line_open = self.verbosity >= 1 and action.endswith("_start")


class MigrateRefused(CommandError):
    """`migrate` refused; nothing was changed. `code` is the exit status
    (goals_project.bases.exit_codes)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message, returncode=int(code))
        self.code = Exit(int(code))


@dataclass(frozen=True)
class MigrateResult:
    """What one run did besides applying migrations."""

    recovered_journal: Path | None
    backup: Backup | None
    adoption: AdoptionResult
    pending: bool


def database_migrate(
    *,
    using: str,
    reporter: Reporter,
    app_label: str | None = None,
    migration_name: str | None = None,
    backup: bool = True,
    apply: Callable[[], None] | None = None,
) -> MigrateResult:
    """Migrate the database behind `using` to the target Django's migrate would read from
    `app_label` and `migration_name` (the latest migrations when both are None).

    `backup=False` skips the backup (so does FRACTAL_BACKUP_BEFORE_MIGRATE=0). `apply` runs
    Django's migrate itself (the `migrate` command passes its own); by default Django's command is
    called with the reporter's verbosity and streams. Raises MigrateRefused carrying the exit
    status; a refusal leaves the database as it was.
    """
    if apply is None:
        apply = _django_migrate(using, reporter, app_label, migration_name)
    try:
        legacy_db_check_writable(using=using)
    except LegacyDbError as error:
        raise MigrateRefused(str(error), error.problem) from error
    try:
        with maintenance_lock(operation="migrate", using=using), reporting(reporter):
            return _migrate_locked(
                using=using,
                reporter=reporter,
                targets=(app_label, migration_name),
                backup=backup and settings.FRACTAL_BACKUP_BEFORE_MIGRATE,
                apply=apply,
            )
    except MaintenanceBusy as error:
        raise MigrateRefused(str(error), error.code) from error


def _migrate_locked(
    *,
    using: str,
    reporter: Reporter,
    targets: tuple[str | None, str | None],
    backup: bool,
    apply: Callable[[], None],
) -> MigrateResult:
    taken = None
    with sqlite_bulk_cache(using=using), contextlib.ExitStack() as whole:
        try:
            recovered = legacy_db_recover(using=using)
            if recovered is not None:
                reporter.warning(recovered_note(recovered))
            with write_witness(using) as unchanged:
                found = legacy_db_inspect_alias(using=using, integrity=False)
                _refuse_unadopting(found, targets)
                _check_space(using, found, backup=backup)
                plan = _plan(using, targets)
                backing_up = backup and holds_data_to_migrate(
                    using=using, found=found, planned=bool(plan)
                )
                one = backing_up and _in_one_transaction(using, found, plan)
                # In one transaction, under a rollback journal, the copy is taken while the file
                # is checked, and held as it is until the transaction holds the write lock
                # (PendingBackup.locked); the run waits for it between migrations, or at the end
                # (PendingBackup.copied). In WAL mode a reader keeps no writer out: copied after.
                meanwhile = one and in_rollback_journal_mode(found.path)
                begun = None
                if meanwhile:
                    begun = _backup_begin(using, reporter, behind=True, meanwhile=True)
                try:
                    with _integrity_checked_meanwhile(found):
                        if found.state_before == DbState.LEGACY:
                            known = legacy_db_preflight(using=using, found=found)
                            found = replace(found, known_values=known)
                except BaseException:
                    if begun is not None:
                        begun.discard()  # refused before anything changed: the copy is no backup
                    raise
                if backing_up and not meanwhile:
                    begun = _backup_begin(using, reporter, behind=one)
                try:
                    if one:
                        if meanwhile:
                            _backup_heading(reporter)
                        whole.enter_context(
                            _one_transaction(using, found.path, locked=begun.locked)
                        )
                    # Adoption goes on while the backup is checked, and commits only after. It
                    # checks the file again only if something was written since the checks.
                    adoption = _adopt(
                        using,
                        reporter,
                        backup=None if one else begun,
                        found=replace(found, recovered_journal=recovered),
                        unchanged=unchanged,
                    )
                except BaseException:
                    if begun is not None and not begun.released:
                        begun.discard()  # stopped before the write lock: the copy is no backup
                    elif begun is not None:
                        with contextlib.suppress(BackupError):  # the adoption's error is the news
                            _backup_finish(begun, reporter)
                    raise
            if begun is not None and (not one or _goes_backwards(using, targets)):
                # Going back is checked against the verified backup, named in its refusal (a
                # file adopted at goals.0003 can go back from where a legacy one went forwards).
                taken = _backup_finish(begun, reporter)
        except LegacyDbError as error:
            raise MigrateRefused(str(error), error.problem) from error
        except BackupError as error:
            raise _backup_failed(error) from error
        try:
            _refuse_backward_losses(using, targets, taken)
            pending = _pending(using)
            # In one transaction, a check that failed stops the run at the next migration.
            with recording_executor(between=begun.raise_if_failed if one else None):
                try:
                    apply()
                except DatabaseError as error:  # a CommandError (no DatabaseError) passes as it is
                    raise _migration_failed(using, error, whole_run=one) from error
            if one and taken is None:
                taken = _backup_finish(begun, reporter)
        except BackupError as error:
            raise _backup_failed(error) from error
        except BaseException as error:
            if one:
                with contextlib.suppress(BackupError):  # the migration's error is the news
                    _backup_finish(begun, reporter)
                if isinstance(error, CommandError):
                    error.args = (f"{error.args[0]}\n{ROLLED_BACK_WITH_THE_RUN}", *error.args[1:])
            raise
    # Only now: the rebuilds above wrote each page once under the rollback journal.
    sqlite_enable_wal(using=using)
    if pending:
        planner_statistics_refresh(using=using)
    return MigrateResult(
        recovered_journal=recovered, backup=taken, adoption=adoption, pending=pending
    )


@contextlib.contextmanager
def _integrity_checked_meanwhile(found: AdoptionResult) -> Iterator[None]:
    """The file's integrity check (legacy_db_inspect's) on a thread while the block reads the
    file (the preflight's checks), both before anything changes. A damaged file is refused as
    inspection refuses it, ahead of whatever the block raised: its reads of a damaged file can
    fail too, and the damage is the news."""
    checking = None if found.path is None else legacy_db_integrity_begin(found.path)
    if checking is None:
        yield
        return
    try:
        yield
    except BaseException as error:
        if isinstance(checking.exception(), LegacyDbError):
            raise checking.exception() from error
        raise
    checking.result()


def _backup_failed(error: BackupError) -> MigrateRefused:
    return MigrateRefused(
        f"{error} The backup taken before migrating failed, so nothing was migrated.", error.code
    )


def _goes_backwards(using: str, targets: tuple[str | None, str | None]) -> bool:
    return any(backwards for _, backwards in _plan(using, targets))


def _in_one_transaction(using: str, found: AdoptionResult, plan: list) -> bool:
    """Whether this run (with a backup begun) adopts and migrates in one transaction: on SQLite,
    a file there (not one migrate creates), going forwards only."""
    return (
        connections[using].vendor == "sqlite"
        and found.path is not None
        and not any(backwards for _, backwards in plan)
    )


@contextlib.contextmanager
def _one_transaction(
    using: str, path: Path, *, locked: Callable[[], None] | None = None
) -> Iterator[None]:
    """SQLite: while inside, one transaction holding the file's write lock from its start, with
    foreign keys off (Django's SQLite schema editor needs them off, which only works outside a
    transaction; each migration checks the keys it could break at its end). Adoption and each
    migration are savepoints of it. Committed on a clean exit: `migrate` is inside until its
    backup is verified, so it keeps the adoption and the migrations working meanwhile, and a
    crash or a refusal at any point leaves the file as it was. The old pages of tables written
    anew are dropped at its end (table_rewrite.sqlite_drops_at_end). The pages written go to
    the disk meanwhile (db_tuning.sqlite_writeback); where that fails, the run is rolled back
    before the commit. `locked` is called first inside, once the write lock is held (what it
    raises rolls back): the backup's copy, taken meanwhile, is released there
    (PendingBackup.locked)."""
    connection = connections[using]
    mode = connection.settings_dict["OPTIONS"].get("transaction_mode")
    if mode not in ("IMMEDIATE", "EXCLUSIVE"):
        raise MigrateRefused(
            f"migrate needs SQLite's transaction_mode IMMEDIATE (as goals_project.settings sets "
            f"it), so that its transaction holds the write lock from its start; the database "
            f"settings give {mode!r}. Remove transaction_mode from DATABASE_URL; nothing was "
            "changed.",
            Exit.USAGE,
        )
    check_not_locked(path)
    connection.close()  # a fresh connection, so no earlier transaction state leaks in
    connection.ensure_connection()
    if not connection.disable_constraint_checking():
        raise RuntimeError("SQLite kept foreign keys on outside a transaction")
    try:
        try:
            atomic = transaction.atomic(using=using)
            atomic.__enter__()  # BEGIN IMMEDIATE: the write lock, or a refusal now
        except OperationalError as error:
            raise locked_error(path, error) from error
        try:
            if locked is not None:
                locked()
            # The written pages go to the disk meanwhile; what failed there stops the commit.
            with (
                sqlite_writeback(using=using),
                sqlite_drops_at_end(connection),
                held_transaction(connection),
            ):
                yield
        except WritebackFailed as error:
            atomic.__exit__(type(error), error, error.__traceback__)
            raise _written_back_failed(path, error) from error
        except BaseException as error:
            atomic.__exit__(type(error), error, error.__traceback__)
            raise
        try:
            atomic.__exit__(None, None, None)  # the commit; Django rolls back if it fails
        except DatabaseError as error:
            raise _commit_failed(path, error) from error
    finally:
        connection.enable_constraint_checking()


def _migration_failed(using: str, error: DatabaseError, *, whole_run: bool) -> MigrateRefused:
    """The refusal for a migration the database stopped, rolled back: a row a new constraint
    refuses (exit 18), a full disk (14, with the free space where SQLite writes), a lock (8),
    anything else (17). Unless the run was one transaction (`whole_run`, said after this by
    ROLLED_BACK_WITH_THE_RUN), the migrations it went through before stay as they are, and the
    message says so. An error outside any migration (Django's own tables, its post-migrate
    signals) is said as such."""
    failed = getattr(error, "failed_migration", None)
    backwards = getattr(error, "failed_backwards", False)
    if failed is None:
        said = f"migrate was stopped by the database outside a migration ({error})."
    elif backwards:
        said = f"Unapplying {failed} was stopped by the database ({error}) and rolled back."
        if not whole_run:
            said += " The migrations unapplied before it stay unapplied; it stays applied."
    else:
        said = f"{failed} was stopped by the database ({error}) and rolled back."
        if not whole_run:
            said += " The migrations before it stay applied."
    if isinstance(error, IntegrityError):
        rule = "the schema it goes back to" if backwards else "a rule the migration adds"
        return MigrateRefused(
            f"{said} A row breaks {rule}; the message names it. Correct or delete that row (in "
            "the legacy app or the admin) and run again.",
            Exit.CHECKS_VIOLATED,
        )
    code = write_failure(error)
    if code == LegacyDbProblem.NO_SPACE:
        connection = connections[using]
        if connection.vendor != "sqlite":
            return MigrateRefused(
                f"{said} The database server's disk is full. Free space there and run again.",
                code,
            )
        name = connection.settings_dict["NAME"]
        folders = [Path(name).resolve().parent] if is_file_database(name) else []
        free = "; ".join(
            f"{folder}: {shutil.disk_usage(folder).free} bytes free"
            for folder in dict.fromkeys([*folders, sqlite_temp_folder()])
        )
        return MigrateRefused(
            f"{said} A disk filled up ({free}). Free space there, or point SQLITE_TMPDIR at a "
            "folder on a disk with more room, and run again.",
            code,
        )
    if code == LegacyDbProblem.LOCKED:
        return MigrateRefused(
            f"{said} Stop the program using the database (the old app?) and run again.", code
        )
    return MigrateRefused(f"{said} Run migration_readiness for what it finds.", code)


def _commit_failed(path: Path, error: DatabaseError) -> MigrateRefused:
    """The refusal for a commit SQLite could not make, rolled back (the backup is verified by
    then, and said)."""
    code = write_failure(error)
    advice = {
        LegacyDbProblem.NO_SPACE: "Free space on that disk and run again.",
        LegacyDbProblem.LOCKED: "Stop the program reading it (the old app?) and run again.",
    }.get(code, "Run migration_readiness for what it finds in the file.")
    return MigrateRefused(
        f"SQLite could not commit the migration of {path} ({error}), so it was rolled back: the "
        f"file is as it was before this run. {advice}",
        code,
    )


def _written_back_failed(path: Path, error: WritebackFailed) -> MigrateRefused:
    """The refusal for pages of the run that did not reach the disk, rolled back before the
    commit (db_tuning.sqlite_writeback)."""
    full = error.errno in (errno.ENOSPC, errno.EDQUOT)
    return MigrateRefused(
        f"Writing the migration of {path} to the disk failed ({error}), so it was rolled back "
        "before its commit: the file is as it was before this run. "
        + (
            "Free space on that disk and run again."
            if full
            else "Check the disk (the system's log names the error) and run again."
        ),
        LegacyDbProblem.NO_SPACE if full else LegacyDbProblem.FAILED,
    )


def _django_migrate(
    using: str, reporter: Reporter, app_label: str | None, migration_name: str | None
) -> Callable[[], None]:
    arguments = [argument for argument in (app_label, migration_name) if argument]
    command = ReportingMigrateCommand()
    # Set, not passed: call_command would wrap the reporter's streams once more.
    command.stdout, command.stderr, command.reporter = reporter.stdout, reporter.stderr, reporter

    def apply() -> None:
        call_command(
            command, *arguments, database=using, interactive=False, verbosity=reporter.verbosity
        )

    return apply


def _check_space(using: str, found: AdoptionResult, *, backup: bool) -> None:
    """Refuse before the backup when the disk cannot hold it and the table rebuilds."""
    refusal = disk_refusal(
        migrate_disk_needs(using=using, found=found, backup=backup),
        path=found.path or connections[using].settings_dict["NAME"],
    )
    if refusal is not None:
        raise refusal


def _pending(using: str) -> bool:
    executor = MigrationExecutor(connections[using])
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def _plan(using: str, targets: tuple[str | None, str | None]) -> list:
    """The plan this run will carry out, forwards or backwards (as Django's migrate reads its
    arguments); an argument Django will refuse gives an empty plan here."""
    executor = MigrationExecutor(connections[using])
    app_label, name = targets
    leaves = executor.loader.graph.leaf_nodes()
    if app_label and name == "zero":
        leaves = [(app_label, None)]
    elif app_label and name:
        try:
            migration = executor.loader.get_migration_by_prefix(app_label, name)
            leaves = [(app_label, migration.name)]
        except (AmbiguityError, KeyError):
            return []
    elif app_label:
        leaves = [key for key in leaves if key[0] == app_label]
    return executor.migration_plan(leaves)


def _refuse_backward_losses(
    using: str, targets: tuple[str | None, str | None], backup: Backup | None
) -> None:
    """Stop before anything is undone when going back would discard data written since
    goals.0004 ran (goals_project.maintenance.backward_safety)."""
    plan = [migration for migration, backwards in _plan(using, targets) if backwards]
    if not plan:
        return
    _refuse_dropping_tables_with_rows(using, plan, backup)
    executor = MigrationExecutor(connections[using])
    latest = executor.loader.project_state().apps
    dropped: list[DroppedColumn] = []
    for migration in plan:
        label = f"{migration.app_label}.{migration.name}"
        recorded = any(isinstance(op, ColumnsAddedRecord) for op in migration.operations)
        for operation in fields_added(migration.operations):
            model = latest.get_model(migration.app_label, operation.model_name)
            column = operation.field.clone()
            column.set_attributes_from_name(operation.name)
            dropped.append(DroppedColumn(model._meta.db_table, column.column, label, recorded))
    labels = [f"{m.app_label}.{m.name}" for m in plan]
    undo_backfill = MIGRATION in labels
    state = executor.loader.project_state(tuple(MIGRATION.split("."))).apps
    losses = backward_losses(
        connection=connections[using], apps=state, undo_backfill=undo_backfill, dropped=dropped
    )
    if losses:
        if backup is None:
            note = "No backup was taken (--no-backup)."
        else:
            note = f"A verified backup of the database as it is: {backup.path}."
        over = [label for label in labels if label in losses.migrations(dropped)]
        raise MigrateRefused(refusal_message(losses, backup=note, over=over), Exit.WOULD_DISCARD)


def _refuse_dropping_tables_with_rows(using: str, plan: list, backup: Backup | None) -> None:
    """Unapplying a migration that created a table drops it with its rows: the baselines created
    the legacy tables, so going back past them (`migrate goals zero`) would delete every goal and
    session, and `migrate auth zero` every user, with the admin's history. Refused when such a
    table holds a row; an empty one may go. The tables our later migrations create are their own
    records (legacy_repairs), which going back reads and drops."""
    connection = connections[using]
    tables = connection.introspection.table_names()
    holding: dict[str, int] = {}
    unapplied = []
    for migration in plan:
        if migration.app_label in APPS and not migration.initial:
            continue  # our later tables (legacy_repairs) are the migrations' own records
        for operation in migration.operations:
            if not isinstance(operation, migrations.CreateModel):
                continue
            table = operation.options.get("db_table") or (
                f"{migration.app_label}_{operation.name_lower}"
            )
            if table not in tables:
                continue
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
                count = cursor.fetchone()[0]
            if count:
                holding[table] = count
                unapplied.append(f"{migration.app_label}.{migration.name}")
    if not holding:
        return
    note = (
        "No backup was taken (--no-backup)."
        if backup is None
        else f"A verified backup of the database as it is: {backup.path}."
    )
    raise _dropping_refusal(sorted(set(unapplied)), holding, note)


def _refuse_unadopting(found: AdoptionResult, targets: tuple[str | None, str | None]) -> None:
    """`migrate goals zero` on a legacy file not adopted yet: adopting it only to unapply its
    baselines would drop its tables, so it is refused before adoption (which, without a backup,
    commits on its own)."""
    app_label, name = targets
    if found.state_before != DbState.LEGACY or name != "zero" or app_label not in APPS:
        return
    holding = {table: count for table, count in found.row_counts.items() if count}
    if holding:
        baselines = [f"{app}.{migration}" for app, migration in VARIANTS[found.variant].adopt_at]
        raise _dropping_refusal(baselines, holding, "It is a legacy file, not adopted yet.")


def _dropping_refusal(unapplied: list[str], holding: dict[str, int], note: str) -> MigrateRefused:
    listed = ", ".join(f"{table} ({count} rows)" for table, count in sorted(holding.items()))
    legacy = any(name.split(".")[0] in APPS for name in unapplied)
    return MigrateRefused(
        f"Going back this far would unapply {', '.join(unapplied)}, which created tables that "
        f"hold rows: {listed}. Unapplying them drops the tables and every row in them; there is "
        "no earlier schema to keep the rows in. Nothing was changed. "
        + (
            "To go back to the legacy file as it was before migrating, restore the backup taken "
            "then (manage.py list_backups, manage.py restore_db). "
            if legacy
            else "Delete those rows first if they are to go. "
        )
        + note,
        Exit.WOULD_DISCARD,
    )


def _backup_heading(reporter: Reporter) -> None:
    reporter.result(reporter.style.MIGRATE_HEADING("Backing up before migrating:"))


def _backup_begin(
    using: str, reporter: Reporter, *, behind: bool, meanwhile: bool = False
) -> PendingBackup:
    """backup_begin; its heading is said now, or with `meanwhile` once the copy is taken."""
    if not meanwhile:
        _backup_heading(reporter)
    return backup_begin(using=using, step=reporter.step, behind=behind, meanwhile=meanwhile)


def _backup_finish(pending: PendingBackup, reporter: Reporter) -> Backup:
    """The verified backup, its path said once however often this is called."""
    said = pending.finished
    backup = pending.finish()
    if not said:
        reporter.result(f"  verified backup {backup.path}")
    return backup


def _adopt(
    using: str,
    reporter: Reporter,
    *,
    backup: PendingBackup | None,
    found: AdoptionResult,
    unchanged: Callable[[], bool] | None,
) -> AdoptionResult:
    """Adopt the file as `found` (inspected and checked under the maintenance lock); with a
    `backup` begun, commit only once it is verified."""
    result = legacy_db_adopt(
        using=using,
        progress=reporter.rows,
        enable_wal=False,
        before_commit=None if backup is None else lambda: _backup_finish(backup, reporter),
        found=found,
        unchanged=unchanged,
    )
    if result.adopted:
        reporter.result(
            reporter.style.SUCCESS(
                f"Adopted legacy '{result.variant}' database {result.path} "
                f"(recorded as applied: {', '.join(result.recorded)})."
            )
        )
        for note in result.kept_columns_notes():
            reporter.warning(note)
    return result
