"""manage.py migration_readiness: is this database ready for the improvement migrations?"""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import asdict
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from goals_project.bases.commands import ExitStatusesInHelp, add_database_argument, json_document
from goals_project.bases.exit_codes import Exit
from goals_project.bases.progress import Reporter
from goals_project.maintenance.backfill_preview import PredictedRepair
from goals_project.maintenance.readiness import ReadinessReport, migration_readiness


class Command(ExitStatusesInHelp, BaseCommand):
    help = (
        "Assess the database before migrating (rows, schema variant, pending phases, data "
        "problems, what the backfill will repair, integrity, backups, disk, duration); ends "
        "READY or NOT READY. Changes nothing. The repairs come from a dry run of the backfill: "
        "on SQLite the migrations up to goals.0004 run on a copy in the temporary folder "
        "(TMPDIR), which takes about as long as those migrations and up to three times the "
        "file's size there, and is deleted afterwards; on PostgreSQL they run in a transaction "
        "that is rolled back (waiting at most 5 s for a table lock). The disk check counts what "
        "migrate needs: three times the file beside it, the backup, and half the file in "
        "SQLite's temporary folder (SQLITE_TMPDIR, else TMPDIR)."
    )
    requires_system_checks = []

    exit_statuses = (Exit.NOT_PASSED, Exit.USAGE, Exit.READ_ONLY, Exit.NO_SPACE)

    def add_arguments(self, parser) -> None:
        add_database_argument(parser, "to assess")
        parser.add_argument(
            "--format",
            choices=["text", "markdown", "json"],
            default="text",
            help="text for the terminal, markdown for a document to keep, json for scripts "
            "(default: text).",
        )
        parser.add_argument("--json", action="store_true", help="The same as --format json.")
        parser.add_argument("--output", type=Path, help="Write the report to this file.")

    def handle(self, *args, **options) -> None:
        reporter = Reporter.of(self, options)
        if options["output"]:
            # Before the assessment, which can take minutes: a report that cannot be written is
            # a usage error (2), not the NOT READY (1) that a traceback's exit status would mean.
            _check_output(options["output"])
        report = migration_readiness(using=options["database"], step=reporter.step)
        as_json = options["json"] or options["format"] == "json"
        if as_json:
            text = json_document({"ready": report.ready, **asdict(report)})
        else:
            lines = _render(report, markdown=options["format"] == "markdown")
            text = "\n".join(lines) + "\n"
        if options["output"]:
            _write_output(options["output"], text)
            reporter.result(f"Report written to {options['output']}")
        elif as_json or options["verbosity"] >= 1 or not report.ready:
            # At -v0 a NOT READY report is still shown: it is what the error refers to.
            self.stdout.write(text, ending="")
        if not report.ready:
            raise CommandError(
                f"NOT READY: {len(report.reasons)} reason(s) (listed above).",
                returncode=Exit.NOT_PASSED,
            )


def _check_output(path: Path) -> None:
    """Refuse an --output that cannot be written: a folder, a path in a folder that does not
    exist (2), or a file or folder that cannot be written (7)."""
    if path.is_dir():
        raise CommandError(
            f"--output {path} is a directory, not a file. Give the path of the report's file, "
            f"such as {path / 'readiness.md'}; nothing was assessed.",
            returncode=Exit.USAGE,
        )
    if not path.parent.is_dir():
        raise CommandError(
            f"--output {path}: the folder {path.parent} does not exist. Create it or give "
            "another path; nothing was assessed.",
            returncode=Exit.USAGE,
        )
    if not os.access(path if path.exists() else path.parent, os.W_OK):
        raise CommandError(
            f"--output {path} cannot be written: "
            + (f"the file {path}" if path.exists() else f"the folder {path.parent}")
            + " is not writable. Give another path; nothing was assessed.",
            returncode=Exit.READ_ONLY,
        )


def _write_output(path: Path, text: str) -> None:
    """Write the report; a disk that fills up (14) or a file that cannot be written (7) as an
    error, not a traceback, with no cut-off report left to be read as a whole one."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
        raise CommandError(
            f"Could not write the report to {path} ({error.strerror or error}). Free space or "
            "give another --output.",
            returncode=Exit.NO_SPACE if error.errno == errno.ENOSPC else Exit.READ_ONLY,
        ) from error


def _render(report: ReadinessReport, *, markdown: bool) -> list[str]:
    head = "# " if markdown else ""
    sub = "## " if markdown else "== "
    item = "- "
    lines = [
        f"{head}Migration readiness: {report.database}",
        "",
        f"{item}engine: {report.engine}",
        f"{item}state: {report.state}",
        f"{item}integrity: {report.integrity}",
        "",
        f"{sub}Rows",
    ]
    lines += [f"{item}{table}: {count}" for table, count in report.row_counts.items()] or [
        f"{item}none"
    ]
    lines += ["", f"{sub}Pending migrations"]
    lines += [
        f"{item}{pending.phase}: {pending.label}: {pending.summary}" for pending in report.pending
    ] or [f"{item}none: the database is up to date"]
    lines += ["", f"{sub}Data problems and what the migration does"]
    lines += [
        f"{item}{problem.count} {problem.what}: {problem.action}" for problem in report.problems
    ] or [f"{item}none found"]
    if report.repairs or report.backfill_says:
        lines += ["", f"{sub}What the backfill will change (a dry run of goals.0004 on a copy)"]
        lines += [f"{item}{message}" for message in report.backfill_says]
        lines += ["", f"{sub}What it will record in legacy_repairs"]
        lines += [_render_repair(repair) for repair in report.repairs] or [f"{item}nothing"]
        lines += [
            f"{item}{count} {table} row(s) under 'Recovered records'"
            for table, count in report.recovered.items()
        ]
    backup = report.newest_backup
    lines += ["", f"{sub}Backup, disk and time"]
    freshness = "fresh" if report.backup_fresh else "older than 24 h"
    lines.append(
        f"{item}newest verified backup: "
        + (f"{backup.path} ({backup.created_at}, {freshness})" if backup else "none")
    )
    lines += [
        f"{item}free disk in {need.folder}: {need.free} bytes; needed: about {need.needed} "
        f"bytes ({need.what})"
        for need in report.disk
    ] or [f"{item}free disk: nothing to back up or rebuild"]
    lines.append(f"{item}estimated duration: about {max(1, round(report.estimated_seconds))} s")
    lines += [f"{item}note: {note}" for note in report.notes]
    lines += ["", f"{sub}Verdict", "READY" if report.ready else "NOT READY"]
    lines += [f"{item}{reason}" for reason in report.reasons]
    return lines


def _render_repair(repair: PredictedRepair) -> str:
    if repair.column == "*":
        return f"- {repair.count} {repair.table} row(s) created: {repair.reason}"
    return f"- {repair.count} {repair.table}.{repair.column}: {repair.reason}"
