"""Every command speaks alike (goals_project.bases.progress): -v0 nothing but errors and --json,
-v1 the result on stdout, -v2 also progress on stderr."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import OutputWrapper

from goals_project.bases.progress import Reporter, current_reporter, reporting
from goals_project.devdata.generator import legacy_db_generate
from goals_project.maintenance.backups import backup_create

pytestmark = pytest.mark.sqlite_only

ROOT = Path(__file__).resolve().parents[2]
LEGACY_SIZES = {"fractals": 2, "sessions_per_fractal": 12, "seed": 7}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A legacy dev file and the same file migrated, made once for the module."""
    folder = tmp_path_factory.mktemp("output")
    legacy = legacy_db_generate(path=folder / "legacy.db", variant="dev", **LEGACY_SIZES).path
    migrated = folder / "migrated.db"
    shutil.copyfile(legacy, migrated)
    subprocess.run(  # noqa: S603 - the project's manage.py
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--no-backup", "-v0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{migrated}"},
        check=True,
    )
    return {"legacy": legacy, "migrated": migrated}


@dataclass(frozen=True)
class Run:
    """How to run one command successfully, and a line of progress it shows at -v2."""

    command: str
    database: str  # the file the `legacy` alias names: "legacy", "migrated" or "none"
    progress: str  # a regular expression matching a progress line
    json: bool = False  # whether the command has --json


RUNS = (
    Run("migrate", "legacy", r"^    goals: root_id \d+/\d+ rows"),
    Run("adopt_legacy_db", "legacy", r"^  goals: \d+/\d+ rows$", json=True),
    Run("migration_readiness", "legacy", r"^  inspecting ", json=True),
    Run("backup_db", "migrated", r"^  copying the 'legacy' database into ", json=True),
    Run("restore_db", "migrated", r"^  taking a safety backup of the database$"),
    Run("list_backups", "migrated", r"^  reading the manifests in ", json=True),
    Run("verify_root_ids", "migrated", r"^  checking root_id on goals$", json=True),
    Run("assign_fractal_owner", "migrated", r"^  fractal \S+ now owned by owner$"),
    Run("make_legacy_db", "none", r"^  goals: \d+ rows$", json=True),
)


@pytest.fixture
def run_command(files, tmp_path, legacy_database, settings):
    """Runs a Run at a verbosity on a fresh copy of its file; returns (stdout, stderr)."""
    settings.FRACTAL_BACKUP_DIR = str(tmp_path / "backups")

    def run(spec: Run, verbosity: int, *extra: str) -> tuple[str, str]:
        out, err = StringIO(), StringIO()
        streams = {"stdout": out, "stderr": err, "verbosity": verbosity}
        if spec.command == "make_legacy_db":
            target = tmp_path / "written.db"
            sizes = [f"--{key.replace('_', '-')}={value}" for key, value in LEGACY_SIZES.items()]
            call_command(spec.command, str(target), *sizes, *extra, **streams)
            return out.getvalue(), err.getvalue()
        path = tmp_path / "goals.db"
        shutil.copyfile(files[spec.database], path)
        with legacy_database(path) as alias:
            arguments = [*extra, f"--database={alias}"]
            if spec.command == "restore_db":
                backup = backup_create(using=alias)
                arguments = [str(backup.path), "--yes", *arguments]
            elif spec.command == "list_backups":
                backup_create(using=alias)
            elif spec.command == "assign_fractal_owner":
                get_user_model().objects.db_manager(alias).create_user("owner")
                arguments = ["owner", *arguments]
            call_command(spec.command, *arguments, **streams)
        return out.getvalue(), err.getvalue()

    return run


@pytest.mark.parametrize("spec", RUNS, ids=lambda spec: spec.command)
def test_quiet_prints_nothing_on_success(spec, run_command):
    """At -v0 a command that succeeds writes nothing, on stdout or stderr."""
    assert run_command(spec, 0) == ("", "")


@pytest.mark.parametrize("spec", RUNS, ids=lambda spec: spec.command)
def test_default_prints_the_result_and_no_progress(spec, run_command):
    """At -v1 the result is on stdout and there is no progress anywhere."""
    out, err = run_command(spec, 1)
    assert out.strip()
    assert err == ""
    assert not re.search(spec.progress, out, re.MULTILINE)


@pytest.mark.parametrize("spec", RUNS, ids=lambda spec: spec.command)
def test_verbose_shows_progress_on_stderr_only(spec, run_command):
    """At -v2 the progress, a line per step or table, is on stderr and never on stdout."""
    out, err = run_command(spec, 2)
    assert re.search(spec.progress, err, re.MULTILINE), err
    assert not re.search(spec.progress, out, re.MULTILINE)


@pytest.mark.parametrize("verbosity", [0, 2])
@pytest.mark.parametrize(
    "spec", [spec for spec in RUNS if spec.json], ids=lambda spec: spec.command
)
def test_json_is_all_of_stdout_at_any_verbosity(spec, verbosity, run_command):
    """--json output is printed even at -v0, and is the whole of stdout even at -v2."""
    out, err = run_command(spec, verbosity, "--json")
    json.loads(out)
    assert bool(err) is (verbosity == 2)


def test_progress_after_an_open_line_starts_a_line_of_its_own():
    """A line written while Django's "Applying ..." waits for its " OK" starts on a new line,
    on its own stream."""
    out, err = StringIO(), StringIO()
    reporter = Reporter(stdout=OutputWrapper(out), stderr=OutputWrapper(err), verbosity=2)
    reporter.line_open = True
    reporter.step("goals: 3/3 rows")
    reporter.step("links: 1/1 rows")
    assert err.getvalue() == "\n  goals: 3/3 rows\n  links: 1/1 rows\n"
    assert out.getvalue() == ""


def test_migrations_reach_the_reporter_of_the_running_migrate():
    """Inside `reporting()` migrations get that reporter; outside, one at -v1."""
    assert current_reporter().verbosity == 1
    reporter = Reporter(stdout=StringIO(), stderr=StringIO(), verbosity=0)
    with reporting(reporter):
        assert current_reporter() is reporter
    assert current_reporter() is not reporter
