"""manage.py list_backups: the database's backups, newest first."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from django.core.management.base import BaseCommand

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


class Command(ExitStatusesInHelp, BaseCommand):
    help = "List the database's backups, newest first: time, size, verified, schema version."

    exit_statuses = (Exit.USAGE,)

    def add_arguments(self, parser) -> None:
        add_database_argument(parser, "whose backups to list")
        parser.add_argument("--dir", type=Path, help="Backup folder to list.")
        add_json_argument(parser, "the backups")

    def handle(self, *args, **options) -> None:
        reporter = Reporter.of(self, options)
        folder = backup_dir(using=options["database"], directory=options["dir"])
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
