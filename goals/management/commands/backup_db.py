"""manage.py backup_db: take a consistent, verified backup of the database."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS

from goals.backups import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Back up the database (SQLite online backup API, or pg_dump), verify the copy and write "
        "its manifest beside it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--database", default=DEFAULT_DB_ALIAS, help="Database alias to back up."
        )
        parser.add_argument(
            "--dir",
            type=Path,
            help="Backup folder (default: FRACTAL_BACKUP_DIR, or backups/ beside the database).",
        )
        parser.add_argument(
            "--keep",
            type=int,
            help="Keep only the newest N verified backups (the newest is never deleted).",
        )

    def handle(self, *args, **options) -> None:
        try:
            backup = backup_create(
                using=options["database"], directory=options["dir"], keep=options["keep"]
            )
        except BackupError as error:
            raise CommandError(str(error), returncode=error.code) from error
        total = sum(backup.row_counts.values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup verified: {backup.path} ({backup.size} bytes, {total} rows in "
                f"{len(backup.row_counts)} tables, sha256 {backup.sha256[:12]}…)"
            )
        )
