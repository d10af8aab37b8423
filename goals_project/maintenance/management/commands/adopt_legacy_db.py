"""manage.py adopt_legacy_db: make Django the owner of a legacy Fractal Goals SQLite file."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from goals_project.bases.commands import (
    ExitStatusesInHelp,
    add_database_argument,
    add_json_argument,
    json_document,
)
from goals_project.bases.exit_codes import ADOPTION
from goals_project.bases.progress import Reporter
from goals_project.maintenance.legacy.adoption import (
    AdoptionResult,
    legacy_data_required,
    legacy_db_adopt,
    legacy_db_inspect_alias,
    legacy_db_recover,
    recovered_note,
)
from goals_project.maintenance.legacy.inspection import DbState, LegacyDbError


class Command(ExitStatusesInHelp, BaseCommand):
    help = (
        "Adopt a legacy Fractal Goals SQLite file (dev, prod or script-migrated schema) at the "
        "migrations its schema matches, "
        "keeping every row and value; `migrate` does this by itself when needed."
    )
    # Checks would open the database; the file must be inspected read-only first.
    requires_system_checks = []

    exit_statuses = ADOPTION

    def add_arguments(self, parser) -> None:
        add_database_argument(parser, "whose SQLite file to adopt")
        parser.add_argument(
            "--check",
            action="store_true",
            help="Only inspect the file and say what adoption would do; change nothing.",
        )
        parser.add_argument(
            "--recover",
            action="store_true",
            help="Only let SQLite roll back a write that a killed program left unfinished in "
            "the file's -journal, then stop (adoption and migrate do this first anyway).",
        )
        add_json_argument(parser, "the result")

    def handle(self, *args, **options) -> None:
        reporter = Reporter.of(self, options)
        try:
            if options["recover"]:
                self._recover(options["database"], reporter)
                return
            reporter.step(f"inspecting the '{options['database']}' database")
            if options["check"]:
                result = legacy_db_inspect_alias(using=options["database"])
                legacy_data_required(result)  # refused as adoption refuses it
            else:
                result = legacy_db_adopt(
                    using=options["database"], require_legacy=True, progress=reporter.rows
                )
        except LegacyDbError as error:
            raise CommandError(str(error), returncode=int(error.problem)) from error
        if options["json"]:
            self.stdout.write(json_document(_as_dict(result)), ending="")
        else:
            self._render(result, reporter, checking=options["check"])

    def _recover(self, database: str, reporter: Reporter) -> None:
        reporter.step(f"looking for an unfinished write beside the '{database}' database")
        journal = legacy_db_recover(using=database)
        if journal is None:
            reporter.result("No unfinished write to roll back; nothing was changed.")
        else:
            reporter.result(self.style.SUCCESS(recovered_note(journal)))

    def _render(self, result: AdoptionResult, reporter: Reporter, *, checking: bool) -> None:
        where = result.path or "the in-memory database"
        if result.recovered_journal is not None:
            reporter.warning(recovered_note(result.recovered_journal))
        if result.state_before == DbState.ADOPTED:
            reporter.result(self.style.SUCCESS(f"{where} is already adopted; nothing to do."))
        elif checking:
            reporter.result(
                f"{where} is a legacy '{result.variant}' database "
                f"({sum(result.row_counts.values())} rows); it can be adopted."
            )
        else:
            reporter.result(
                self.style.SUCCESS(
                    f"Adopted {where} ('{result.variant}' schema): "
                    f"{sum(result.row_counts.values())} rows kept "
                    f"in {len(result.row_counts)} tables."
                )
            )
            reporter.result(f"  recorded as applied: {', '.join(result.recorded)}")
            for column in result.added_columns:
                reporter.result(f"  added missing column {column}")
            for index in result.replaced_indexes:
                reporter.result(f"  replaced legacy index {index}")
        for note in result.kept_columns_notes():
            reporter.warning(note)
        for table in result.other_tables:
            reporter.warning(f"  left untouched: unknown table {table}")


def _as_dict(result: AdoptionResult) -> dict:
    return {
        "path": str(result.path) if result.path else None,
        "state_before": str(result.state_before),
        "variant": result.variant,
        "adopted": result.adopted,
        "row_counts": result.row_counts,
        "added_columns": list(result.added_columns),
        "replaced_indexes": list(result.replaced_indexes),
        "other_tables": list(result.other_tables),
        "extra_columns": {table: list(columns) for table, columns in result.extra_columns.items()},
        "recorded": list(result.recorded),
        "recovered_journal": str(result.recovered_journal) if result.recovered_journal else None,
    }
