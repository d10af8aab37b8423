"""manage.py move_to_postgres URL: the SQLite database into an empty PostgreSQL database."""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from goals.commands import ExitStatusesInHelp, add_database_argument
from goals.exit_codes import ADOPTION, Exit
from goals.legacy.adoption import legacy_db_inspect_alias
from goals.legacy.inspection import DbState, LegacyDbError
from goals.postgres_move import MoveError, MoveResult, postgres_move


class Command(ExitStatusesInHelp, BaseCommand):
    help = (
        "Copy the SQLite database (a legacy file is migrated first, with its backup) into an "
        "empty PostgreSQL database at the latest schema, in one transaction, verified value by "
        "value before it is committed; the SQLite file is only read."
    )

    exit_statuses = (
        *ADOPTION,
        Exit.BUSY,
        Exit.CHECKS_VIOLATED,
        Exit.ROOTS_BROKEN,
        Exit.BACKUP_UNVERIFIED,
        Exit.TOOL_MISSING,
        Exit.TARGET_NOT_EMPTY,
        Exit.UNREACHABLE,
        Exit.NO_PRIVILEGE,
        Exit.SOURCE_NOT_READY,
        Exit.COPY_DIFFERS,
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "target",
            help="The empty PostgreSQL database to move into, as a URL "
            "(postgres://user:password@host:5432/name).",
        )
        add_database_argument(parser, "of the SQLite database to move")

    def handle(self, *args, **options) -> None:
        database, verbosity = options["database"], options["verbosity"]
        self._migrate_first(database, verbosity)

        def progress(table: str, done: int, total: int) -> None:
            if verbosity >= 1 and (done == total or done == 0 or verbosity >= 2):
                self.stdout.write(f"  Copying {table}... {done}/{total} rows")

        def stage(message: str) -> None:
            if verbosity >= 1:
                self.stdout.write(self.style.MIGRATE_HEADING(f"{message}:"))

        try:
            result = postgres_move(
                target_url=options["target"], using=database, progress=progress, stage=stage
            )
        except MoveError as error:
            raise CommandError(str(error), returncode=error.code) from error
        except KeyboardInterrupt as error:
            raise CommandError(
                "Interrupted; the target was rolled back, nothing was written.",
                returncode=Exit.INTERRUPTED,
            ) from error
        self._render(result, verbosity)

    def _migrate_first(self, database: str, verbosity: int) -> None:
        """A legacy file, or one with migrations to apply, goes through `migrate` (adoption,
        its verified backup, the improvements) before anything is copied."""
        if connections[database].vendor != "sqlite":
            return  # the move refuses it with its reason
        try:
            found = legacy_db_inspect_alias(using=database)
        except LegacyDbError as error:
            raise CommandError(str(error), returncode=int(error.problem)) from error
        if found.state_before in (DbState.MISSING, DbState.NEW):
            return  # the move refuses it: nothing to move
        if found.state_before != DbState.LEGACY:
            executor = MigrationExecutor(connections[database])
            if not executor.migration_plan(executor.loader.graph.leaf_nodes()):
                return
        if verbosity >= 1:
            self.stdout.write(
                self.style.MIGRATE_HEADING(
                    f"{found.path} has migrations to apply: migrating it first (manage.py migrate):"
                )
            )
        call_command("migrate", database=database, verbosity=verbosity, stdout=self.stdout._out)
        connections[database].close()

    def _render(self, result: MoveResult, verbosity: int) -> None:
        if verbosity >= 1:
            width = max(len(table.table) for table in result.tables)
            self.stdout.write(f"  {'table':<{width}}  {'SQLite':>10}  {'PostgreSQL':>10}")
            for table in result.tables:
                self.stdout.write(
                    f"  {table.table:<{width}}  {table.source_rows:>10}  {table.target_rows:>10}"
                )
        what = "already held" if result.already else "now holds"
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.target} {what} every row of {result.source}: {result.rows} rows in "
                f"{len(result.tables)} tables, equal value by value; all {result.root_checks} "
                "root_id checks pass. Point DATABASE_URL at it to use it."
            )
        )
