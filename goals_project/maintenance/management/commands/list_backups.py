"""manage.py list_backups: the database's backups, newest first."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from goals_project.bases.commands import (
    ExitStatusesInHelp,
    add_database_argument,
    add_json_argument,
    json_document,
)
from goals_project.bases.exit_codes import Exit
from goals_project.bases.progress import Reporter
from goals_project.maintenance.backups import backup_dir, backups_list


def _schema_version(migrations: list[str]) -> str:
    """The newest applied migration of each project app, e.g. goals.0006+practice_sessions.0004."""
    newest: dict[str, str] = {}
    for label in migrations:
        app, _, name = label.partition(".")
        if app in {"goals", "practice_sessions"}:
            newest[app] = max(newest.get(app, ""), name[:4])
    return "+".join(f"{app}.{number}" for app, number in sorted(newest.items())) or "legacy"


def _check_folder(folder: Path, *, given: bool) -> None:
    """A backup folder that is not one is an error (2), not "No backups yet": a file there, or a
    --dir that does not exist (a mistyped path; the default folder is made by the first
    backup, so before it there are no backups yet)."""
    if folder.exists() and not folder.is_dir():
        raise CommandError(
            f"The backup folder {folder} is not a folder. Give the folder the backups are in "
            "(--dir, FRACTAL_BACKUP_DIR).",
            returncode=Exit.USAGE,
        )
    if given and not folder.exists():
        raise CommandError(
            f"The backup folder {folder} does not exist. Give the folder the backups are in "
            "(--dir, FRACTAL_BACKUP_DIR).",
            returncode=Exit.USAGE,
        )


class Command(ExitStatusesInHelp, BaseCommand):
    help = (
        "List the database's backups, newest first: name, time, size, schema version, verified. "
        "restore_db takes a name as listed (with the same --dir)."
    )

    exit_statuses = (Exit.USAGE,)

    def add_arguments(self, parser) -> None:
        add_database_argument(parser, "whose backups to list")
        parser.add_argument(
            "--dir",
            type=Path,
            help="Backup folder to list (default: FRACTAL_BACKUP_DIR, or backups/ beside the "
            "database).",
        )
        add_json_argument(parser, "the backups")

    def handle(self, *args, **options) -> None:
        reporter = Reporter.of(self, options)
        folder = backup_dir(using=options["database"], directory=options["dir"])
        _check_folder(folder, given=options["dir"] is not None)
        reporter.step(f"reading the manifests in {folder}")
        backups = backups_list(using=options["database"], directory=options["dir"])
        if options["json"]:
            payload = [dict(asdict(b), path=str(b.path)) for b in backups]
            self.stdout.write(json_document(payload), ending="")
            return
        if not backups:
            reporter.result("No backups yet (manage.py backup_db takes one).")
        for backup in backups:
            state = (
                self.style.SUCCESS("verified")
                if backup.verified
                else self.style.ERROR(f"NOT verified: {backup.problem}")
            )
            schema = _schema_version(backup.migrations)
            reporter.result(
                f"{backup.path.name}  {backup.created_at or '?'}  {backup.size} bytes  "
                f"schema {schema}  {state}"
            )
