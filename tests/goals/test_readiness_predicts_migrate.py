"""migration_readiness predicts the backfill's repairs by asking the backfill itself: what it
reports before migrating equals what migrate then records, kind by kind, on dirty legacy files."""

from __future__ import annotations

import json
import tempfile
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

from goals.roots import ROOT_TABLES
from tests.conftest import file_sha256
from tests.legacy_dirt import dirt_statements
from tests.legacy_faults import FREE, execute, low_disk
from tests.legacy_loading import latest_migrations, migrate_to

pytestmark = pytest.mark.django_db(transaction=True)

BACKFILL = "goals.0004_backfill_root_ids"


def _readiness(alias: str) -> dict:
    out = StringIO()
    call_command("migration_readiness", "--json", database=alias, stdout=out)
    return json.loads(out.getvalue())


def _predicted(report: dict) -> tuple[dict, dict]:
    repairs = {
        (repair["table"], repair["column"], repair["reason"]): repair["count"]
        for repair in report["repairs"]
    }
    return repairs, report["recovered"]


def _recorded(alias: str) -> tuple[dict, dict]:
    """What migrate recorded in legacy_repairs, and the rows under the recovery root it made."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, reason, COUNT(*) FROM legacy_repairs "
            "WHERE migration = %s AND column_name <> '#' "
            "GROUP BY table_name, column_name, reason",
            [BACKFILL],
        )
        repairs = {(table, column, reason): count for table, column, reason, count in cursor}
        cursor.execute(
            "SELECT row_id FROM legacy_repairs WHERE migration = %s AND reason = 'recovery root'",
            [BACKFILL],
        )
        found = cursor.fetchone()
        recovered = {}
        for table in ROOT_TABLES if found else ():
            cursor.execute(
                f"SELECT COUNT(*) FROM {table} WHERE root_id = %s AND id <> %s",
                [found[0], found[0]],
            )
            (count,) = cursor.fetchone()
            if count:
                recovered[table] = count
    return repairs, recovered


def _assert_covers_every_kind(report: dict) -> None:
    """The comparison means something: renames, placeholders of each kind of dangling
    reference (of the tables that hold rows: prod files have no splits), recovered rows and
    root corrections are all among the predictions."""
    reasons = {repair["reason"] for repair in report["repairs"]}
    assert report["recovered"]
    assert "duplicate name renamed" in reasons
    assert "orphan goal moved under the recovery root" in reasons
    assert "root derived from the tree" in reasons
    for placeholder in (
        "placeholder for goals.parent_id",
        "placeholder for practice_session_goals.short_term_goal_id",
        "placeholder for activity_instances.activity_definition_id",
        "placeholder for metric_values.activity_instance_id",
        "placeholder for split_definitions.activity_id",
        "placeholder for program_blocks.program_id",
        "placeholder for program_days.block_id",
        "placeholder for scheduled_sessions.day_id",
        "placeholder for metric_values.metric_definition_id",
        "placeholder for goals.template_id",
    ):
        child = placeholder.removeprefix("placeholder for ").split(".")[0]
        if report["row_counts"][child]:
            assert placeholder in reasons, placeholder


@pytest.mark.sqlite_only
@pytest.mark.parametrize("variant", ["dev", "prod", "script_migrated"])
def test_readiness_predicts_what_migrate_records(
    variant, make_legacy_db, legacy_database, tmp_path, monkeypatch
):
    """On a dirty legacy file, not adopted yet, the repairs readiness predicts (by kind, table
    and column) and the rows it says go under 'Recovered records' are those migrate records;
    readiness leaves the file as it was and no copy behind."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    path = make_legacy_db(variant)
    execute(path, ";\n".join(dirt_statements()))
    digest = file_sha256(path)
    with legacy_database(path) as alias:
        report = _readiness(alias)
        assert file_sha256(path) == digest
        assert list((tmp_path / "tmp").iterdir()) == []
        assert report["backfill_says"]  # the dry run ran, in that folder
        call_command("migrate", database=alias, no_backup=True, stdout=StringIO())
        recorded = _recorded(alias)
    predicted = _predicted(report)
    _assert_covers_every_kind(report)
    assert predicted == recorded
    assert report["ready"]


def test_readiness_predicts_what_migrate_records_on_an_adopted_database(legacy_rows):
    """The same on the test database (SQLite or PostgreSQL) adopted at the baseline; on
    PostgreSQL the dry run is a transaction rolled back, which leaves nothing applied."""
    with connection.cursor() as cursor:
        for statement in dirt_statements():
            cursor.execute(statement)
    report = _readiness("default")
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM django_migrations WHERE app = 'goals' ORDER BY name")
        assert [name for (name,) in cursor.fetchall()] == ["0001_legacy_baseline"]
    migrate_to(latest_migrations())
    predicted = _predicted(report)
    _assert_covers_every_kind(report)
    assert predicted == _recorded("default")


@pytest.mark.sqlite_only
def test_too_little_room_for_the_copy_is_said_not_hidden(
    make_legacy_db, legacy_database, tmp_path, monkeypatch
):
    """When the temporary folder cannot hold the copy, readiness says the repairs were not
    predicted and why, and makes no copy."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    path = make_legacy_db("dev")
    low_disk(monkeypatch)
    with legacy_database(path) as alias, pytest.raises(CommandError, match="NOT READY"):
        out = StringIO()
        call_command("migration_readiness", "--json", database=alias, stdout=out)
    report = json.loads(out.getvalue())
    assert report["repairs"] == []
    assert any(
        note.startswith(
            "What the backfill will repair could not be predicted: the temporary folder "
            f"{tmp_path / 'tmp'} has {FREE} bytes free"
        )
        for note in report["notes"]
    ), report["notes"]
    assert list((tmp_path / "tmp").iterdir()) == []
