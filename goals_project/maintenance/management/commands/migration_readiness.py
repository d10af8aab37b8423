"""manage.py migration_readiness: is this database ready for the improvement migrations?"""

from __future__ import annotations

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

    exit_statuses = (Exit.NOT_PASSED, Exit.USAGE)

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
        report = migration_readiness(using=options["database"], step=reporter.step)
        as_json = options["json"] or options["format"] == "json"
        if as_json:
            text = json_document({"ready": report.ready, **asdict(report)})
        else:
            lines = _render(report, markdown=options["format"] == "markdown")
            text = "\n".join(lines) + "\n"
        if options["output"]:
            options["output"].write_text(text, encoding="utf-8")
            reporter.result(f"Report written to {options['output']}")
        elif as_json or options["verbosity"] >= 1 or not report.ready:
            # At -v0 a NOT READY report is still shown: it is what the error refers to.
            self.stdout.write(text, ending="")
        if not report.ready:
            raise CommandError(
                f"NOT READY: {len(report.reasons)} reason(s) (listed above).",
                returncode=Exit.NOT_PASSED,
            )


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
