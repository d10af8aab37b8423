"""migration_readiness on SQLite and PostgreSQL: READY when clean, NOT READY with reasons."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from goals_project.bases.exit_codes import Exit
from goals_project.maintenance.legacy.inspection import LegacyDbProblem
from tests.conftest import file_sha256, manage_process, postgres_url
from tests.legacy_faults import (
    BAD_KEYS,
    BLOB_REFERENCES,
    USER_OBJECTS,
    cut_off_write,
    execute,
    hot_journal_message,
    leave_wal,
    low_disk,
)
from tests.legacy_loading import latest_migrations, migrate_to

pytestmark = pytest.mark.django_db(transaction=True)


def _readiness(*args: str) -> str:
    out = StringIO()
    call_command("migration_readiness", *args, stdout=out)
    return out.getvalue()


def test_legacy_data_is_ready_and_problems_are_explained(legacy_rows):
    """Pending phases are listed, and what the backfill will repair in its own words (a dry
    run of it); the database is left at the baseline."""
    output = _readiness()
    assert "phase 1: repairs and root_id backfill: goals.0004_backfill_root_ids" in output
    assert "phase 3: indexes: goals.0007_add_indexes" in output
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(DISTINCT v.metric_definition_id) FROM metric_values v WHERE NOT EXISTS "
            "(SELECT 1 FROM metric_definitions m WHERE m.id = v.metric_definition_id)"
        )
        (deleted,) = cursor.fetchone()
        cursor.execute("SELECT name FROM django_migrations WHERE app = 'goals'")
        assert [name for (name,) in cursor.fetchall()] == ["0001_legacy_baseline"]
    assert deleted
    assert (
        f"- metric_definitions: {deleted} placeholder row(s) for missing ids that "
        "metric_values.metric_definition_id points to\n"
    ) in output
    assert (
        f"- {deleted} metric_definitions row(s) created: placeholder for "
        "metric_values.metric_definition_id\n"
    ) in output
    assert "row(s) under 'Recovered records'" in output
    assert output.rstrip().endswith("READY")


def test_constraint_violators_make_it_not_ready(legacy_rows):
    """A row the new checks would reject makes the verdict NOT READY, naming it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM activity_instances ORDER BY id LIMIT 1")
        (instance_id,) = cursor.fetchone()
        cursor.execute(
            "UPDATE activity_instances SET duration_seconds = -1 WHERE id = %s", [instance_id]
        )
    out = StringIO()
    with pytest.raises(CommandError, match=r"NOT READY: 1 reason\(s\)") as raised:
        call_command("migration_readiness", stdout=out)
    assert raised.value.returncode == Exit.NOT_PASSED
    assert "NOT READY" in out.getvalue()
    assert (
        "1 activity instances with a negative duration in activity_instances "
        f"(first ids: {instance_id})"
    ) in out.getvalue()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE activity_instances SET duration_seconds = 0 WHERE id = %s", [instance_id]
        )


def test_migrated_database_is_ready_with_nothing_pending(legacy_rows, tmp_path):
    """After migrating, nothing is pending, verification holds, and markdown is written."""
    migrate_to(latest_migrations())
    report = tmp_path / "readiness.md"
    _readiness("--format", "markdown", "--output", str(report))
    text = report.read_text()
    assert text.startswith("# Migration readiness:")
    assert "- none: the database is up to date" in text
    assert text.rstrip().endswith("READY")


@pytest.mark.sqlite_only
def test_a_database_not_made_yet_lists_every_migration_and_is_not_created(tmp_path):
    """For a file that does not exist yet every goal and session migration is pending (it said
    "none: the database is up to date"), the baselines as such, not as an adoption; the file is
    still not made."""
    path = tmp_path / "goals.db"
    result = manage_process(f"sqlite:///{path}", "migration_readiness", "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    labels = [item["label"] for item in report["pending"]]
    assert labels[0] == "goals.0001_legacy_baseline"
    assert {"goals.0004_backfill_root_ids", "practice_sessions.0004_add_indexes"} <= set(labels)
    assert {item["phase"] for item in report["pending"] if "0001" in item["label"]} == {"baseline"}
    assert not any("Adopt the legacy tables" in item["summary"] for item in report["pending"])
    assert "No data yet: migrate creates a new database." in report["notes"]
    assert not path.exists()


def test_no_backup_and_no_automatic_backup_is_not_ready(legacy_rows, settings):
    """With migrate's own backup turned off, a missing fresh backup is a reason."""
    settings.FRACTAL_BACKUP_BEFORE_MIGRATE = False
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("migration_readiness", stdout=out)
    assert "No verified backup from the last 24 hours" in out.getvalue()


def _refusal_of(command: str, alias: str, **options) -> CommandError:
    with pytest.raises(CommandError) as raised:
        call_command(command, database=alias, stdout=StringIO(), stderr=StringIO(), **options)
    return raised.value


FAULTS = {
    **{name: ("script", script) for name, (script, _) in BAD_KEYS.items()},
    **{name: ("script", script) for name, (script, _) in BLOB_REFERENCES.items()},
    **{name: ("script", script) for name, (script, _) in USER_OBJECTS.items()},
    "too little disk for the backup and rebuilds": ("disk", None),
    "a file marked read-only": ("read-only", None),
}


@pytest.mark.sqlite_only
@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
def test_readiness_predicts_each_refusal_of_migrate(
    fault, make_legacy_db, legacy_database, monkeypatch
):
    """Where migrate would refuse the file, readiness says NOT READY with migrate's own words;
    neither changes the file."""
    path = make_legacy_db("dev")
    kind, script = FAULTS[fault]
    if kind == "script":
        execute(path, script)
    elif kind == "disk":
        low_disk(monkeypatch)
    else:
        path.chmod(0o444)
    digest = file_sha256(path)
    out = StringIO()
    try:
        with legacy_database(path) as alias:
            with pytest.raises(CommandError, match=r"NOT READY") as verdict:
                call_command("migration_readiness", database=alias, stdout=out)
            refusal = _refusal_of("migrate", alias)
    finally:
        path.chmod(0o644)
    assert verdict.value.returncode == Exit.NOT_PASSED
    assert f"- {refusal}\n" in out.getvalue()
    assert refusal.returncode in {
        LegacyDbProblem.READ_ONLY,
        LegacyDbProblem.BAD_KEYS,
        LegacyDbProblem.USER_SCHEMA,
        LegacyDbProblem.NO_SPACE,
    }
    assert file_sha256(path) == digest


@pytest.mark.sqlite_only
def test_readiness_names_the_backfills_refusal_on_an_adopted_file(make_legacy_db, legacy_database):
    """A blob the preflight never reads (written into an adopted file) is refused by the
    backfill; readiness, which runs the backfill on a copy, says NOT READY with that refusal
    in migrate's own words, not a note that nothing could be predicted."""
    path = make_legacy_db("dev")
    with legacy_database(path) as alias:
        call_command("adopt_legacy_db", database=alias, stdout=StringIO())
        execute(path, "UPDATE session_templates SET root_id = X'ff41'")
        digest = file_sha256(path)
        out = StringIO()
        with pytest.raises(CommandError, match=r"NOT READY") as verdict:
            call_command("migration_readiness", database=alias, stdout=out)
        assert file_sha256(path) == digest
        refusal = _refusal_of("migrate", alias, no_backup=True)
    assert verdict.value.returncode == Exit.NOT_PASSED
    assert refusal.returncode == Exit.BAD_KEYS
    assert str(refusal).startswith("session_templates.root_id holds ")
    assert f"- {refusal}\n" in out.getvalue()
    assert "could not be predicted" not in out.getvalue()


@pytest.mark.sqlite_only
def test_readiness_reads_a_wal_without_checkpointing_it(make_legacy_db, legacy_database):
    """A commit only in the -wal is counted, and neither the file nor its -wal changes."""
    path = make_legacy_db("dev")
    goals = sqlite3.connect(path).execute("SELECT COUNT(*) FROM goals").fetchone()[0]
    wal = leave_wal(path)
    digests = (file_sha256(path), file_sha256(wal))
    with legacy_database(path) as alias:
        output = _readiness("--database", alias)
    assert f"- goals: {goals + 1}\n" in output
    assert output.rstrip().endswith("READY")
    assert wal.exists()
    assert (file_sha256(path), file_sha256(wal)) == digests


@pytest.mark.sqlite_only
def test_readiness_on_a_hot_journal_says_it_is_not_damage(make_legacy_db, legacy_database):
    """A write cut off by a kill is not called damage: readiness says what to run and leaves the
    file and its journal as they are."""
    path = make_legacy_db("dev")
    journal = cut_off_write(path)
    digests = (file_sha256(path), file_sha256(journal))
    out = StringIO()
    with legacy_database(path) as alias, pytest.raises(CommandError, match="NOT READY"):
        call_command("migration_readiness", database=alias, stdout=out)
    assert f"- {hot_journal_message(path)}\n" in out.getvalue()
    assert "state: a write cut off, waiting to be rolled back" in out.getvalue()
    assert (file_sha256(path), file_sha256(journal)) == digests


@pytest.mark.postgresql_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("holding", ["nothing", "a goals table of its own"])
def test_readiness_of_a_postgresql_database_without_our_schema(holding, tmp_path):
    """An empty PostgreSQL database is ready, every migration pending; one holding a goals
    table no migration of ours made is not ready, saying why. Both were tracebacks ('relation
    "goals" does not exist', 'column "type" does not exist')."""
    import psycopg

    database = f"readiness_{tmp_path.name[-6:]}"
    with psycopg.connect(postgres_url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        if holding != "nothing":
            with psycopg.connect(postgres_url(database), autocommit=True) as own:
                own.execute("CREATE TABLE goals (id int PRIMARY KEY, name text)")
        result = manage_process(postgres_url(database), "migration_readiness", "--json")
    finally:
        with psycopg.connect(postgres_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    report = json.loads(result.stdout)
    assert "Traceback" not in result.stderr
    assert "goals.0004_backfill_root_ids" in [item["label"] for item in report["pending"]]
    if holding == "nothing":
        assert "No data yet: migrate makes the schema in this database." in report["notes"]
        assert report["ready"] is True
    else:
        assert report["reasons"] == [
            "The database holds tables named as this project's (goals) that its migrations did "
            "not make, so migrate would fail making its own. Point DATABASE_URL at an empty "
            "database, or at one migrate made; nothing was changed."
        ]
        assert result.returncode != 0


@pytest.mark.postgresql_only
@pytest.mark.django_db
def test_readiness_on_postgresql_says_it_ran_no_integrity_check():
    """PostgreSQL has no integrity_check: the report says it was not run, never "ok", and that
    is no reason for NOT READY."""
    from goals_project.maintenance.readiness import INTEGRITY_NOT_RUN

    out = StringIO()
    call_command("migration_readiness", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["integrity"] == INTEGRITY_NOT_RUN
    assert not any("ntegrity" in reason for reason in report["reasons"])
    text = StringIO()
    # NOT READY for another reason (no fresh backup, say) is not what this test is about.
    with contextlib.suppress(CommandError):
        call_command("migration_readiness", stdout=text)
    assert f"integrity: {INTEGRITY_NOT_RUN}" in text.getvalue()
    assert "integrity: ok" not in text.getvalue()


@pytest.mark.django_db
def test_readiness_answers_scripts_in_json():
    """--json gives a script the verdict, its reasons and the engine, with the exit status."""
    out = StringIO()
    try:
        call_command("migration_readiness", "--json", stdout=out)
    except CommandError as error:
        assert error.returncode == Exit.NOT_PASSED
    report = json.loads(out.getvalue())
    assert report["ready"] is (not report["reasons"])
    assert report["engine"] == connection.vendor


@pytest.mark.parametrize("output", ["in a missing folder", "a folder"])
def test_an_output_that_cannot_be_a_file_is_refused_before_the_assessment(
    output, tmp_path, monkeypatch
):
    """--output in a folder that does not exist, or naming a folder, is a usage error (2), not a
    traceback exiting 1 (NOT READY's status), and is found before the assessment runs."""
    monkeypatch.setattr(
        "goals_project.maintenance.management.commands.migration_readiness.migration_readiness",
        lambda **options: pytest.fail("the assessment ran"),
    )
    target = tmp_path if output == "a folder" else tmp_path / "missing" / "readiness.md"
    with pytest.raises(CommandError) as raised:
        call_command("migration_readiness", "--output", str(target), stdout=StringIO())
    assert raised.value.returncode == Exit.USAGE
    if output == "a folder":
        assert str(raised.value) == (
            f"--output {target} is a directory, not a file. Give the path of the report's "
            f"file, such as {target / 'readiness.md'}; nothing was assessed."
        )
    else:
        assert str(raised.value) == (
            f"--output {target}: the folder {target.parent} does not exist. Create it or give "
            "another path; nothing was assessed."
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.sqlite_only
def test_an_output_on_a_full_disk_exits_14_and_leaves_no_report(small_disk):
    """A report that the disk has no room for is exit 14 with a message, not a traceback, and
    no cut-off report is left behind."""
    disk = small_disk(64 * 1024)
    with (disk / "filler").open("wb", buffering=0) as filler, contextlib.suppress(OSError):
        while True:
            filler.write(b"\0" * 4096)
    target = disk / "readiness.md"
    with pytest.raises(CommandError) as raised:
        call_command("migration_readiness", "--output", str(target), stdout=StringIO())
    assert raised.value.returncode == Exit.NO_SPACE
    assert str(raised.value).startswith(f"Could not write the report to {target} (No space left")
    assert sorted(path.name for path in disk.iterdir()) == ["filler"]
