"""manage.py migrate, which first adopts a legacy Fractal Goals SQLite file when it finds one."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands.migrate import Command as DjangoMigrateCommand
from django.db import connections
from django.db.migrations.exceptions import AmbiguityError
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations import AddField

from goals_project.bases.commands import ExitStatusesInHelp
from goals_project.bases.exit_codes import ADOPTION, Exit
from goals_project.maintenance.backups import BackupError, backup_create
from goals_project.maintenance.backward_safety import MIGRATION, backward_losses, refusal_message
from goals_project.maintenance.db_tuning import planner_statistics_refresh, sqlite_bulk_cache
from goals_project.maintenance.legacy.adoption import (
    legacy_db_adopt,
    legacy_db_check_writable,
    legacy_db_inspect_alias,
    legacy_db_preflight,
    legacy_db_recover,
    sqlite_enable_wal,
)
from goals_project.maintenance.legacy.inspection import DbState, LegacyDbError
from goals_project.maintenance.legacy.preflight import (
    disk_refusal,
    holds_data_to_migrate,
    migrate_disk_needs,
)
from goals_project.maintenance.locking import MaintenanceBusy, maintenance_lock
from goals_project.maintenance.migration_executor import recording_executor


class Command(ExitStatusesInHelp, DjangoMigrateCommand):
    help = (
        "Update the database schema; a database holding data is backed up and verified first, "
        "and a legacy Fractal Goals SQLite file is adopted (see adopt_legacy_db)."
    )

    exit_statuses = (
        *ADOPTION,
        Exit.BUSY,
        Exit.CHECKS_VIOLATED,
        Exit.ROOTS_BROKEN,
        Exit.BACKUP_UNVERIFIED,
        Exit.TOOL_MISSING,
        Exit.WOULD_DISCARD,
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--no-backup",
            action="store_true",
            help="Do not back up first (for throw-away databases; also "
            "FRACTAL_BACKUP_BEFORE_MIGRATE=0).",
        )

    def handle(self, *args, **options) -> None:
        database = options["database"]
        if options["plan"]:
            self._explain_adoption(database)
            super().handle(*args, **options)
            return
        try:
            legacy_db_check_writable(using=database)
        except LegacyDbError as error:
            raise CommandError(str(error), returncode=int(error.problem)) from error
        try:
            with maintenance_lock(operation="migrate", using=database):
                self._migrate(*args, **options)
        except MaintenanceBusy as error:
            raise CommandError(str(error), returncode=error.code) from error

    def _migrate(self, *args, **options) -> None:
        database = options["database"]
        with sqlite_bulk_cache(using=database):
            backup = None
            try:
                self._recover(database)
                found = legacy_db_inspect_alias(using=database)
                if found.state_before == DbState.LEGACY:
                    legacy_db_preflight(using=database, found=found)
                wanted = self._wants_backup(options)
                self._check_space(database, found, backup=wanted)
                planned = bool(self._plan(database, options))
                if wanted and holds_data_to_migrate(using=database, found=found, planned=planned):
                    backup = self._backup(database)
                self._adopt(database, options["verbosity"])
            except LegacyDbError as error:
                raise CommandError(str(error), returncode=int(error.problem)) from error
            except BackupError as error:
                raise CommandError(
                    f"{error} The backup taken before migrating failed, so nothing was migrated.",
                    returncode=error.code,
                ) from error
            self._refuse_backward_losses(database, options, backup)
            pending = self._pending(database)
            with recording_executor():
                super().handle(*args, **options)
        # Only now: the rebuilds above wrote each page once under the rollback journal.
        sqlite_enable_wal(using=database)
        if pending:
            planner_statistics_refresh(using=database)

    def _explain_adoption(self, database: str) -> None:
        try:
            found = legacy_db_inspect_alias(using=database)
        except LegacyDbError as error:
            raise CommandError(str(error), returncode=int(error.problem)) from error
        if found.state_before == DbState.LEGACY:
            self.stdout.write(
                self.style.MIGRATE_HEADING(
                    f"{found.path} is a legacy '{found.variant}' database: it will be "
                    "adopted at the baseline first."
                )
            )

    def _recover(self, database: str) -> None:
        journal = legacy_db_recover(using=database)
        if journal is not None:
            self.stdout.write(
                self.style.WARNING(
                    f"Rolled back the unfinished write in {journal} that a killed program left "
                    "(SQLite's own recovery): the file is as it was at its last commit."
                )
            )

    def _check_space(self, database: str, found, *, backup: bool) -> None:
        """Refuse before the backup when the disk cannot hold it and the table rebuilds."""
        refusal = disk_refusal(
            migrate_disk_needs(using=database, found=found, backup=backup),
            path=found.path or connections[database].settings_dict["NAME"],
        )
        if refusal is not None:
            raise refusal

    def _pending(self, database: str) -> bool:
        executor = MigrationExecutor(connections[database])
        return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))

    def _wants_backup(self, options) -> bool:
        return settings.FRACTAL_BACKUP_BEFORE_MIGRATE and not options["no_backup"]

    def _plan(self, database: str, options) -> list:
        """The plan this run will carry out, forwards or backwards (as Django's migrate reads
        its arguments); an argument Django will refuse gives an empty plan here."""
        executor = MigrationExecutor(connections[database])
        app_label, name = options["app_label"], options["migration_name"]
        targets = executor.loader.graph.leaf_nodes()
        if app_label and name == "zero":
            targets = [(app_label, None)]
        elif app_label and name:
            try:
                migration = executor.loader.get_migration_by_prefix(app_label, name)
                targets = [(app_label, migration.name)]
            except (AmbiguityError, KeyError):
                return []
        elif app_label:
            targets = [key for key in targets if key[0] == app_label]
        return executor.migration_plan(targets)

    def _refuse_backward_losses(self, database: str, options, backup) -> None:
        """Stop before anything is undone when going back would discard data written since
        goals.0004 ran (goals_project.maintenance.backward_safety)."""
        plan = [migration for migration, backwards in self._plan(database, options) if backwards]
        if not plan:
            return
        executor = MigrationExecutor(connections[database])
        latest = executor.loader.project_state().apps
        dropped: dict[str, tuple[str, ...]] = {}
        for migration in plan:
            for operation in migration.operations:
                if isinstance(operation, AddField):
                    model = latest.get_model(migration.app_label, operation.model_name)
                    column = operation.field.clone()
                    column.set_attributes_from_name(operation.name)
                    table = model._meta.db_table
                    dropped[table] = (*dropped.get(table, ()), column.column)
        undo_backfill = any(f"{m.app_label}.{m.name}" == MIGRATION for m in plan)
        state = executor.loader.project_state(tuple(MIGRATION.split("."))).apps
        losses = backward_losses(
            connection=connections[database],
            apps=state,
            undo_backfill=undo_backfill,
            dropped=dropped,
        )
        if losses:
            if backup is None:
                note = "No backup was taken (--no-backup)."
            else:
                note = f"A verified backup of the database as it is: {backup.path}."
            raise CommandError(refusal_message(losses, backup=note), returncode=Exit.WOULD_DISCARD)

    def _backup(self, database: str):
        self.stdout.write(self.style.MIGRATE_HEADING("Backing up before migrating:"))
        backup = backup_create(using=database)
        self.stdout.write(f"  verified backup {backup.path}")
        return backup

    def _adopt(self, database: str, verbosity: int) -> None:
        def progress(table: str, done: int, total: int) -> None:
            if verbosity >= 1:
                self.stdout.write(f"  Adopting {table}... {done}/{total} rows")

        result = legacy_db_adopt(using=database, progress=progress, enable_wal=False)
        if result.adopted and verbosity >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Adopted legacy '{result.variant}' database {result.path} "
                    f"(recorded as applied: {', '.join(result.recorded)})."
                )
            )
            for note in result.kept_columns_notes():
                self.stdout.write(self.style.WARNING(note))
