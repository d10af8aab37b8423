"""manage.py migrate, which first adopts a legacy Fractal Goals SQLite file when it finds one."""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import CommandError
from django.db.migrations.exceptions import AmbiguityError
from django.db.migrations.loader import MigrationLoader

from goals_project.bases.commands import ExitStatusesInHelp, interrupted_said
from goals_project.bases.exit_codes import ADOPTION, Exit
from goals_project.bases.progress import Reporter
from goals_project.maintenance.legacy.adoption import legacy_db_inspect_alias
from goals_project.maintenance.legacy.inspection import DbState, LegacyDbError
from goals_project.maintenance.migrate_service import ReportingMigrateCommand, database_migrate

# What is left when Ctrl-C stops migrate: each migration is a transaction of its own, or a
# savepoint of the run's one transaction, which Django rolls back as the interrupt leaves it.
INTERRUPTED = (
    "the migration under way was rolled back; where adoption and the migrations ran in one "
    "transaction (a file holding data, backed up first) so was everything this run did. "
    "manage.py showmigrations lists what is applied; run migrate again to go on."
)


class Command(ExitStatusesInHelp, ReportingMigrateCommand):
    help = (
        "Update the database schema; a database holding data is backed up first, and no change "
        "is committed before that backup is verified; a legacy Fractal Goals SQLite file is "
        "adopted (see adopt_legacy_db) and migrated while the backup is being checked, in one "
        "transaction: a refusal or a failed check at any point leaves the file as it was."
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
        if not options["run_syncdb"]:  # Django's own check then: syncdb takes any app
            _refuse_an_unknown_target(options["app_label"], options["migration_name"])
        if options["prune"] and not options["app_label"]:  # Django finds out after the backup
            raise CommandError(
                "Migrations can be pruned only when an app is specified.", returncode=Exit.USAGE
            )
        if options["plan"] or options["check_unapplied"] or options["prune"]:
            # These apply nothing: no backup, no adoption (a legacy file has every migration
            # pending; --check exits 1 for them, as Django's does).
            self._explain_adoption(options["database"])
            super().handle(*args, **options)
            return
        self.reporter = Reporter.of(self, options)
        with interrupted_said(INTERRUPTED):
            self._migrate(*args, **options)

    def _migrate(self, *args, **options) -> None:
        database_migrate(
            using=options["database"],
            reporter=self.reporter,
            app_label=options["app_label"],
            migration_name=options["migration_name"],
            backup=not options["no_backup"],
            apply=lambda: super(Command, self).handle(*args, **options),
        )

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


def _refuse_an_unknown_target(app_label: str | None, migration_name: str | None) -> None:
    """An app or migration Django's migrate would not find is refused as a usage error before
    anything is done (Django finds out only after adoption and the backup). Django's words."""
    if app_label is None:
        return
    try:
        apps.get_app_config(app_label)
    except LookupError as error:
        raise CommandError(str(error), returncode=Exit.USAGE) from error
    loader = MigrationLoader(None, ignore_no_migrations=True)
    if app_label not in loader.migrated_apps:
        raise CommandError(f"App '{app_label}' does not have migrations.", returncode=Exit.USAGE)
    if migration_name is None or migration_name == "zero":
        return
    try:
        loader.get_migration_by_prefix(app_label, migration_name)
    except AmbiguityError as error:
        raise CommandError(
            f"More than one migration matches '{migration_name}' in app '{app_label}'. Please "
            "be more specific.",
            returncode=Exit.USAGE,
        ) from error
    except KeyError as error:
        raise CommandError(
            f"Cannot find a migration matching '{migration_name}' from app '{app_label}'.",
            returncode=Exit.USAGE,
        ) from error
