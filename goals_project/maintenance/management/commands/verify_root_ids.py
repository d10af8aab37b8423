"""manage.py verify_root_ids: prove that every row knows its fractal's root."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import asdict
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections

from goals_project.bases.commands import (
    ExitStatusesInHelp,
    add_database_argument,
    add_json_argument,
    json_document,
)
from goals_project.bases.exit_codes import Exit
from goals_project.bases.progress import Reporter
from goals_project.maintenance.legacy.adoption import database_path
from goals_project.maintenance.legacy.inspection import (
    DbState,
    LegacyDbError,
    damage_refusal,
    legacy_db_integrity_begin,
    sqlite_file_state,
)
from goals_project.maintenance.verification import RootIdReport, root_id_report


class Command(ExitStatusesInHelp, BaseCommand):
    help = (
        "Check root_id on every table that carries it (NOT NULL, no missing or non-root goals, "
        "agreement with parent and owner chains) and that the plan's 26 indexes exist."
    )

    exit_statuses = (
        Exit.NOT_PASSED,
        Exit.USAGE,
        Exit.NOT_SQLITE,
        Exit.EMPTY,
        Exit.UNSUPPORTED_SCHEMA,
        Exit.READ_ONLY,
        Exit.LOCKED,
        Exit.DAMAGED,
        Exit.HOT_JOURNAL,
        Exit.DATABASE_ERROR,
    )

    def add_arguments(self, parser) -> None:
        add_database_argument(parser, "to verify")
        add_json_argument(parser, "the checks")

    def handle(self, *args, **options) -> None:
        if options["database"] not in connections:
            raise CommandError(
                f"No database alias '{options['database']}' is configured (known: "
                f"{', '.join(connections)}). Pass one of those to --database.",
                returncode=Exit.USAGE,
            )
        checking = _refuse_a_file_without_a_database(options["database"])
        reporter = Reporter.of(self, options)
        try:
            report = root_id_report(using=options["database"], step=reporter.step)
        except DatabaseError as error:
            _refuse_damage(options["database"], checking, error)
            raise
        _refuse_damage(options["database"], checking)
        if options["json"]:
            self._render_json(report)
        else:
            self._render(report, reporter)
        if not report.ok:
            raise CommandError(
                f"{report.failed} root_id checks failed (listed above).", returncode=Exit.NOT_PASSED
            )

    def _render(self, report: RootIdReport, reporter: Reporter) -> None:
        for check in report.checks:
            if check.ok:
                reporter.result(f"{self.style.SUCCESS('OK  ')} {check.table}: {check.check}")
                continue
            sample = f" (first: {', '.join(check.sample_ids)})" if check.sample_ids else ""
            # At every verbosity: these are the failures the error refers to.
            self.stdout.write(
                f"{self.style.ERROR('FAIL')} {check.table}: {check.check}: "
                f"{check.failures} failing{sample}"
            )
        if report.ok:
            reporter.result(self.style.SUCCESS(f"All {len(report.checks)} root_id checks pass."))

    def _render_json(self, report: RootIdReport) -> None:
        payload = {
            "ok": report.ok,
            "failed": report.failed,
            "checks": [dict(asdict(check), ok=check.ok) for check in report.checks],
        }
        self.stdout.write(json_document(payload), ending="")


def _refuse_a_file_without_a_database(using: str) -> Future[None] | None:
    """A SQLite path that holds no database to verify is refused before a connection opens it:
    SQLite would create a missing file, and meet a file that is not SQLite, or a damaged or
    locked one, or a legacy schema without the tables the checks read (pre_sti), with a
    traceback. Return the file's integrity check (legacy_db_integrity_begin), begun on a thread
    of its own: it reads every page, which the verification's reads may not (0.6 s beside its
    2.5 s at a million metric values), and the caller refuses a damaged file on it
    (_refuse_damage) before it reports."""
    if connections[using].vendor != "sqlite" or (path := database_path(using)) is None:
        return None
    try:
        state = sqlite_file_state(path, integrity=False, supported=True)
    except LegacyDbError as error:
        raise CommandError(str(error), returncode=int(error.problem)) from error
    if state == DbState.MISSING:
        raise CommandError(
            f"{path} does not exist, so there is nothing to verify (no file was made). Point "
            "DATABASE_URL at the migrated database file.",
            returncode=Exit.USAGE,
        )
    if state == DbState.NEW:
        raise CommandError(
            f"{path} is empty, so there is nothing to verify. Point DATABASE_URL at the "
            "migrated database file, or run `manage.py migrate` first.",
            returncode=Exit.EMPTY,
        )
    return legacy_db_integrity_begin(path)


def _refuse_damage(
    using: str, checking: Future[None] | None, error: DatabaseError | None = None
) -> None:
    """Refuse a damaged file as inspection does (9), whatever the verification met: the
    integrity check's refusal, else SQLite's word for damage in `error` (the verification's
    reads of the file, SQLite's "database disk image is malformed")."""
    if checking is not None and isinstance(checking.exception(), LegacyDbError):
        found = checking.exception()
        raise CommandError(str(found), returncode=int(found.problem)) from error or found
    if connections[using].vendor != "sqlite":
        return  # PostgreSQL's errors are its own (manage.py names a connection refused)
    if error is not None and (path := database_path(using)) is not None:
        damage = damage_refusal(Path(path), error)
        if damage is not None:
            raise CommandError(str(damage), returncode=int(damage.problem)) from error
