"""manage.py restore_db BACKUP: replace the database with a verified backup."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS

from goals.backups import BackupError, backup_read, backup_restore
from goals.locking import MaintenanceBusy, maintenance_lock


class Command(BaseCommand):
    help = (
        "Restore a verified backup over the database, after taking a safety backup of the "
        "current one."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("backup", type=Path, help="The backup file to restore.")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="Database alias.")
        parser.add_argument("--dir", type=Path, help="Folder for the safety backup.")
        parser.add_argument(
            "--yes", action="store_true", help="Do not ask for confirmation (for scripts)."
        )

    def handle(self, *args, **options) -> None:
        backup = backup_read(options["backup"], deep=True)
        if not backup.verified:
            raise CommandError(
                f"{options['backup']} cannot be restored: {backup.problem}. Choose a verified "
                "backup (manage.py list_backups).",
                returncode=3,
            )
        if not options["yes"] and not self._confirm(backup):
            raise CommandError("Restore cancelled; nothing was changed.", returncode=1)
        try:
            with maintenance_lock(operation="restore_db", using=options["database"]):
                result = backup_restore(
                    path=options["backup"], using=options["database"], directory=options["dir"]
                )
        except (BackupError, MaintenanceBusy) as error:
            raise CommandError(str(error), returncode=error.code) from error
        for path in result.removed_leftovers:
            self.stdout.write(f"Removed {path}, left by an interrupted restore.")
        if result.safety_backup is not None:
            self.stdout.write(
                f"Safety backup of the replaced database: {result.safety_backup.path}"
            )
        self.stdout.write(self.style.SUCCESS(f"Restored {result.restored.path}."))

    def _confirm(self, backup) -> bool:
        try:
            answer = input(
                f"Replace the database with {backup.path.name} ({backup.created_at})? "
                "A safety backup is taken first. [y/N] "
            )
        except EOFError:  # no terminal: no answer means no
            return False
        return answer.strip().lower() in {"y", "yes"}
