"""Going back over the root-id backfill never discards what was written after it ran.

Rows of a generated legacy file are loaded into the baseline tables of the test database and
migrated (once per session, then copied, where a test adds no rows of its own first); the app then
writes, and `migrate goals 0001` must refuse with the row named (exit 24) and change nothing. On
SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime
import sqlite3
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from goals.models import ActivityDefinition, ActivityGroup, Goal, LongTermGoal, MetricDefinition
from goals.services import goal_move
from goals_project.bases.exit_codes import Exit
from goals_project.bases.services import row_restore
from goals_project.maintenance.backward_safety import (
    DANGLING,
    DELETED,
    DROPPED,
    EMPTY_DIGEST,
    LATER_ROWS,
    REVERTED,
    _Reader,
    later_digests,
    tables_of,
)
from sessions.models import ActivityInstance, MetricValue
from tests.legacy_loading import latest_migrations, migrate_held, migrate_to

pytestmark = pytest.mark.django_db(transaction=True)


def _sql(statement: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def _everything() -> dict[str, list[str]]:
    """Every row of every goal and session table, and the applied migrations."""
    tables = sorted(
        {
            model._meta.db_table
            for model in apps.get_models()
            if model._meta.app_label in ("goals", "practice_sessions") and not model._meta.proxy
        }
        | {"django_migrations"}
    )
    return {
        table: sorted(
            repr(row) for row in _sql(f"SELECT * FROM {connection.ops.quote_name(table)}")
        )
        for table in tables
    }


def _go_back_refused(*fragments: str) -> str:
    """`migrate goals 0001` refuses with exit 24, the message holding `fragments`, and changes
    nothing."""
    before = _everything()
    with pytest.raises(CommandError) as refused:
        call_command("migrate", "goals", "0001", no_backup=True, stdout=StringIO())
    assert refused.value.returncode == Exit.WOULD_DISCARD
    message = str(refused.value)
    for fragment in fragments:
        assert fragment in message
    assert "Nothing was changed." in message
    assert _everything() == before
    return message


def _recovery_root() -> Goal:
    return Goal.all_objects.get(name="Recovered records", parent__isnull=True)


def test_a_rename_of_a_row_the_migration_renamed_is_not_reverted(legacy_rows):
    """The user renames a duplicate the migration had renamed: going back would put back the
    legacy name, so it refuses, naming the row."""
    root_id, name = _sql("SELECT root_id, name FROM activity_groups ORDER BY id LIMIT 1")[0]
    _sql(
        "INSERT INTO activity_groups (id, root_id, name, created_at) "
        "VALUES ('dup-group', %s, %s, %s)",
        [root_id, name, "2030-01-01 00:00:00.000001"],
    )
    migrate_to(latest_migrations())
    group = ActivityGroup.objects.get(pk="dup-group")
    assert group.name == f"{name} (2)"
    group.name = "Strength"
    group.save()
    _go_back_refused(f"- activity_groups: 1 row(s) {REVERTED} (first: dup-group)")


def test_rows_deleted_since_the_migration_do_not_come_back_to_life(migrated_legacy_rows):
    """57 goals soft-deleted by the app would be live again once deleted_at is dropped."""
    ids = list(
        Goal.objects.filter(parent__isnull=False).order_by("id").values_list("id", flat=True)
    )[:57]
    assert len(ids) == 57
    Goal.objects.filter(pk__in=ids).delete()
    _go_back_refused(f"- goals: 57 row(s) {DROPPED} (first: {', '.join(ids[:5])})")


def test_an_edited_and_referenced_placeholder_is_not_deleted(migrated_legacy_rows):
    """A 'Deleted metric' placeholder restored, renamed and given a new value by the user is
    not deleted from under that value."""
    placeholder = MetricDefinition.all_objects.filter(name__startswith="Deleted metric").first()
    row_restore(row=placeholder)
    placeholder.refresh_from_db()
    placeholder.name = "Grip strength"
    placeholder.save()
    instance = ActivityInstance.objects.filter(metric_values__metric_definition=placeholder).first()
    value = MetricValue.objects.create(
        activity_instance=instance, metric_definition=placeholder, value=31.5
    )
    _go_back_refused(
        f"- metric_definitions: 1 row(s) {DELETED} (first: {placeholder.pk})",
        f"- metric_values: 1 row(s) {DANGLING} (first: {value.pk})",
    )


def test_recovered_records_holding_a_new_goal_is_not_deleted(migrated_legacy_rows):
    """A goal the user added under "Recovered records" would be left under a missing root."""
    added = LongTermGoal.objects.create(name="Sorted out", parent=_recovery_root())
    _go_back_refused(f"- goals: 1 row(s) {DANGLING} (first: {added.pk})")


def test_a_rehomed_orphan_is_not_put_back_without_a_parent(legacy_rows):
    """An orphan immediate goal the user moved under a session keeps its new parent."""
    _sql(
        "INSERT INTO goals (id, type, name, completed) "
        "VALUES ('orphan-immediate', 'ImmediateGoal', 'Orphan', %s)",
        [False],
    )
    migrate_to(latest_migrations())
    orphan = Goal.objects.get(pk="orphan-immediate")
    assert orphan.parent_id == _recovery_root().pk
    session = Goal.objects.filter(type="PracticeSession", parent__isnull=False).first()
    goal_move(goal=orphan, new_parent=session)
    _go_back_refused(f"- goals: 1 row(s) {REVERTED} (first: orphan-immediate)")


def test_going_back_to_0003_keeps_what_only_dropped_columns_would_lose(migrated_legacy_rows):
    """Rows deleted since the migration stop only a plan that drops deleted_at: going back to
    goals.0003 keeps the column (and these rows have no value for it to put back), so it goes
    ahead."""
    recorded = _sql("SELECT row_id FROM legacy_repairs WHERE table_name = 'activity_definitions'")
    ids = list(
        ActivityDefinition.objects.exclude(pk__in=[row[0] for row in recorded])
        .order_by("id")
        .values_list("id", flat=True)[:3]
    )
    assert len(ids) == 3
    ActivityDefinition.objects.filter(pk__in=ids).delete()
    call_command("migrate", "goals", "0003", no_backup=True, stdout=StringIO())
    deleted = _sql(
        f"SELECT COUNT(*) FROM activity_definitions WHERE deleted_at IS NOT NULL AND id IN "
        f"({', '.join(['%s'] * len(ids))})",
        ids,
    )
    assert deleted == [(3,)]


def test_an_owner_written_without_a_stamp_stops_going_back_over_0006(migrated_legacy_rows):
    """goals.0006 adds the owner column empty and nothing but the app writes it, so any owner
    is lost by undoing it, however it was written: an owner set by an update() that stamps
    nothing stops `migrate goals 0005` (exit 24, naming goals.0006, not goals.0004), and the
    user stays its owner. It went ahead before, and the owner was dropped."""
    from django.contrib.auth import get_user_model
    from django.db.models import F

    user = get_user_model().objects.create_user("alice")
    root = Goal.objects.filter(root=F("id")).exclude(name="Recovered records").order_by("id")[0]
    Goal.objects.filter(pk=root.pk).update(owner=user)
    with pytest.raises(CommandError) as refused:
        call_command("migrate", "goals", "0005", no_backup=True, stdout=StringIO())
    assert refused.value.returncode == Exit.WOULD_DISCARD
    assert str(refused.value).startswith(
        "Going back over goals.0006_add_fractal_owner would discard data:\n"
        f"- goals: 1 row(s) {DROPPED} (first: {root.pk})"
    )
    assert Goal.objects.get(pk=root.pk).owner == user


@pytest.mark.sqlite_only
def test_going_back_backs_up_first_and_an_untouched_file_goes_back_exactly(migrated_db):
    """`migrate goals 0001` on a migrated file backs it up first, says where, and on data the
    migration left untouched puts every legacy value back."""
    path, alias = migrated_db
    out = StringIO()
    call_command("migrate", "goals", "0001", database=alias, stdout=out)
    assert "Backing up before migrating:" in out.getvalue()
    backup = out.getvalue().split("verified backup ")[1].split()[0]
    assert sqlite3.connect(backup).execute("SELECT COUNT(*) FROM goals").fetchone()[0] > 0
    applied = sqlite3.connect(path).execute(
        "SELECT name FROM django_migrations WHERE app = 'goals'"
    )
    assert [row[0] for row in applied] == ["0001_legacy_baseline"]


@pytest.mark.sqlite_only
def test_a_refused_file_is_backed_up_and_the_refusal_points_to_it(migrated_db):
    """After an app write the refusal names the backup it took first; the file is unchanged."""
    path, alias = migrated_db
    with sqlite3.connect(path) as legacy:
        legacy.execute(
            "UPDATE goals SET name = 'Mine', updated_at = '2999-01-01 00:00:00.000000' "
            "WHERE id = (SELECT MIN(id) FROM goals WHERE type = 'PracticeSession')"
        )
    out = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("migrate", "goals", "0001", database=alias, stdout=out)
    assert refused.value.returncode == Exit.WOULD_DISCARD
    backup = out.getvalue().split("verified backup ")[1].split()[0]
    assert f"A verified backup of the database as it is: {backup}." in str(refused.value)
    assert f"{DROPPED}" in str(refused.value)


def _clock_ahead() -> list[str]:
    """A legacy clock ahead: some goals stamped far later than the migration will run."""
    ids = [row[0] for row in _sql("SELECT id FROM goals ORDER BY id LIMIT 40")]
    _sql(
        f"UPDATE goals SET created_at = %s WHERE id IN ({', '.join(['%s'] * len(ids))})",
        ["2099-01-01 00:00:00.000001", *ids],
    )
    return ids


def test_rows_stamped_later_than_the_migration_by_a_legacy_clock_go_back_exactly(legacy_rows):
    """Rows the legacy clock had already stamped later than the backfill are recorded (a digest
    of them), not taken for writes made since: going back goes ahead."""
    _clock_ahead()
    migrate_to(latest_migrations())

    call_command("migrate", "goals", "0001", no_backup=True, stdout=StringIO())

    assert _sql("SELECT COUNT(*) FROM goals WHERE created_at = %s", ["2099-01-01 00:00:00.000001"])


def test_a_write_since_among_rows_stamped_later_by_a_legacy_clock_is_refused(legacy_rows):
    """Once a row is written since, the digest of the rows stamped later no longer holds, and
    every row stamped later counts as written since: going back refuses."""
    ahead = _clock_ahead()
    migrate_to(latest_migrations())
    deleted = Goal.objects.filter(parent__isnull=False).exclude(pk__in=ahead).order_by("id")[:2]
    Goal.objects.filter(pk__in=[goal.pk for goal in deleted]).delete()

    message = _go_back_refused(DROPPED)

    assert "- goals: " in message


def test_a_write_since_to_a_row_stamped_later_by_a_legacy_clock_is_refused(legacy_rows):
    """A row the legacy clock stamped later stays among the rows stamped later once written
    since: only its stamps tell the write, and the digest covers them."""
    ahead = _clock_ahead()
    migrate_to(latest_migrations())
    goal = Goal.objects.filter(pk__in=ahead).order_by("id").first()
    goal.name = "Renamed since the migration"
    goal.save()

    message = _go_back_refused(DROPPED)

    assert "- goals: " in message
    assert goal.pk in message


def test_a_write_stamped_before_the_migration_by_a_clock_set_back_is_refused(legacy_rows):
    """A wall clock that runs behind the migration's own (the hour summer time repeats, or
    FRACTAL_TIME_ZONE moved west since) stamps a write earlier than the migration: rows are
    counted from a day before it, so the write is still found and going back refuses to drop
    the deleted_at it wrote."""
    migrate_to(latest_migrations())
    (since,) = _sql(
        "SELECT MIN(created_at) FROM legacy_repairs WHERE migration = %s AND column_name = '#'",
        ["goals.0004_backfill_root_ids"],
    )[0]
    behind = Goal.objects.filter(parent__isnull=False).order_by("id").first()
    _sql(
        "UPDATE goals SET deleted_at = created_at, updated_at = %s WHERE id = %s",
        [_hours_before(since, 3), behind.pk],
    )

    message = _go_back_refused(DROPPED)

    assert behind.pk in message


def _hours_before(stamp, hours: int):
    """`stamp` (text on SQLite, a datetime on PostgreSQL) less `hours`, in the same form."""
    if isinstance(stamp, str):
        moment = datetime.datetime.fromisoformat(stamp) - datetime.timedelta(hours=hours)
        return moment.isoformat(" ")
    return stamp - datetime.timedelta(hours=hours)


def _migrated_in_one_held_transaction() -> list[str]:
    """Migrate to the latest migrations as migrate does inside its one transaction on SQLite
    (migration_executor.held_transaction); the SQL the migrations sent."""
    with CaptureQueriesContext(connection) as queries:
        migrate_held(latest_migrations())
    return [query["sql"] for query in queries.captured_queries]


def _recorded_later_rows(table: str) -> str:
    ((digest,),) = _sql(
        "SELECT new_value FROM legacy_repairs WHERE migration = %s AND column_name = '#' "
        "AND table_name = %s AND row_id = %s",
        ["goals.0004_backfill_root_ids", table, LATER_ROWS],
    )
    return digest


def _later_rows_scanned(table: str) -> str:
    """The digest of `table`'s rows stamped later, read from the table as going back reads it."""
    reader = _Reader(connection, tables_of(apps))
    return later_digests(reader, {})[table]


def _values_later_rows_read(sql: list[str]) -> bool:
    return any('FROM "metric_values" WHERE (julianday(' in statement for statement in sql)


@pytest.mark.sqlite_only
def test_the_values_stamped_later_are_not_read_when_no_instance_is(legacy_rows):
    """Inside migrate's one transaction the backfill writes each value's stamps from its
    instance's created_at, so with no instance stamped later no value is: the digest of the
    values stamped later is recorded as the empty one without reading them, and reading them
    gives that very digest."""
    sql = _migrated_in_one_held_transaction()

    assert not _values_later_rows_read(sql)
    assert MetricValue.objects.exists()
    assert _recorded_later_rows("metric_values") == EMPTY_DIGEST
    assert _later_rows_scanned("metric_values") == EMPTY_DIGEST


def test_the_values_of_an_instance_stamped_later_are_read_and_recorded(legacy_rows):
    """An instance the legacy clock stamped later gives its values that stamp: they are read,
    and the digest recorded is the one reading them gives, so going back goes ahead until one
    of them is written."""
    ids = [
        row[0]
        for row in _sql(
            "SELECT DISTINCT activity_instance_id FROM metric_values ORDER BY 1 LIMIT 3"
        )
    ]
    _sql(
        f"UPDATE activity_instances SET created_at = %s WHERE id IN ({', '.join(['%s'] * 3)})",
        ["2099-01-01 00:00:00.000001", *ids],
    )
    sql = _migrated_in_one_held_transaction()

    if connection.vendor == "sqlite":
        assert _values_later_rows_read(sql)
    recorded = _recorded_later_rows("metric_values")
    assert recorded != EMPTY_DIGEST
    assert recorded == _later_rows_scanned("metric_values")
    value = MetricValue.objects.filter(activity_instance_id=ids[0]).order_by("id").first()
    value.value += 1
    value.save()

    message = _go_back_refused(DROPPED)

    assert value.pk in message
