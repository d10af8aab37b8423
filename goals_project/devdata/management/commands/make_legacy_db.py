"""manage.py make_legacy_db: write a realistic legacy Fractal Goals SQLite file."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from goals_project.bases.commands import ExitStatusesInHelp, add_json_argument, json_document
from goals_project.bases.exit_codes import Exit
from goals_project.bases.progress import Reporter
from goals_project.devdata.generator import (
    GeneratedLegacyDb,
    LegacyGenerateError,
    legacy_db_generate,
)
from goals_project.maintenance.legacy.schemas import VARIANTS


class Command(ExitStatusesInHelp, BaseCommand):
    help = (
        "Write a legacy Fractal Goals SQLite file of a schema variant, with realistic data and "
        "the dirt real files contain (for tests, the demo and benchmarks)."
    )
    # It writes a foreign file and never opens Django's own database.
    requires_system_checks = []

    exit_statuses = (Exit.USAGE,)

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path, help="Where to write the file (must not exist).")
        parser.add_argument(
            "--variant",
            choices=list(VARIANTS),
            default="dev",
            help="Legacy schema variant to write (default: %(default)s).",
        )
        parser.add_argument(
            "--fractals",
            type=int,
            default=3,
            help="Fractals (goal trees) to write; their roots take the four legacy root types in "
            "turn, UltimateGoal first (default: 3).",
        )
        parser.add_argument(
            "--sessions-per-fractal",
            type=int,
            default=20,
            help="Practice sessions per fractal (default: 20).",
        )
        parser.add_argument(
            "--activities-per-session",
            type=int,
            default=3,
            help="Activity instances per session (default: 3).",
        )
        parser.add_argument(
            "--metrics-per-activity",
            type=int,
            default=4,
            help="Metric values per activity instance (default: 4).",
        )
        parser.add_argument(
            "--deleted-metric-rate",
            type=float,
            default=0.5,
            help="Share of metric values whose definition was deleted (default: 0.5, as in "
            "real files).",
        )
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default: 1).")
        parser.add_argument(
            "--overwrite", action="store_true", help="Replace the file if it already exists."
        )
        add_json_argument(parser, "what was written")

    def handle(self, *args, **options) -> None:
        reporter = Reporter.of(self, options)
        try:
            result = legacy_db_generate(
                path=options["path"],
                variant=options["variant"],
                fractals=options["fractals"],
                sessions_per_fractal=options["sessions_per_fractal"],
                instances_per_session=options["activities_per_session"],
                metrics_per_instance=options["metrics_per_activity"],
                deleted_metric_rate=options["deleted_metric_rate"],
                seed=options["seed"],
                overwrite=options["overwrite"],
                progress=lambda table, done, total: reporter.step(f"{table}: {done} rows"),
            )
        except LegacyGenerateError as error:
            raise CommandError(str(error), returncode=Exit.USAGE) from error
        if options["json"]:
            payload = asdict(result)
            payload["path"] = str(result.path)
            self.stdout.write(json_document(payload), ending="")
        else:
            self._render(result, reporter)

    def _render(self, result: GeneratedLegacyDb, reporter: Reporter) -> None:
        total = sum(result.row_counts.values())
        reporter.result(
            self.style.SUCCESS(f"Wrote {result.path} ('{result.variant}' schema, {total} rows).")
        )
        for table, count in result.row_counts.items():
            reporter.result(f"  {table}: {count}")
        for kind, count in result.shapes.items():
            reporter.result(f"  shape: {kind}: {count}")
        for kind, count in result.dirt.items():
            reporter.warning(f"  dirt: {kind}: {count}")
