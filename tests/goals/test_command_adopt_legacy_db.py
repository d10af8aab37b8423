"""Adoption of legacy SQLite files: every value kept, bad input refused untouched."""

from __future__ import annotations

import json
import sqlite3
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from goals_project.maintenance.legacy.adoption import same_statement
from goals_project.maintenance.legacy.inspection import LegacyDbProblem
from tests.conftest import file_sha256
from tests.legacy_snapshot import legacy_columns, legacy_snapshot

pytestmark = pytest.mark.sqlite_only


def _adopt(alias: str, *extra: str) -> str:
    out = StringIO()
    call_command("adopt_legacy_db", *extra, database=alias, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("variant", ["dev", "prod", "script_migrated"])
def test_adoption_keeps_every_row_and_value(variant, make_legacy_db, legacy_database):
    """Every row and every legacy column value is the same after adoption."""
    path = make_legacy_db(variant)
    columns = legacy_columns(path)
    before = legacy_snapshot(path, columns)
    with legacy_database(path) as alias:
        output = _adopt(alias)
    assert f"Adopted {path} ('{variant}' schema)" in output
    after = legacy_snapshot(path, columns)
    assert after == before
    assert sum(len(rows) for rows in before.values()) > 500


def test_prod_adoption_adds_the_columns_it_lacks(make_legacy_db, legacy_database):
    """A prod file gains the dev columns, with the defaults the legacy app gave new rows."""
    path = make_legacy_db("prod")
    with legacy_database(path) as alias:
        output = _adopt(alias)
    assert "added missing column activity_definitions.has_splits" in output
    assert "added missing column metric_values.split_definition_id" in output
    connection = sqlite3.connect(path)
    has_splits = connection.execute(
        "SELECT DISTINCT has_splits FROM activity_definitions"
    ).fetchall()
    groups = connection.execute(
        "SELECT COUNT(*) FROM activity_definitions WHERE group_id IS NOT NULL"
    ).fetchone()
    connection.close()
    assert has_splits == [(0,)]
    assert groups == (0,)
    assert legacy_columns(path) == legacy_columns(make_legacy_db("dev"))


def test_adoption_records_the_baseline_migrations(make_legacy_db, legacy_database):
    """After adoption the baseline migrations of both apps are recorded as applied."""
    path = make_legacy_db("dev")
    with legacy_database(path) as alias:
        _adopt(alias)
    connection = sqlite3.connect(path)
    applied = connection.execute("SELECT app, name FROM django_migrations ORDER BY app").fetchall()
    connection.close()
    assert applied == [
        ("goals", "0001_legacy_baseline"),
        ("practice_sessions", "0001_legacy_baseline"),
    ]


def test_second_adoption_changes_nothing(make_legacy_db, legacy_database):
    """Adopting an adopted file is a no-op that leaves its bytes unchanged."""
    path = make_legacy_db("dev")
    with legacy_database(path) as alias:
        _adopt(alias)
    digest = file_sha256(path)
    with legacy_database(path) as alias:
        output = _adopt(alias)
    assert output.strip() == f"{path} is already adopted; nothing to do."
    assert file_sha256(path) == digest


def test_check_reports_without_changing(make_legacy_db, legacy_database):
    """--check --json describes the file and changes nothing."""
    path = make_legacy_db("prod")
    digest = file_sha256(path)
    with legacy_database(path) as alias:
        report = json.loads(_adopt(alias, "--check", "--json"))
    assert report["variant"] == "prod"
    assert report["state_before"] == "legacy"
    assert report["adopted"] is False
    assert report["row_counts"]["goals"] > 0
    assert file_sha256(path) == digest


def test_migrate_adopts_a_legacy_file_then_migrates(make_legacy_db, legacy_database):
    """`migrate` adopts a legacy file by itself and then applies every migration."""
    path = make_legacy_db("dev")
    out = StringIO()
    with legacy_database(path) as alias:
        call_command("migrate", database=alias, stdout=out, verbosity=1)
    assert "Adopted legacy 'dev' database" in out.getvalue()
    connection = sqlite3.connect(path)
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
    connection.close()
    assert {"auth_user", "django_admin_log", "django_session", "legacy_repairs"} <= tables
    # Rebuilt under the rollback journal, then left in WAL for the app's readers and writer.
    assert journal == "wal"


def test_adopt_command_leaves_the_file_in_wal(make_legacy_db, legacy_database):
    """Adoption on its own also switches the file to WAL journaling."""
    path = make_legacy_db("dev")
    with legacy_database(path) as alias:
        _adopt(alias)
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()


def test_script_migrated_file_is_adopted_with_its_added_columns(make_legacy_db, legacy_database):
    """The earlier script's columns are kept, and its migrations are recorded as applied."""
    path = make_legacy_db("script_migrated")
    with legacy_database(path) as alias:
        output = _adopt(alias)
    assert "goals.0003_add_root_and_audit_columns" in output
    connection = sqlite3.connect(path)
    applied = connection.execute("SELECT app, name FROM django_migrations ORDER BY id").fetchall()
    repairs = connection.execute("SELECT COUNT(*) FROM legacy_repairs").fetchone()
    connection.close()
    assert ("goals", "0002_check_legacy_data") in applied
    assert ("practice_sessions", "0002_add_root_and_audit_columns") in applied
    assert len(applied) == 5
    assert repairs == (0,)


def test_migrate_refuses_constraint_violators_before_adopting(make_legacy_db, legacy_database):
    """Rows the new checks would reject stop migrate before adoption touches the file."""
    path = make_legacy_db("dev")
    connection = sqlite3.connect(path)
    connection.execute(
        "UPDATE goals SET session_end = '2001-01-01 00:00:00.000001' WHERE type = 'PracticeSession'"
    )
    connection.commit()
    connection.close()
    digest = file_sha256(path)
    with (
        legacy_database(path) as alias,
        pytest.raises(CommandError, match="practice sessions that end before they start"),
    ):
        call_command("migrate", database=alias, stdout=StringIO())
    assert file_sha256(path) == digest


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _sqlite_with(path: Path, script: str) -> Path:
    connection = sqlite3.connect(path)
    connection.executescript(script)
    connection.close()
    return path


def _assert_refused(path: Path, alias: str, problem: LegacyDbProblem, message: str) -> None:
    digest = file_sha256(path)
    with pytest.raises(CommandError, match=message) as raised:
        _adopt(alias)
    assert raised.value.returncode == int(problem)
    assert file_sha256(path) == digest


def test_pre_sti_schema_is_refused(make_legacy_db, legacy_database):
    """The pre-STI schema is refused by name, with the supported schemas listed."""
    path = make_legacy_db("pre_sti")
    with legacy_database(path) as alias:
        _assert_refused(
            path,
            alias,
            LegacyDbProblem.UNSUPPORTED_SCHEMA,
            r"uses the unsupported 'pre_sti' legacy schema \(pre-2026 design with a separate "
            r"practice_sessions table\)\. Supported schemas: dev, prod",
        )


def test_pre_sti_schema_is_refused_by_migrate(make_legacy_db, legacy_database):
    """`migrate` refuses the pre-STI schema too, before changing anything."""
    path = make_legacy_db("pre_sti")
    digest = file_sha256(path)
    with legacy_database(path) as alias, pytest.raises(CommandError, match="pre_sti"):
        call_command("migrate", database=alias, stdout=StringIO())
    assert file_sha256(path) == digest


def test_empty_file_is_refused(tmp_path, legacy_database):
    """An empty file has nothing to adopt."""
    path = _write(tmp_path / "empty.db", b"")
    with legacy_database(path) as alias:
        _assert_refused(path, alias, LegacyDbProblem.EMPTY, "holds no tables: there is nothing")


@pytest.mark.parametrize("extra", [(), ("--check",)])
def test_missing_file_is_refused_and_not_created(extra, tmp_path, legacy_database):
    """A path with no file is an error (2), and no file appears there; `--check` says what
    adoption would do, so it refuses it the same way (it said "holds no legacy data", exit 0)."""
    path = tmp_path / "nowhere.db"
    with legacy_database(path) as alias, pytest.raises(CommandError, match="does not exist") as e:
        _adopt(alias, *extra)
    assert e.value.returncode == LegacyDbProblem.MISSING
    assert not path.exists()


def test_file_that_is_not_sqlite_is_refused(tmp_path, legacy_database):
    """A file that is not SQLite is named as such."""
    path = _write(tmp_path / "notes.db", b"name,deadline\nrun a marathon,2026-05-01\n" * 50)
    with legacy_database(path) as alias:
        _assert_refused(path, alias, LegacyDbProblem.NOT_SQLITE, "is not a SQLite database")


def test_database_without_our_tables_is_refused(tmp_path, legacy_database):
    """A SQLite database of something else lists what it found."""
    path = _sqlite_with(
        tmp_path / "other.db", "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL);"
    )
    with legacy_database(path) as alias:
        _assert_refused(
            path,
            alias,
            LegacyDbProblem.FOREIGN,
            r"without Fractal Goals tables \(found: invoices\)",
        )


def test_unknown_columns_are_kept_in_a_side_table(make_legacy_db, legacy_database):
    """Columns no variant has survive migrate in legacy_extra_<table>, keyed by the row's id."""
    path = make_legacy_db("dev")
    _sqlite_with(
        path,
        "ALTER TABLE goals ADD COLUMN mood TEXT; UPDATE goals SET mood = 'good ' || id;"
        "ALTER TABLE practice_session_goals ADD COLUMN weight REAL;"
        "UPDATE practice_session_goals SET weight = 0.5;",
    )
    before = sqlite3.connect(path)
    moods = dict(before.execute("SELECT id, mood FROM goals"))
    links = before.execute(
        "SELECT practice_session_id, short_term_goal_id, weight FROM practice_session_goals"
    ).fetchall()
    before.close()
    with legacy_database(path) as alias:
        out = StringIO()
        call_command("migrate", database=alias, stdout=out, verbosity=1)
    after = sqlite3.connect(path)
    kept = dict(after.execute("SELECT id, mood FROM legacy_extra_goals"))
    kept_links = after.execute(
        "SELECT practice_session_id, short_term_goal_id, weight "
        "FROM legacy_extra_practice_session_goals"
    ).fetchall()
    goal_columns = {row[1] for row in after.execute("PRAGMA table_info(goals)")}
    after.close()
    assert kept == moods
    assert sorted(kept_links) == sorted(links)
    assert "mood" not in goal_columns
    assert "kept in legacy_extra_goals: mood" in out.getvalue()


def test_missing_column_is_refused(make_legacy_db, legacy_database):
    """A legacy table without a column its variant has cannot be adopted: nothing to fill in."""
    path = make_legacy_db("dev")
    _sqlite_with(path, "ALTER TABLE activity_groups DROP COLUMN sort_order;")
    with legacy_database(path) as alias:
        _assert_refused(
            path,
            alias,
            LegacyDbProblem.UNSUPPORTED_SCHEMA,
            "missing columns activity_groups.sort_order",
        )


def test_read_only_file_is_refused(make_legacy_db, legacy_database):
    """A file marked read-only is refused even for a user who could write it anyway."""
    path = make_legacy_db("dev")
    path.chmod(0o444)
    try:
        with legacy_database(path) as alias:
            _assert_refused(path, alias, LegacyDbProblem.READ_ONLY, "is read-only")
    finally:
        path.chmod(0o644)


def test_locked_file_is_refused(make_legacy_db, legacy_database):
    """A file another process is writing to is refused, not waited on forever."""
    path = make_legacy_db("dev")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE goals SET name = name")
    try:
        with legacy_database(path) as alias:
            _assert_refused(path, alias, LegacyDbProblem.LOCKED, "is locked by another process")
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_exclusively_locked_file_is_refused(make_legacy_db, legacy_database):
    """A file another process holds exclusively cannot even be read, and says so."""
    path = make_legacy_db("dev")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with legacy_database(path) as alias:
            _assert_refused(path, alias, LegacyDbProblem.LOCKED, "is locked by another process")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_corrupt_file_is_refused(make_legacy_db, legacy_database):
    """A damaged database is refused with SQLite's own finding."""
    path = make_legacy_db("dev")
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    # Overwrite the pages after the schema page: the schema still reads, the data does not.
    for offset in range(page_size * 3, min(len(data), page_size * 12)):
        data[offset] = 0x5A
    path.write_bytes(bytes(data))
    with legacy_database(path) as alias:
        _assert_refused(path, alias, LegacyDbProblem.CORRUPT, "is damaged")


@pytest.mark.parametrize(("stored", "kept_in_place"), [("'text-id'", True), ("4242", False)])
def test_adoption_keeps_the_rows_in_place_only_where_a_copy_would_store_the_same(
    stored, kept_in_place, make_legacy_db, legacy_database
):
    """metric_values.split_definition_id is declared STRING in dev files (numeric affinity): an
    id that looks like a number is stored as an integer there. Adoption rebuilds the table
    then, so the id becomes text as in a copy; with text ids only the definition changes."""
    path = make_legacy_db("dev")
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(
            f"UPDATE metric_values SET split_definition_id = {stored} WHERE rowid = 1"
        )
        first_page = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'metric_values'"
        ).fetchone()
    connection.close()
    with legacy_database(path) as alias:
        _adopt(alias)
    connection = sqlite3.connect(path)
    stored_as, _ = connection.execute(
        "SELECT typeof(split_definition_id), split_definition_id FROM metric_values WHERE rowid = 1"
    ).fetchone()
    page = connection.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'metric_values'"
    ).fetchone()
    definition = connection.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'metric_values'"
    ).fetchone()[0]
    connection.close()
    assert stored_as == "text"
    assert (page == first_page) is kept_in_place
    assert '"split_definition_id" varchar(36) NULL' in definition


def _root_pages(path: Path, tables: tuple[str, ...]) -> dict[str, int]:
    connection = sqlite3.connect(path)
    try:
        return {
            name: page
            for name, page in connection.execute("SELECT name, rootpage FROM sqlite_master")
            if name in tables
        }
    finally:
        connection.close()


@pytest.mark.parametrize("variant", ["dev", "prod"])
def test_adoption_changes_the_two_biggest_tables_without_copying_them(
    variant, make_legacy_db, legacy_database
):
    """The baseline declares activity_instances and metric_values in the legacy tables' column
    order: adoption gives them Django's definition in place, their rows where they were."""
    tables = ("activity_instances", "metric_values")
    path = make_legacy_db(variant)
    before = _root_pages(path, tables)
    with legacy_database(path) as alias:
        _adopt(alias)
    assert _root_pages(path, tables) == before
    assert len(before) == len(tables)


def _indexes(path: Path, table: str) -> dict[str, tuple[int, str]]:
    connection = sqlite3.connect(path)
    try:
        return {
            name: (page, sql)
            for name, page, sql in connection.execute(
                "SELECT name, rootpage, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = ? AND sql IS NOT NULL",
                (table,),
            )
        }
    finally:
        connection.close()


def _integrity(path: Path) -> list[tuple]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("PRAGMA integrity_check").fetchall()
    finally:
        connection.close()


def test_adoption_keeps_a_legacy_index_the_baseline_declares_alike(make_legacy_db, legacy_database):
    """The dev schema's partial indexes of goals are the baseline's own, written otherwise:
    adoption keeps their pages and gives them the baseline's statements."""
    path = make_legacy_db("dev")
    before = _indexes(path, "goals")
    assert {"idx_session_start", "idx_session_end"} <= set(before)
    with legacy_database(path) as alias:
        _adopt(alias)
    after = _indexes(path, "goals")
    for name in ("idx_session_start", "idx_session_end", "idx_template_id"):
        assert after[name][0] == before[name][0]
        assert after[name][1] != before[name][1]
        assert after[name][1].startswith(f'CREATE INDEX "{name}" ON "goals" (')
    assert _integrity(path) == [("ok",)]


def test_adoption_builds_again_a_legacy_index_that_differs_from_the_baseline(
    make_legacy_db, legacy_database
):
    """A legacy index under a name the baseline declares, over another column or with another
    condition, is dropped and the baseline's built: the file's own is not trusted by name."""
    path = make_legacy_db("dev")
    connection = sqlite3.connect(path)
    with connection:
        connection.executescript(
            "DROP INDEX idx_session_start;"
            "CREATE INDEX idx_session_start ON goals(session_end) WHERE type = 'PracticeSession';"
            "DROP INDEX idx_session_end;"
            'CREATE INDEX idx_session_end ON goals(session_end) WHERE type = "PracticeSession";'
        )
    connection.close()
    with legacy_database(path) as alias:
        _adopt(alias)
    after = _indexes(path, "goals")
    connection = sqlite3.connect(path)
    try:
        for name, column in (
            ("idx_session_start", "session_start"),
            ("idx_session_end", "session_end"),
        ):
            assert after[name][1] == (
                f'CREATE INDEX "{name}" ON "goals" ("{column}") WHERE "type" = \'PracticeSession\''
            )
            assert [row[2] for row in connection.execute(f"PRAGMA index_info({name})")] == [column]
    finally:
        connection.close()
    assert _integrity(path) == [("ok",)]


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        (
            "CREATE INDEX idx_a\n   ON goals(session_start)\n  WHERE type = 'PracticeSession'",
            'CREATE INDEX "idx_a" ON "goals" ("session_start") WHERE "type" = \'PracticeSession\'',
            True,
        ),
        ("create index [IDX_A] on `Goals` (A desc)", "CREATE INDEX idx_a ON goals (a DESC)", True),
        ("CREATE INDEX i ON t (a) WHERE b = 'X'", "CREATE INDEX i ON t (a) WHERE b = 'x'", False),
        ("CREATE INDEX i ON t (a) WHERE b = 'x'", 'CREATE INDEX i ON t (a) WHERE b = "x"', False),
        ("CREATE INDEX i ON t (a) WHERE b = 1", "CREATE INDEX i ON t (a) WHERE b = 1.0", False),
        ("CREATE INDEX i ON t (a)", "CREATE UNIQUE INDEX i ON t (a)", False),
        ("CREATE INDEX i ON t (a) -- note", "CREATE INDEX i ON t (a)", False),
        ('CREATE INDEX i ON t ("é")', 'CREATE INDEX i ON t ("É")', False),
        ('CREATE INDEX i ON t ("a b")', "CREATE INDEX i ON t (a b)", False),
    ],
)
def test_same_statement(first, second, same):
    assert same_statement(first, second) is same


@pytest.mark.parametrize("marked", ["file", "folder"])
def test_check_refuses_what_adoption_refuses_as_read_only(marked, make_legacy_db, legacy_database):
    """--check of a file, or in a folder, marked read-only says what adoption says (7), not that
    it can be adopted (0); nothing is written."""
    path = make_legacy_db("dev")
    target = path if marked == "file" else path.parent
    digest = file_sha256(path)
    target.chmod(0o444 if marked == "file" else 0o555)
    try:
        with legacy_database(path) as alias:
            with pytest.raises(CommandError) as checked:
                _adopt(alias, "--check")
            with pytest.raises(CommandError) as adopting:
                _adopt(alias)
    finally:
        target.chmod(0o644 if marked == "file" else 0o755)
    assert checked.value.returncode == LegacyDbProblem.READ_ONLY
    assert str(checked.value) == str(adopting.value)
    assert str(checked.value).startswith(f"The database {marked} {target} is read-only.")
    assert file_sha256(path) == digest
    assert sorted(entry.name for entry in path.parent.iterdir()) == [path.name]
