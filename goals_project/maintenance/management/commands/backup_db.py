"""manage.py backup_db: take a consistent, verified backup of the database."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from goals_project.bases.commands import (
    ExitStatusesInHelp,
    add_database_argument,
    add_json_argument,
    interrupted_said,
    json_document,
)
from goals_project.bases.exit_codes import BACKUP
from goals_project.bases.progress import Reporter
from goals_project.maintenance.backups import BackupError, backup_create
from goals_project.maintenance.legacy.adoption import legacy_db_recover, recovered_note
from goals_project.maintenance.legacy.inspection import LegacyDbError


class Command(ExitStatusesInHelp, BaseCommand):
    help = (
        "Back up the database (SQLite online backup API, or pg_dump), verify the copy and write "
        "its manifest beside it."
    )

    exit_statuses = BACKUP

    def add_arguments(self, parser) -> None:
        add_database_argument(parser, "to back up")
        parser.add_argument(
            "--dir",
            type=Path,
            help="Backup folder (default: FRACTAL_BACKUP_DIR, or backups/ beside the database)",
        )
        parser.add_argument(
            "--keep",
            type=int,
            help="Keep only the newest N verified backups (the newest is never deleted).",
        )
        add_json_argument(parser, "the verified backup")

    def handle(self, *args, **options) -> None:
        reporter = Reporter.of(self, options)
        try:
            # The copy's read would roll a cut-off write back anyway: done first, and said.
            recovered = legacy_db_recover(using=options["database"])
        except LegacyDbError as error:
            raise CommandError(str(error), returncode=int(error.problem)) from error
        if recovered is not None:
            reporter.warning(recovered_note(recovered))
        try:
            with interrupted_said(
                "a backup counts only once its manifest is written, and a copy without one was "
                "removed; list_backups shows the verified backups."
            ):
                backup = backup_create(
                    using=options["database"],
                    directory=options["dir"],
                    keep=options["keep"],
                    step=reporter.step,
                )
        except BackupError as error:
            raise CommandError(str(error), returncode=error.code) from error
        if options["json"]:
            self.stdout.write(json_document(backup), ending="")
            return
        total = sum(backup.row_counts.values())
        reporter.result(
            self.style.SUCCESS(
                f"Backup verified: {backup.path} ({backup.size} bytes, {total} rows in "
                f"{len(backup.row_counts)} tables, sha256 {backup.sha256[:12]}…)"
            )
        )
