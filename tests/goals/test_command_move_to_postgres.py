"""move_to_postgres: generated legacy files and a lived-in database move with every value equal;
each refusal leaves the target empty and the source unchanged."""

from __future__ import annotations

import contextlib
import datetime
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path

import psycopg
import pytest
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.test import override_settings

from goals.models import Goal, LegacyRepair
from goals_project.bases.exit_codes import Exit
from goals_project.maintenance import postgres_move
from goals_project.maintenance.aliases import database_alias
from goals_project.maintenance.backups import backups_list
from goals_project.maintenance.legacy.schemas import LEGACY_TABLES
from goals_project.maintenance.locking import ADVISORY_KEY, maintenance_lock
from tests.conftest import file_sha256, postgres_objects, postgres_url
from tests.goals.admin_used import PASSWORD

pytestmark = pytest.mark.postgresql_only

ROOT = Path(__file__).resolve().parents[2]
TARGET = "moved"


@pytest.fixture
def target() -> Iterator[str]:
    """An empty database of its own on the server; its name."""
    name = f"move_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url("postgres"), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(postgres_url("postgres"), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _registered(name: str) -> contextlib.AbstractContextManager[str]:
    """The target as a Django alias, to read it as the app would."""
    return database_alias(TARGET, {**connections.settings["default"], "NAME": name, "TEST": {}})


def _objects(name: str) -> list[str]:
    return postgres_objects(postgres_url(name))


def _move(alias: str, name: str, *args: str, url: str | None = None) -> str:
    out = StringIO()
    call_command(
        "move_to_postgres",
        postgres_url(name) if url is None else url,
        *args,
        database=alias,
        stdout=out,
    )
    return out.getvalue()


def _refused(alias: str, name: str, *, url: str | None = None) -> CommandError:
    with pytest.raises(CommandError) as raised:
        _move(alias, name, url=url)
    return raised.value


def _rows(model, alias: str) -> list[tuple]:
    """Every row of a model's table as the app reads it, in a stable order."""
    fields = [field.attname for field in model._meta.concrete_fields]
    rows = model._base_manager.using(alias).values_list(*fields)
    return sorted(rows, key=lambda row: tuple(str(value) for value in row))


def _assert_same_data(source: str, target: str) -> None:
    """Each table of each model reads the same, value by value, through Django on both."""
    compared = 0
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        assert _rows(model, target) == _rows(model, source), model._meta.db_table
        compared += 1
    assert compared >= 20


def _checkpoint(path: Path) -> None:
    """The file alone holds the database (its -wal folded in), so its hash covers all of it."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


@pytest.mark.parametrize("variant", ["dev", "prod", "script_migrated"])
def test_a_legacy_file_is_migrated_with_its_backup_then_moved_with_every_value_equal(
    variant, make_legacy_db, legacy_database, target
):
    """A legacy file goes through migrate (a verified backup first), then every table moves
    with each value equal and verify_root_ids passing on the target."""
    path = make_legacy_db(variant)
    with legacy_database(path) as alias:
        output = _move(alias, target)
        assert "has migrations to apply: migrating it first" in output
        assert re.search(r"^  metric_values +(\d+) +\1$", output, re.MULTILINE)  # the summary
        assert f"/{target} now holds every row of {path}" in output
        backups = backups_list(using=alias)
        assert backups and backups[0].verified
        with _registered(target) as moved:
            _assert_same_data(alias, moved)
            call_command("verify_root_ids", database=moved, stdout=StringIO())
            counts = {t: Goal.all_objects.using(a).count() for t, a in (("s", alias), ("t", moved))}
            assert counts["s"] == counts["t"] > 0


def test_a_database_the_admin_was_used_on_moves_with_logins_owners_history_and_bin(
    make_migrated_db, legacy_database, target
):
    """Users with their password hashes, owners, deleted and restored rows, log entries and
    sessions move; sequences continue past the copied ids, and the source file is unchanged."""
    path = make_migrated_db("dev")
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from tests.goals.admin_used import use; use()",
        ],
        cwd=ROOT,
        env={**_environment(), "DATABASE_URL": f"sqlite:///{path}"},
        check=True,
        capture_output=True,
    )
    with legacy_database(path) as alias:
        # The highest repair record removed: SQLite's counter stays past it, so must PostgreSQL's.
        highest = LegacyRepair.objects.using(alias).order_by("-id").first()
        LegacyRepair.objects.using(alias).filter(pk=highest.pk).delete()
        connections[alias].close()
        _checkpoint(path)
        before = file_sha256(path)
        _move(alias, target)
        assert file_sha256(path) == before
        with _registered(target) as moved:
            _assert_same_data(alias, moved)
            users = get_user_model().objects.using(moved)
            assert users.get(username="admin").check_password(PASSWORD)
            assert users.get(username="coach").groups.get().permissions.exists()
            assert Goal.all_objects.using(moved).filter(owner__username="coach").count() == 1
            assert Goal.deleted_objects.using(moved).exists()
            assert LogEntry.objects.using(moved).count() == 2
            assert connections[moved].introspection.table_names()  # reachable
            assert (
                apps.get_model("sessions", "Session").objects.using(moved).count()
                == apps.get_model("sessions", "Session").objects.using(alias).count()
                == 1
            )
            new_user = get_user_model().objects.db_manager(moved).create_user("later")
            assert new_user.pk > users.exclude(pk=new_user.pk).order_by("-pk").first().pk
            repair = LegacyRepair.objects.using(moved).create(
                table_name="goals", row_id="x", column_name="name", reason="test", migration="t"
            )
            assert repair.pk > highest.pk
            call_command("verify_root_ids", database=moved, stdout=StringIO())


def _environment() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}


@pytest.fixture
def migrated(make_migrated_db, legacy_database):
    """A migrated dev file, registered as the `legacy` alias, with its hash."""
    path = make_migrated_db("dev")
    with legacy_database(path) as alias:
        yield alias, path, file_sha256(path)


def test_running_again_after_a_finished_move_verifies_the_copy_and_succeeds(migrated, target):
    """A move that ended after its commit: the rerun finds the verified copy and says so."""
    alias, path, sha = migrated
    _move(alias, target)
    output = _move(alias, target)
    assert f"/{target} already held every row of {path}" in output
    assert file_sha256(path) == sha


def test_it_speaks_like_the_other_commands_quiet_result_and_progress(migrated, target):
    """-v0 prints nothing, -v1 the result on stdout, -v2 also its steps and rows on stderr
    (goals_project.bases.progress, as tests/goals/test_command_output.py checks the others)."""
    alias, _, _ = migrated
    runs = {}
    for verbosity in (2, 0, 1):  # the copy at -v2, then reruns that verify it
        out, err = StringIO(), StringIO()
        call_command(
            "move_to_postgres",
            postgres_url(target),
            database=alias,
            verbosity=verbosity,
            stdout=out,
            stderr=err,
        )
        runs[verbosity] = (out.getvalue(), err.getvalue())
    assert runs[0] == ("", "")
    assert "every row of" in runs[1][0]
    assert runs[1][1] == ""
    assert "now holds every row of" in runs[2][0]
    assert "  Verifying every table, row and value" in runs[2][1]
    assert runs[2][1].rstrip("\n").endswith("  Committed")  # said once the commit is done
    assert re.search(r"^  goals: \d+/\d+ rows$", runs[2][1], re.MULTILINE)
    assert "rows\n" not in runs[2][0].replace("rows in", "")


def test_a_target_that_is_not_empty_is_refused_and_left_as_it_was(migrated, target):
    """Exit 25, naming what is there; nothing of ours is written."""
    alias, path, sha = migrated
    with psycopg.connect(postgres_url(target), autocommit=True) as connection:
        connection.execute("CREATE TABLE notes (body text)")
    error = _refused(alias, target)
    assert error.returncode == Exit.TARGET_NOT_EMPTY
    assert f"/{target} is not empty (1 tables, views or sequences, first: public.notes)" in str(
        error
    )
    assert _objects(target) == ["public.notes"]
    assert file_sha256(path) == sha


def test_a_target_holding_a_copy_of_a_changed_source_is_refused(migrated, target):
    """A copy that no longer matches the source is not taken for the finished move."""
    alias, path, _ = migrated
    _move(alias, target)
    connection = sqlite3.connect(path)
    connection.execute(
        "UPDATE goals SET name = name || ' (changed)' WHERE id = (SELECT MIN(id) FROM goals)"
    )
    connection.commit()
    connection.close()
    error = _refused(alias, target)
    assert error.returncode == Exit.TARGET_NOT_EMPTY
    assert "It holds a copy that differs from" in str(error)
    assert "goals row " in str(error) and "column name" in str(error)


def test_an_unreachable_server_is_refused(migrated):
    """Exit 26 with the server's answer."""
    alias, path, sha = migrated
    error = _refused(alias, "none", url="postgres://postgres@127.0.0.1:1/none")
    assert error.returncode == Exit.UNREACHABLE
    assert str(error).startswith("Cannot connect to postgres://postgres@127.0.0.1:1/none: ")
    assert file_sha256(path) == sha


BAD_TARGETS = {
    "": ("The target is empty.", Exit.USAGE),
    "goals": ("The target goals is not a URL: it has no scheme.", Exit.USAGE),
    "mysql://me:s3cret@db/goals": (
        "The target mysql://me:***@db/goals is not a PostgreSQL URL.",
        Exit.USAGE,
    ),
    "postgres://me:s3cret@db:port/goals": (
        "The target postgres://me:***@db:port/goals cannot be read as a URL: a port that is not "
        "a number",
        Exit.USAGE,
    ),
    "postgres://me:s3c/ret#s3cret@db:5432/goals": (
        "The target postgres://me:***@db:5432/goals cannot be read as a URL",
        Exit.USAGE,
    ),
    "postgres://me:s3cret@127.0.0.1:5432": (
        "The target postgres://me:***@127.0.0.1:5432 names no database",
        Exit.USAGE,
    ),
    "postgres://me:s3cret@127.0.0.1:1/goals?sslmode=bogus": (
        "The target's URL holds a connection option PostgreSQL does not take: ",
        Exit.USAGE,
    ),
    "postgres://me:s3cret@127.0.0.1:1/goals": (
        "Cannot connect to postgres://me@127.0.0.1:1/goals: ",
        Exit.UNREACHABLE,
    ),
}


@pytest.mark.parametrize("url", BAD_TARGETS)
def test_a_bad_target_is_refused_before_a_legacy_source_is_migrated(
    url, make_legacy_db, legacy_database
):
    """A target the move would refuse whatever the source holds is refused first: the legacy
    file is not migrated, no backup is made, and the message names the target without its
    password."""
    message, code = BAD_TARGETS[url]
    path = make_legacy_db("dev")
    sha = file_sha256(path)
    with legacy_database(path) as alias:
        with pytest.raises(CommandError) as raised:
            _move(alias, "none", url=url)
        assert backups_list(using=alias) == []
    assert raised.value.returncode == code
    assert str(raised.value).startswith(message)
    assert "s3cret" not in str(raised.value)
    assert file_sha256(path) == sha


def test_a_target_that_is_not_empty_is_refused_before_a_legacy_source_is_migrated(
    make_legacy_db, legacy_database, target
):
    """A source with migrations to apply cannot have been moved already: a target holding
    anything is refused before the file is migrated."""
    with psycopg.connect(postgres_url(target), autocommit=True) as connection:
        connection.execute("CREATE TABLE notes (body text)")
    path = make_legacy_db("dev")
    sha = file_sha256(path)
    with legacy_database(path) as alias:
        error = _refused(alias, target)
        assert backups_list(using=alias) == []
    assert error.returncode == Exit.TARGET_NOT_EMPTY
    assert "is not empty (1 tables, views or sequences, first: public.notes)" in str(error)
    assert file_sha256(path) == sha
    assert _objects(target) == ["public.notes"]


def test_a_user_without_create_privilege_is_refused_and_the_target_stays_empty(migrated, target):
    """Exit 27 with the GRANT to run; nothing is written."""
    alias, _, _ = migrated
    with psycopg.connect(postgres_url("postgres"), autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = 'fractal_mover'")
        if exists.fetchone() is None:
            connection.execute("CREATE ROLE fractal_mover LOGIN")
    error = _refused(alias, target, url=postgres_url(target, user="fractal_mover"))
    assert error.returncode == Exit.NO_PRIVILEGE
    assert "User fractal_mover may not create tables in schema public" in str(error)
    assert "GRANT CREATE, USAGE ON SCHEMA public TO fractal_mover" in str(error)
    assert _objects(target) == []


def test_a_source_failing_verify_root_ids_is_refused(make_migrated_db, legacy_database, target):
    """Exit 28 naming the failed check; the target stays empty, the source unchanged."""
    path = make_migrated_db("dev")
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA foreign_keys = OFF")
    connection.execute("PRAGMA ignore_check_constraints = ON")
    (value_id,) = connection.execute("SELECT MIN(id) FROM metric_values").fetchone()
    connection.execute(
        "UPDATE metric_values SET root_id = (SELECT id FROM goals WHERE id = root_id AND "
        "id <> metric_values.root_id LIMIT 1) WHERE id = ?",
        [value_id],
    )
    connection.commit()
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    sha = file_sha256(path)
    with legacy_database(path) as alias:
        error = _refused(alias, target)
    assert error.returncode == Exit.SOURCE_NOT_READY
    assert "metric_values: agrees with its instance's root (1, first: " in str(error)
    assert _objects(target) == []
    assert file_sha256(path) == sha


def _goal_value_refused(make_migrated_db, legacy_database, target, column: str, value: str):
    """(goal id, refusal) of moving a migrated dev file whose last goal's `column` is set to the
    SQL expression `value`; the target stays empty."""
    path = make_migrated_db("dev")
    connection = sqlite3.connect(path)
    (goal_id,) = connection.execute("SELECT MAX(id) FROM goals").fetchone()
    connection.execute(f"UPDATE goals SET {column} = {value} WHERE id = ?", [goal_id])
    connection.commit()
    connection.close()
    with legacy_database(path) as alias:
        error = _refused(alias, target)
    assert _objects(target) == []
    return goal_id, error


def test_a_value_postgresql_cannot_hold_rolls_the_copy_back_naming_it(
    make_migrated_db, legacy_database, target
):
    """A NUL character in text: exit 29 naming table, row and column; the target stays empty."""
    goal_id, error = _goal_value_refused(
        make_migrated_db, legacy_database, target, "description", "'a' || char(0) || 'b'"
    )
    assert error.returncode == Exit.COPY_DIFFERS
    assert f"goals row {goal_id}, column description: 'a\\x00b' holds a NUL character" in str(error)


@pytest.mark.parametrize("column", ["description", "name"])  # text, varchar(255)
def test_text_that_is_not_utf8_rolls_the_copy_back_naming_its_row(
    make_migrated_db, legacy_database, target, column
):
    """Bytes that are not UTF-8 in a text column: exit 29 naming table, row and column (found
    through the blob handles when the fast read stops), the target empty."""
    goal_id, error = _goal_value_refused(
        make_migrated_db, legacy_database, target, column, "CAST(X'61FF62' AS TEXT)"
    )
    assert error.returncode == Exit.COPY_DIFFERS
    assert f"goals row {goal_id}, column {column}: " in str(error)
    assert "utf-8" in str(error)


def test_another_maintenance_job_on_the_source_is_refused(migrated, target):
    """Exit 11 while migrate or restore_db holds the source's lock."""
    alias, _, _ = migrated
    with maintenance_lock(operation="restore_db", using=alias):
        error = _refused(alias, target)
    assert error.returncode == Exit.BUSY
    assert "is busy: restore_db (pid " in str(error)
    assert _objects(target) == []


def test_another_maintenance_job_on_the_target_is_refused(migrated, target):
    """Exit 11 while another job holds the target's advisory lock."""
    alias, _, _ = migrated
    with psycopg.connect(postgres_url(target), autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_KEY])
        error = _refused(alias, target)
    assert error.returncode == Exit.BUSY
    assert _objects(target) == []


def _describe(path: Path, text: str) -> str:
    """Give the first goal of the file `text` as its description; the goal's id."""
    connection = sqlite3.connect(path)
    (goal_id,) = connection.execute("SELECT MIN(id) FROM goals").fetchone()
    connection.execute("UPDATE goals SET description = ? WHERE id = ?", [text, goal_id])
    connection.commit()
    connection.close()
    return goal_id


def test_text_longer_than_a_piece_moves_in_pieces_with_every_value_equal(
    make_migrated_db, legacy_database, target, monkeypatch
):
    """Text over LARGE_TEXT is streamed (never whole in memory) and compared by SHA-256; with
    the limit at 64 bytes most descriptions and the migrations' state records take that path,
    one of them with a two-byte character split between pieces."""
    monkeypatch.setattr(postgres_move, "LARGE_TEXT", 64)
    path = make_migrated_db("dev")
    _describe(path, "a" + "é" * 200 + "\n\t\\N end")
    with legacy_database(path) as alias, _registered(target) as moved:
        _move(alias, target)
        _assert_same_data(alias, moved)
        longest = max(
            len(value or "")
            for value in LegacyRepair.objects.using(moved)
            .values_list("new_value", flat=True)
            .iterator()
        )
        assert longest > 64


def _alter_in_target(sql: str, params: list) -> Callable[[str], None]:
    def alter(alias: str) -> None:
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, params)
            assert cursor.rowcount == 1

    return alter


@pytest.mark.parametrize("large", [False, True], ids=["value", "large value"])
def test_a_difference_found_by_the_verification_rolls_the_copy_back_naming_it(
    migrated, target, monkeypatch, large
):
    """A clean copy altered on the target before its verification (the service's
    `before_verify` seam): exit 29 naming table, row and column, and the target is empty."""
    alias, path, sha = migrated
    if large:
        monkeypatch.setattr(postgres_move, "LARGE_TEXT", 64)
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    (goal_id,) = connection.execute(
        "SELECT MIN(id) FROM goals WHERE length(description) > 64"
    ).fetchone()
    connection.close()
    altered = "x" * 65 if large else "changed"  # a large value keeps its length: 65 bytes
    if large:
        connection = sqlite3.connect(path)
        connection.execute("UPDATE goals SET description = ? WHERE id = ?", ["y" * 65, goal_id])
        connection.commit()
        connection.close()
        sha = file_sha256(path)
    with pytest.raises(postgres_move.MoveError) as raised:
        postgres_move.postgres_move(
            target_url=postgres_url(target),
            using=alias,
            before_verify=_alter_in_target(
                "UPDATE goals SET description = %s WHERE id = %s", [altered, goal_id]
            ),
        )
    assert raised.value.code == Exit.COPY_DIFFERS
    message = str(raised.value)
    assert f"goals row {goal_id}, column description: the source" in message
    assert ("SHA-256" if large else "'changed'") in message
    assert "rolled back" in message
    assert _objects(target) == []
    assert file_sha256(path) == sha


def test_a_timestamp_differing_by_a_microsecond_rolls_the_copy_back_naming_it(migrated, target):
    """Timestamps are compared as instants to the microsecond: one moved by a microsecond on the
    target before its verification is named, table, row and column."""
    alias, path, sha = migrated
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    (goal_id,) = connection.execute("SELECT MIN(id) FROM goals").fetchone()
    connection.close()
    with pytest.raises(postgres_move.MoveError) as raised:
        postgres_move.postgres_move(
            target_url=postgres_url(target),
            using=alias,
            before_verify=_alter_in_target(
                "UPDATE goals SET created_at = created_at + interval '1 microsecond' WHERE id = %s",
                [goal_id],
            ),
        )
    assert raised.value.code == Exit.COPY_DIFFERS
    assert f"goals row {goal_id}, column created_at: the source holds" in str(raised.value)
    assert _objects(target) == []
    assert file_sha256(path) == sha


LEGACY_TIMESTAMPS = [
    "2025-06-01 23:17:00.446824",
    "2025-06-01 23:17:00",
    "2025-06-01T23:17",
    "2025-06-01",
    "2025-06-01 23:17:00.4",
    "2025-06-01 23:17:00+02:00",
    "2025-06-01 23:17:00Z",
    "2025-6-1 3:04:05",  # only Django's pattern reads it
    "2025-03-30 02:30:00",  # not a wall-clock time in Paris
    "2025-10-26 02:30:00",  # twice a wall-clock time in Paris
    "2025-02-30 10:00:00",
    "yesterday",
    "",
    17,
    b"2025-06-01 23:17:00",
]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris"])
def test_legacy_timestamps_are_read_as_djangos_own_converter_reads_them(migrated, zone):
    """The move's timestamp reader gives what Django's SQLite converter gives (the same instant,
    the same wall-clock fields and fold, aware or not alike) and refuses what it refuses."""
    alias, _, _ = migrated
    with database_alias("zoned", {**connections[alias].settings_dict, "TIME_ZONE": zone}) as other:
        ops = connections[other].ops
        fast = postgres_move._timestamp(ops)
        django = postgres_move._checked(ops.convert_datetimefield_value, datetime.datetime)
        for value in LEGACY_TIMESTAMPS:
            try:
                want = django(value)
            except ValueError:
                with pytest.raises(ValueError):
                    fast(value)
                continue
            got = fast(value)
            assert got == want, value
            assert got.utcoffset() == want.utcoffset(), value
            assert (got.replace(tzinfo=None), got.fold) == (want.replace(tzinfo=None), want.fold)


def _tree_and_counts(alias: str) -> tuple[list[tuple], dict[str, int]]:
    """The goal tree as the legacy app reads it (ids, types, parents, roots, names) and the
    rows of every table, through raw SQL: after going back the models no longer fit."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT id, type, parent_id, root_id, name FROM goals ORDER BY id")
        tree = [tuple(map(str, row)) for row in cursor.fetchall()]
        counts = {}
        for table in (*LEGACY_TABLES, "legacy_repairs"):
            cursor.execute(f'SELECT COUNT(*) FROM "{table}"')
            counts[table] = cursor.fetchone()[0]
    return tree, counts


def test_going_back_over_the_backfill_after_the_move_gives_what_the_file_gives(migrated, target):
    """The way back moves with the rows: the repair records and the backward-safety records
    are copied, so going back over goals.0004 on PostgreSQL puts the legacy values back and
    removes the rows the migration made, as going back on the file itself does."""
    alias, _path, _sha = migrated
    _move(alias, target)
    with _registered(target) as moved:
        call_command("migrate", "goals", "0003", database=moved, no_backup=True, stdout=StringIO())
        on_postgresql = _tree_and_counts(moved)
    call_command("migrate", "goals", "0003", database=alias, no_backup=True, stdout=StringIO())

    assert on_postgresql == _tree_and_counts(alias)
    assert on_postgresql[1]["metric_values"] > 0


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_going_back_after_the_move_keeps_legacy_clocks_ahead_of_the_migration(
    make_legacy_db, legacy_database, target, zone
):
    """Rows whose legacy stamps are later than the migration (a clock ahead, written with a
    'T') are recorded by their wall clock in FRACTAL_TIME_ZONE, not by their text, so the move
    does not make them look written since: going back on PostgreSQL is allowed and gives what
    the file gives, in UTC as in a zone with summer time."""
    path = make_legacy_db("dev")
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        ahead = connection.execute(
            "UPDATE activity_instances SET created_at = '2099-03-04T05:06:07.123456' "
            "WHERE rowid % 3 = 0"
        ).rowcount
    assert ahead > 0
    with override_settings(TIME_ZONE=zone), legacy_database(path) as alias:
        call_command("migrate", database=alias, no_backup=True, stdout=StringIO())
        _move(alias, target)
        with _registered(target) as moved:
            call_command(
                "migrate", "goals", "0003", database=moved, no_backup=True, stdout=StringIO()
            )
            on_postgresql = _tree_and_counts(moved)
        call_command("migrate", "goals", "0003", database=alias, no_backup=True, stdout=StringIO())
        assert on_postgresql == _tree_and_counts(alias)
