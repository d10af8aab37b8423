"""manage.py move_to_postgres URL: the SQLite database into an empty PostgreSQL database."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from goals_project.bases.commands import (
    ExitStatusesInHelp,
    add_database_argument,
    interrupted_said,
)
from goals_project.bases.exit_codes import ADOPTION, Exit
from goals_project.bases.progress import Reporter
from goals_project.maintenance.legacy.adoption import legacy_db_inspect_alias
from goals_project.maintenance.legacy.inspection import DbState, LegacyDbError
from goals_project.maintenance.postgres_move import (
    MoveError,
    MoveResult,
    check_target,
    postgres_move,
)


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
        database = options["database"]
        reporter = Reporter.of(self, options)
        self._migrate_first(database, options["target"], reporter)
        with (
            _refusal_as_command_error(),
            interrupted_said("the target was rolled back, nothing was written."),
        ):
            result = postgres_move(
                target_url=options["target"],
                using=database,
                progress=reporter.rows,
                stage=reporter.step,
            )
        self._render(result, reporter)

    def _migrate_first(self, database: str, target: str, reporter: Reporter) -> None:
        """A legacy file, or one with migrations to apply, goes through `migrate` (adoption,
        its verified backup, the improvements) before anything is copied; but first the target
        is checked, so that a target the move would refuse leaves the file as it was."""
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
        with _refusal_as_command_error():
            check_target(target)
        reporter.result(
            self.style.MIGRATE_HEADING(
                f"{found.path} has migrations to apply: migrating it first (manage.py migrate):"
            )
        )
        call_command(
            "migrate",
            database=database,
            verbosity=reporter.verbosity,
            stdout=self.stdout._out,
            stderr=self.stderr._out,
        )
        connections[database].close()

    def _render(self, result: MoveResult, reporter: Reporter) -> None:
        width = max(len(table.table) for table in result.tables)
        reporter.result(f"  {'table':<{width}}  {'SQLite':>10}  {'PostgreSQL':>10}")
        for table in result.tables:
            reporter.result(
                f"  {table.table:<{width}}  {table.source_rows:>10}  {table.target_rows:>10}"
            )
        what = "already held" if result.already else "now holds"
        reporter.result(
            self.style.SUCCESS(
                f"{result.target} {what} every row of {result.source}: {result.rows} rows in "
                f"{len(result.tables)} tables, equal value by value; all {result.root_checks} "
                "root_id checks pass. Point DATABASE_URL at it to use it."
            )
        )


@contextlib.contextmanager
def _refusal_as_command_error() -> Iterator[None]:
    try:
        yield
    except MoveError as error:
        raise CommandError(str(error), returncode=error.code) from error
