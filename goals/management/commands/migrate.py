"""manage.py migrate, which first adopts a legacy Fractal Goals SQLite file when it finds one."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.core.management.commands.migrate import Command as DjangoMigrateCommand

from goals.legacy.adoption import legacy_db_adopt, legacy_db_inspect_alias
from goals.legacy.inspection import DbState, LegacyDbError


class Command(DjangoMigrateCommand):
    help = (
        "Update the database schema; a legacy Fractal Goals SQLite file is adopted first "
        "(see adopt_legacy_db)."
    )

    def handle(self, *args, **options) -> None:
        database = options["database"]
        try:
            if options["plan"]:
                found = legacy_db_inspect_alias(using=database)
                if found.state_before == DbState.LEGACY:
                    self.stdout.write(
                        self.style.MIGRATE_HEADING(
                            f"{found.path} is a legacy '{found.variant}' database: it will be "
                            "adopted at the baseline first."
                        )
                    )
            else:
                self._adopt(database, options["verbosity"])
        except LegacyDbError as error:
            raise CommandError(str(error), returncode=int(error.problem)) from error
        super().handle(*args, **options)

    def _adopt(self, database: str, verbosity: int) -> None:
        def progress(table: str, done: int, total: int) -> None:
            if verbosity >= 1:
                self.stdout.write(f"  Adopting {table}... {done}/{total} rows")

        result = legacy_db_adopt(using=database, progress=progress)
        if result.adopted and verbosity >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Adopted legacy '{result.variant}' database {result.path} "
                    f"(recorded as applied: {', '.join(result.recorded)})."
                )
            )
