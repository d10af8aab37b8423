"""manage.py restore_db BACKUP: replace the database with a verified backup."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from goals_project.bases.commands import (
    ExitStatusesInHelp,
    add_database_argument,
    interrupted_said,
)
from goals_project.bases.exit_codes import BACKUP, Exit
from goals_project.bases.progress import Reporter
from goals_project.maintenance.backups import (
    BackupError,
    backup_read,
    backup_restore,
    backup_to_restore,
    database_path_problem,
)
from goals_project.maintenance.locking import MaintenanceBusy, maintenance_lock


class Command(ExitStatusesInHelp, BaseCommand):
    help = (
        "Restore a verified backup over the database, after taking a safety backup of the "
        "current one."
    )

    exit_statuses = (*BACKUP, Exit.BUSY, Exit.CANCELLED, Exit.INTERRUPTED)

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "backup",
            type=Path,
            help="The backup to restore: its path, or its name as list_backups prints it "
            "(found in the backup folder).",
        )
        add_database_argument(parser, "to restore into")
        parser.add_argument(
            "--dir",
            type=Path,
            help="Backup folder, where a backup given by name is found and the safety backup "
            "goes (default: FRACTAL_BACKUP_DIR, or backups/ beside the database).",
        )
        parser.add_argument(
            "--yes", action="store_true", help="Do not ask for confirmation (for scripts)."
        )

    def handle(self, *args, **options) -> None:
        reporter = Reporter.of(self, options)
        try:
            # list_backups prints names: one is looked for in the folder it listed.
            path = backup_to_restore(
                options["backup"], using=options["database"], directory=options["dir"]
            )
            problem = database_path_problem(options["database"])
            if problem is not None:
                raise problem
        except BackupError as error:
            raise CommandError(str(error), returncode=error.code) from error
        reporter.step(f"verifying {path}")
        backup = backup_read(path, deep=True)
        if not backup.verified:
            raise CommandError(
                f"{path} cannot be restored: {backup.problem}. Choose a verified "
                "backup (manage.py list_backups).",
                returncode=Exit.BACKUP_UNVERIFIED,
            )
        if not options["yes"] and not self._confirm(backup):
            raise CommandError("Restore cancelled; nothing was changed.", returncode=Exit.CANCELLED)
        try:
            with (
                interrupted_said(
                    "the database is as it was, or wholly the backup (it is written in one "
                    "transaction); run verify_root_ids to see which, and restore_db again if "
                    "need be."
                ),
                maintenance_lock(operation="restore_db", using=options["database"]),
            ):
                result = backup_restore(
                    path=path,
                    using=options["database"],
                    directory=options["dir"],
                    step=reporter.step,
                )
        except (BackupError, MaintenanceBusy) as error:
            raise CommandError(str(error), returncode=error.code) from error
        for path in result.removed_leftovers:
            reporter.result(f"Removed {path}, left by an interrupted restore.")
        if result.safety_backup is not None:
            reporter.result(f"Safety backup of the replaced database: {result.safety_backup.path}")
        reporter.result(self.style.SUCCESS(f"Restored {result.restored.path}."))

    def _confirm(self, backup) -> bool:
        try:
            answer = input(
                f"Replace the database with {backup.path.name} ({backup.created_at})? "
                "A safety backup is taken first. [y/N] "
            )
        except EOFError:  # no terminal: no answer means no
            return False
        return answer.strip().lower() in {"y", "yes"}
