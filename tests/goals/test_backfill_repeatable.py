"""The backfill (goals.0004) follows from the data alone: migrating two copies of one dirty legacy
file gives the same rows in every table, ids of the rows it creates included; so does migrating
one database forward again after going back. Only the times of the runs differ."""

from __future__ import annotations

import importlib
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone

from goals_project.maintenance.backward_safety import CREATED
from tests.legacy_dirt import dirt_statements
from tests.legacy_faults import execute
from tests.legacy_loading import BASELINE, latest_migrations, migrate_to

pytestmark = pytest.mark.django_db(transaction=True)

NOW = "<time of the run>"
DIGEST = "<digest of the created row>"


class Run:
    """The time span of one migration run, to tell the values it stamped with its time."""

    started: datetime
    ended: datetime

    def stamped(self, value) -> bool:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return False
        if not isinstance(value, datetime):
            return False
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo(settings.TIME_ZONE))
        return self.started <= value <= self.ended


@contextmanager
def timed() -> Iterator[Run]:
    run = Run()
    run.started = timezone.now().replace(microsecond=0)  # a stamp may be stored in seconds
    yield run
    run.ended = timezone.now()


def _rows(alias: str, tables: list[str], run: Run, ignore=()) -> dict[str, list[tuple]]:
    """Every row of `tables`, sorted, without the `ignore` columns; values the run stamped with its
    time are NOW."""
    quote = connections[alias].ops.quote_name
    found = {}
    with connections[alias].cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {quote(table)}")
            columns = [column[0] for column in cursor.description]
            rows = []
            for row in cursor.fetchall():
                values = {
                    column: NOW if run.stamped(value) else value
                    for column, value in zip(columns, row, strict=True)
                    if (table, column) not in ignore
                }
                if table == "legacy_repairs" and values["column_name"] == CREATED:
                    # A digest of the created row, its times included: that row is compared in its
                    # own table.
                    values["new_value"] = DIGEST
                rows.append(tuple(values.items()))
            found[table] = sorted(rows, key=repr)
    return found


def _assert_same(first: dict, second: dict) -> None:
    assert first.keys() == second.keys()
    for table in first:
        assert first[table] == second[table], table
    # What was compared holds created rows (the recovery root among them) and the runs' times.
    repairs = [dict(row) for row in first["legacy_repairs"]]
    assert any(repair["reason"] == "recovery root" for repair in repairs)
    assert any(repair["created_at"] == NOW for repair in repairs)


def _migrated_copies(path, tmp_path, legacy_database, ignore=(), backed_up=False) -> list[dict]:
    """The rows of every table (django_migrations included) of the file at `path`, with the
    dirt of tests.legacy_dirt added, and of a copy of it, each migrated; the first with a
    backup if `backed_up` (in one transaction: migrate_service._one_transaction)."""
    execute(path, ";\n".join(dirt_statements()))
    copy = tmp_path / "copy.db"
    shutil.copyfile(path, copy)
    migrated = []
    for file in (path, copy):
        no_backup = not (backed_up and file == path)
        with legacy_database(file) as alias, timed() as run:
            call_command("migrate", database=alias, no_backup=no_backup, stdout=StringIO())
        with legacy_database(file) as alias:
            tables = connections[alias].introspection.table_names()
            migrated.append(_rows(alias, tables, run, ignore))
    return migrated


@pytest.mark.sqlite_only
@pytest.mark.parametrize("variant", ["dev", "prod", "script_migrated"])
def test_migrating_copies_of_one_file_gives_the_same_rows(
    variant, make_legacy_db, legacy_database, tmp_path
):
    """Every table of the file (django_migrations included), repair ids included."""
    path = make_legacy_db(variant)
    _assert_same(*_migrated_copies(path, tmp_path, legacy_database))


@pytest.mark.sqlite_only
@pytest.mark.parametrize("variant", ["dev", "prod"])
def test_writing_the_values_before_their_deleted_instances_gives_the_same_rows(
    variant, make_legacy_db, legacy_database, tmp_path, monkeypatch
):
    """Where 0003 added the metric values' root and stamps, the backfill writes them before it
    makes placeholders for deleted instances and finds those by the roots it could not set. Two
    copies of one dirty file (a value on a deleted instance among its rows), one migrated that
    way and one with the placeholders first, end with the same rows; only the order of
    legacy_repairs' ids may differ."""
    backfill = importlib.import_module("goals.migrations.0004_backfill_root_ids").Backfill
    path = make_legacy_db(variant)
    chosen = []
    written_first = backfill.values_written_first

    def first_copy_only(self) -> bool:  # the first copy as the backfill chooses, then the other
        chosen.append(written_first(self) and not chosen)
        return chosen[-1]

    monkeypatch.setattr(backfill, "values_written_first", first_copy_only)
    migrated = _migrated_copies(path, tmp_path, legacy_database, ignore={("legacy_repairs", "id")})
    assert chosen == [True, False]
    _assert_same(*migrated)
    repairs = [dict(row) for row in migrated[0]["legacy_repairs"]]
    assert {"table_name": "activity_instances", "row_id": "gone-instance"}.items() <= next(
        repair.items() for repair in repairs if repair["row_id"] == "gone-instance"
    )
    with legacy_database(path) as alias, connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT v.root_id, i.root_id, v.created_at = i.created_at FROM metric_values v JOIN "
            "activity_instances i ON i.id = v.activity_instance_id WHERE v.id = 'lost-instance'"
        )
        ((value_root, instance_root, same_stamp),) = cursor.fetchall()
    assert value_root == instance_root
    assert same_stamp == 1


@pytest.mark.sqlite_only
@pytest.mark.parametrize("variant", ["dev", "prod"])
def test_writing_the_instances_anew_gives_the_rows_the_update_gives(
    variant, make_legacy_db, legacy_database, tmp_path, monkeypatch
):
    """On SQLite the backfill gives the activity instances their roots, audit and order columns
    by writing the table anew (table_rewrite.sqlite_rewrite), where 0003 added their root
    column. Two copies of one dirty file, one migrated that way and one by
    UPDATEs (the rewrite declining for every table but the metric values'), end with the same
    rows."""
    module = importlib.import_module("goals.migrations.0004_backfill_root_ids")
    rewrite = module.sqlite_rewrite
    calls = []

    def first_copy_only(connection, table, computed, join):
        declined = table != "metric_values" and table in (name for name, _ in calls)
        written = None if declined else rewrite(connection, table, computed, join)
        calls.append((table, written is not None))
        return written

    monkeypatch.setattr(module, "sqlite_rewrite", first_copy_only)
    migrated = _migrated_copies(make_legacy_db(variant), tmp_path, legacy_database)
    first, second = calls[: len(calls) // 2], calls[len(calls) // 2 :]
    tables = [table for table, _ in first]
    assert {"activity_instances", "metric_values"} <= set(tables)
    assert first == [(table, True) for table in tables]
    assert second == [(table, table == "metric_values") for table in tables]
    _assert_same(*migrated)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("variant", ["dev", "prod", "script_migrated"])
def test_migrating_in_one_transaction_gives_the_rows_commits_each_give(
    variant, make_legacy_db, legacy_database, settings, tmp_path
):
    """With a backup, migrate runs in one transaction that holds the file's write lock, and the
    backfill then writes the columns practice_sessions.0002 added without reading them first:
    the instances before the placeholders of their deleted sessions, found by the roots left
    NULL, and the values before those of their deleted instances. Two copies of one dirty file,
    one migrated that way and one without a backup, end with the same rows; only the order of
    legacy_repairs' ids may differ."""
    settings.FRACTAL_BACKUP_DIR = str(tmp_path / "backups")
    path = make_legacy_db(variant)
    session = (  # one with instances and no goal below it
        "SELECT i.practice_session_id FROM activity_instances i WHERE NOT EXISTS "
        "(SELECT 1 FROM goals c WHERE c.parent_id = i.practice_session_id) ORDER BY i.id LIMIT 1"
    )
    execute(  # deleted with its links, its instances left pointing to it
        path,
        f"DELETE FROM practice_session_goals WHERE practice_session_id = ({session}); "
        f"DELETE FROM goals WHERE id = ({session})",
    )
    migrated = _migrated_copies(
        path,
        tmp_path,
        legacy_database,
        ignore={("legacy_repairs", "id")},
        backed_up=True,
    )
    _assert_same(*migrated)
    placeholders = {
        dict(row)["reason"]
        for row in migrated[0]["legacy_repairs"]
        if dict(row)["column_name"] == CREATED
    }
    assert "placeholder for activity_instances.practice_session_id" in placeholders


@pytest.mark.sqlite_only
@pytest.mark.parametrize("backup", [True, False], ids=["one transaction", "a commit each"])
def test_an_instance_without_any_time_gets_its_stamps_from_its_session(
    backup, make_legacy_db, legacy_database, settings, tmp_path
):
    """An activity instance with no created_at, time_start or time_stop: its created_at comes
    from its session, and its updated_at from that created_at, whether the pass that writes
    the instances' roots fills their stamps (in migrate's one transaction) or a later one does."""
    settings.FRACTAL_BACKUP_DIR = str(tmp_path / "backups")
    path = make_legacy_db("dev")
    execute(
        path,
        "UPDATE activity_instances SET created_at = NULL, time_start = NULL, time_stop = NULL "
        "WHERE id = (SELECT MIN(id) FROM activity_instances)",
    )
    with legacy_database(path) as alias:
        call_command("migrate", database=alias, no_backup=not backup, stdout=StringIO())
    file = sqlite3.connect(path)
    try:
        ((created, updated, session_created),) = file.execute(
            "SELECT i.created_at, i.updated_at, COALESCE(g.created_at, g.session_start) "
            "FROM activity_instances i JOIN goals g ON g.id = i.practice_session_id "
            "WHERE i.id = (SELECT MIN(id) FROM activity_instances)"
        )
    finally:
        file.close()
    assert created is not None
    assert datetime.fromisoformat(created) == datetime.fromisoformat(session_created)
    assert updated == created


@pytest.mark.sqlite_only
def test_a_value_given_a_root_since_0003_on_a_deleted_instance_gets_its_placeholder(
    make_legacy_db, legacy_database
):
    """A root written into a value after goals.0003 (by another program) on an instance that
    is gone: the backfill cannot tell that value by a NULL root, so it makes the placeholders
    first, and the value ends under its placeholder instance, with its stamps."""
    path = make_legacy_db("dev")
    with legacy_database(path) as alias:
        call_command(
            "migrate",
            "practice_sessions",
            "0002",
            database=alias,
            no_backup=True,
            stdout=StringIO(),
        )
    file = sqlite3.connect(path)
    with file:
        ((value, instance),) = file.execute(
            "SELECT id, activity_instance_id FROM metric_values ORDER BY id LIMIT 1"
        )
        file.execute("DELETE FROM activity_instances WHERE id = ?", (instance,))
        file.execute("UPDATE metric_values SET root_id = 'written-since' WHERE id = ?", (value,))
    file.close()
    with legacy_database(path) as alias:
        call_command("migrate", database=alias, no_backup=True, stdout=StringIO())
    file = sqlite3.connect(path)
    try:
        ((root, instance_root, created_at, name),) = file.execute(
            "SELECT v.root_id, i.root_id, v.created_at, a.name FROM metric_values v "
            "JOIN activity_instances i ON i.id = v.activity_instance_id "
            "JOIN activity_definitions a ON a.id = i.activity_definition_id WHERE v.id = ?",
            (value,),
        )
    finally:
        file.close()
    assert (root, name) == (instance_root, "Recovered activity")
    assert created_at is not None


@pytest.mark.sqlite_only
@pytest.mark.parametrize("backup", [True, False], ids=["one transaction", "a commit each"])
def test_the_values_are_read_for_a_root_only_outside_the_transaction_that_added_it(
    backup, make_legacy_db, legacy_database, settings, tmp_path
):
    """With a backup, migrate adds the values' root and backfills it in one transaction that
    holds the file's write lock, so no other program can have written a root in between, and
    the backfill does not read the values for one. Without one, each migration commits on its
    own and the backfill reads them (the test above writes such a root between two runs).
    Likewise the instances' audit and order columns: filled in every row with the roots, and
    not looked at again. Both ways every value ends with its instance's root."""
    settings.FRACTAL_BACKUP_DIR = str(tmp_path / "backups")
    path = make_legacy_db("dev")
    read, filled = [], []

    def reads(execute, sql, params, many, context):
        if 'FROM "metric_values" WHERE root_id IS NOT NULL' in sql:
            read.append(sql)
        if sql.startswith('UPDATE "activity_instances" AS t SET "updated_at" = COALESCE('):
            filled.append(sql)  # timestamps' fill of the NULLs the roots' pass left
        return execute(sql, params, many, context)

    with legacy_database(path) as alias, connections[alias].execute_wrapper(reads):
        call_command("migrate", database=alias, no_backup=not backup, stdout=StringIO())
    assert len(read) == len(filled) == (0 if backup else 1)
    with sqlite3.connect(path) as file:
        ((values, wrong),) = file.execute(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE v.root_id IS NOT i.root_id) "
            "FROM metric_values v JOIN activity_instances i ON i.id = v.activity_instance_id"
        )
    file.close()
    assert values > 0
    assert wrong == 0


def test_migrating_forward_again_after_going_back_gives_the_same_rows(legacy_rows):
    """The same on the test database (SQLite or PostgreSQL), going back to the baseline between
    the runs: the rows the backfill creates get the same ids again. legacy_repairs' ids count on."""
    with connection.cursor() as cursor:
        for statement in dirt_statements():
            cursor.execute(statement)
    tables = [
        model._meta.db_table
        for label in ("goals", "practice_sessions")
        for model in apps.get_app_config(label).get_models()
        if not model._meta.proxy
    ]
    migrated = []
    for _ in range(2):
        migrate_to(BASELINE)
        with timed() as run:
            migrate_to(latest_migrations())
        migrated.append(_rows("default", tables, run, ignore={("legacy_repairs", "id")}))
    _assert_same(*migrated)


@pytest.mark.sqlite_only
def test_one_read_of_the_values_finds_their_deleted_metric_and_split_definitions(
    make_legacy_db, legacy_database
):
    """The backfill reads the values once for both of their references to definitions: a value
    whose metric and split definitions are both gone, one whose split alone is gone and one
    whose metric alone is gone each get the placeholders they need, on the activity of their
    instance, and no other."""
    path = make_legacy_db("dev")
    file = sqlite3.connect(path)
    try:
        rows = file.execute(
            "SELECT v.id, i.activity_definition_id FROM metric_values v "
            "JOIN activity_instances i ON i.id = v.activity_instance_id ORDER BY v.id LIMIT 3"
        ).fetchall()
    finally:
        file.close()
    gone = {  # value: (metric, split), None where it stays
        rows[0][0]: ("gone-metric-both", "gone-split-both"),
        rows[1][0]: (None, "gone-split-only"),
        rows[2][0]: ("gone-metric-only", None),
    }
    execute(
        path,
        ";\n".join(
            f"UPDATE metric_values SET metric_definition_id = "
            f"COALESCE({repr(metric) if metric else 'NULL'}, metric_definition_id), "
            f"split_definition_id = COALESCE({repr(split) if split else 'NULL'}, "
            f"split_definition_id) WHERE id = '{value}'"
            for value, (metric, split) in gone.items()
        ),
    )
    with legacy_database(path) as alias:
        call_command("migrate", database=alias, no_backup=True, stdout=StringIO())
    file = sqlite3.connect(path)
    try:
        made = {
            table: dict(
                file.execute(
                    f"SELECT id, activity_id FROM {table} WHERE id LIKE 'gone-%'"
                ).fetchall()
            )
            for table in ("metric_definitions", "split_definitions")
        }
    finally:
        file.close()
    activity = dict(rows)
    assert made["metric_definitions"] == {
        "gone-metric-both": activity[rows[0][0]],
        "gone-metric-only": activity[rows[2][0]],
    }
    assert made["split_definitions"] == {
        "gone-split-both": activity[rows[0][0]],
        "gone-split-only": activity[rows[1][0]],
    }


@pytest.mark.sqlite_only
def test_a_deleted_definition_goes_to_the_activity_of_its_existing_instance(
    make_legacy_db, legacy_database
):
    """The placeholder of a metric definition whose values are on an existing instance and on
    deleted ones takes the existing instance's activity, not the recovered instances' one, even
    where a deleted instance's id sorts first and the existing one is under the recovery root
    too (its session in no fractal), as the recovered instances are."""
    path = make_legacy_db("dev")
    execute(path, ";\n".join(dirt_statements()))
    execute(
        path,
        "INSERT INTO metric_values (id, activity_instance_id, metric_definition_id, value) "
        "SELECT 'lost-first', '0-gone-instance', metric_definition_id, value FROM metric_values "
        "WHERE id = 'lost-instance';\n"
        "INSERT INTO goals (id, type, name, parent_id, created_at) VALUES "
        "('stray-session', 'PracticeSession', 'stray', NULL, '2025-06-01 00:00:00');\n"
        "UPDATE activity_instances SET practice_session_id = 'stray-session' WHERE id = "
        "(SELECT activity_instance_id FROM metric_values WHERE id = 'lost-metric')",
    )
    file = sqlite3.connect(path)
    try:
        ((activity,),) = file.execute(
            "SELECT i.activity_definition_id FROM metric_values v "
            "JOIN activity_instances i ON i.id = v.activity_instance_id WHERE v.id = 'lost-metric'"
        )
    finally:
        file.close()
    with legacy_database(path) as alias:
        call_command("migrate", database=alias, no_backup=True, stdout=StringIO())
    file = sqlite3.connect(path)
    try:
        placeholder = file.execute(
            "SELECT m.activity_id, m.root_id, a.root_id, m.name, m.deleted_at IS NOT NULL "
            "FROM metric_definitions m JOIN activity_definitions a ON a.id = m.activity_id "
            "WHERE m.id = 'gone-metric'"
        ).fetchall()
        recovered = file.execute(
            "SELECT i.activity_definition_id, a.name FROM activity_instances i "
            "JOIN activity_definitions a ON a.id = i.activity_definition_id "
            "WHERE i.id = 'gone-instance'"
        ).fetchall()
    finally:
        file.close()
    assert recovered[0][1] == "Recovered activity"
    assert recovered[0][0] != activity
    ((activity_id, root_id, activity_root, name, deleted),) = placeholder
    assert (activity_id, root_id, name, deleted) == (
        activity,
        activity_root,
        "Deleted metric (missing gone-met)",
        1,
    )
