"""Adoption: make Django the owner of a legacy Fractal Goals SQLite file, at the baseline migration.

Each legacy table is rebuilt into the exact table Django's baseline migration describes (same
columns, same values, Django's column types, no unenforced REFERENCES clauses) and the baseline is
recorded as applied, all in one transaction: either the file is adopted or it is left as it was.
A table whose rows are already stored as the baseline stores them is given that definition in
place instead (migration_operations.alter_constraints_in_place). Either way matters because
SQLite's `PRAGMA foreign_key_check`, which Django runs after every migration, would otherwise
fail on the dangling references that real legacy files contain before the repair migrations
have had a chance to run.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import NOT_PROVIDED
from django.db.models.expressions import Value
from sqlparse.lexer import tokenize
from sqlparse.tokens import Comment, Number, String, Whitespace

from goals_project.maintenance.legacy.inspection import (
    DbState,
    LegacyDbError,
    LegacyDbProblem,
    check_not_locked,
    check_writable,
    is_file_database,
    legacy_db_inspect,
    recover_hot_journal,
    refuse_a_link_loop,
)
from goals_project.maintenance.legacy.preflight import (
    ADOPTION_SPACE_FACTOR,
    adoption_target,
    disk_needs,
    disk_refusal,
    legacy_data_check,
    legacy_db_findings,
)
from goals_project.maintenance.legacy.schemas import LEGACY_TABLES
from goals_project.maintenance.migration_operations import (
    KnownValues,
    alter_constraints_in_place,
    sqlite_schema_written,
)

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class AdoptionResult:
    """What adoption found and did."""

    path: Path | None
    state_before: DbState
    variant: str | None = None
    adopted: bool = False
    row_counts: dict[str, int] = field(default_factory=dict)
    added_columns: tuple[str, ...] = ()
    replaced_indexes: tuple[str, ...] = ()
    other_tables: tuple[str, ...] = ()
    recorded: tuple[str, ...] = ()  # the migrations recorded as applied, "app.name"
    extra_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # A -journal left by a killed program, rolled back (SQLite's recovery) before inspection.
    recovered_journal: Path | None = None
    schema_version: int | None = None  # at inspection (LegacyDbInspection)
    # What the preflight read of each table's values (legacy_db_preflight), for adoption.
    known_values: dict[str, KnownValues] = field(default_factory=dict)

    def kept_columns_notes(self) -> list[str]:
        """One line per table whose unknown columns went to a side table (see adoption)."""
        return [
            f"  columns no schema variant has, kept in {EXTRA_PREFIX}{table}: {', '.join(columns)}"
            for table, columns in self.extra_columns.items()
        ]


@contextlib.contextmanager
def write_witness(using: str = DEFAULT_DB_ALIAS) -> Iterator[Callable[[], bool] | None]:
    """While inside: a function telling whether no other connection has committed a write to
    the SQLite file behind `using` since the block began. It reads `PRAGMA data_version` on a
    connection of its own, which SQLite moves on every commit made through another connection,
    in rollback-journal and WAL mode alike; and the file's identity, size and time of change,
    which tell a file replaced (renamed over, copied over) that this connection, holding the
    old one, would not see. None for another database, a file not there yet, or one it cannot
    open; a read that fails counts as a change."""
    connection = connections[using]
    path = database_path(using) if connection.vendor == "sqlite" else None
    witness = before = None
    if path is not None and path.is_file():
        try:
            witness = sqlite3.connect(path, timeout=0)
            before = (witness.execute("PRAGMA data_version").fetchone()[0], _file_state(path))
        except (sqlite3.Error, OSError):
            if witness is not None:
                witness.close()
            witness = None
    if witness is None:
        yield None
        return

    def unchanged() -> bool:
        try:
            version = witness.execute("PRAGMA data_version").fetchone()[0]
            return (version, _file_state(path)) == before
        except (sqlite3.Error, OSError):
            return False

    try:
        yield unchanged
    finally:
        witness.close()  # SQLite keeps the other connections' locks on the file (unixClose)


def _file_state(path: Path) -> tuple[int, int, int, int]:
    """The file at `path`: which one it is (device, inode), its size and its time of change."""
    found = path.stat()
    return found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns


def database_path(using: str = DEFAULT_DB_ALIAS) -> Path | None:
    """The SQLite file behind a connection alias; None for in-memory databases."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        raise LegacyDbError(
            LegacyDbProblem.NOT_SQLITE_BACKEND,
            f"The '{using}' database is {connection.vendor}, not SQLite. Legacy files are SQLite: "
            "adopt and migrate the file first (DATABASE_URL=sqlite:///path), then move the data.",
        )
    name = connection.settings_dict["NAME"]
    return Path(name) if is_file_database(name) else None


def legacy_db_check_writable(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """Refuse an existing SQLite file, or its folder, marked read-only or that cannot be written
    (check_writable), a folder that does not exist, and a loop of symlinks; raise LegacyDbError.

    `migrate` calls this before it writes anything beside the file (its lock file, a backup), so a
    read-only folder is refused as such and left as it was, even for root. A loop of symlinks
    looks like no file at all, which `migrate` would have SQLite create, and SQLite cannot.
    """
    if connections[using].vendor != "sqlite":
        return
    path = database_path(using)
    if path is not None:
        refuse_a_link_loop(path)
    if path is not None and not path.parent.is_dir():
        raise LegacyDbError(
            LegacyDbProblem.MISSING,
            f"The folder {path.parent} does not exist, so there is no database {path.name} in "
            "it, nor anywhere to make one. Point DATABASE_URL at the database file, or create "
            "the folder first; nothing was changed.",
        )
    if path is not None and path.exists():
        check_writable(path)


def legacy_db_inspect_alias(
    *, using: str = DEFAULT_DB_ALIAS, integrity: bool = True
) -> AdoptionResult:
    """What adoption would do to the database behind `using`, without changing it; without
    `integrity`, the file's integrity left to the caller (legacy_db_inspect).

    A legacy file that adoption could not write (check_writable) is refused here already, as
    adoption and `migrate` refuse it (7): `adopt_legacy_db --check`, `migrate --plan` and
    `migration_readiness` say so rather than that it can be adopted."""
    if connections[using].vendor != "sqlite":
        return AdoptionResult(path=None, state_before=DbState.ADOPTED)
    path = database_path(using)
    if path is None:
        return AdoptionResult(path=None, state_before=DbState.NEW)
    inspection = legacy_db_inspect(path, integrity=integrity)
    if inspection.state == DbState.LEGACY:
        check_writable(path)
    return AdoptionResult(
        path=path,
        state_before=inspection.state,
        variant=inspection.variant,
        row_counts=inspection.row_counts,
        other_tables=inspection.other_tables,
        extra_columns=inspection.extra_columns,
        schema_version=inspection.schema_version,
    )


def legacy_db_recover(*, using: str = DEFAULT_DB_ALIAS) -> Path | None:
    """Let SQLite roll back a write that a killed program left in the file's -journal.

    Returns the journal's path when there was one. `migrate` and adoption call this before they
    inspect the file; it is SQLite's own recovery, which any program writing the file would run.
    """
    if connections[using].vendor != "sqlite":
        return None
    path = database_path(using)
    return None if path is None else recover_hot_journal(path)


def recovered_note(journal: Path) -> str:
    """What the commands say after legacy_db_recover rolled back the write in `journal`."""
    return (
        f"Rolled back the unfinished write in {journal} that a killed program left (SQLite's "
        "own recovery): the file is as it was at its last commit."
    )


def legacy_db_adopt(
    *,
    using: str = DEFAULT_DB_ALIAS,
    require_legacy: bool = False,
    progress: Progress | None = None,
    enable_wal: bool = True,
    before_commit: Callable[[], object] | None = None,
    found: AdoptionResult | None = None,
    unchanged: Callable[[], bool] | None = None,
) -> AdoptionResult:
    """Adopt the legacy file behind `using`; a no-op for already adopted databases.

    `found` is the caller's inspection of the file (`legacy_db_inspect_alias`, after
    `legacy_db_recover`), when it has just made one: the file is not read once more for it (its
    quick_check reads every page: 0.3 s at a million metric values). The adoption's transaction
    checks the row counts and the preflight again, unless `unchanged` says nothing was written
    since they were read.

    `before_commit` runs last inside the adoption's transaction, which an exception from it
    rolls back: `migrate` waits there for its backup's check (backups.backup_begin).

    `unchanged` (write_witness) tells, once the transaction holds the write lock, whether
    nothing was written to the file since `found` was inspected and its preflight run; the row
    counts and the preflight are then not read again (0.4 s at a million metric values).

    `migrate` passes enable_wal=False and switches to WAL once its migrations are done: table
    rebuilds under a rollback journal write each page once, under WAL twice (log, then checkpoint).

    Inside a transaction of the caller's (`migrate`'s, which commits the adoption with its
    migrations once its backup is verified), which holds the file's write lock, the adoption is
    a savepoint of it, on the connection as it is.

    A new database (no file, or no tables) is left to `migrate`, or refused with
    `require_legacy`, since there is nothing to adopt.
    """
    if found is None:
        recovered = legacy_db_recover(using=using)
        found = legacy_db_inspect_alias(using=using)
        found = replace(found, recovered_journal=recovered)
    if require_legacy:
        legacy_data_required(found)
    if found.state_before != DbState.LEGACY or found.path is None:
        return found
    check_writable(found.path)
    refusal = disk_refusal(
        disk_needs(using=using, rebuild_factor=ADOPTION_SPACE_FACTOR, backup=False),
        path=found.path,
    )
    if refusal is not None:
        raise refusal
    connection = connections[using]
    if not connection.in_atomic_block:  # else the caller's transaction holds the write lock
        check_not_locked(found.path)
        connection.close()  # a fresh connection, so no earlier transaction state leaks in
    models, applied = adoption_target(found.variant)
    try:
        with _rebuild_transaction(connection, before_commit) as editor:
            known = _refuse_what_cannot_be_adopted(using, found, unchanged)
            added, replaced = _rebuild(editor, models, found, progress, known)
            recorder = MigrationRecorder(connection)
            if not recorder.has_table():
                editor.create_model(recorder.Migration)
            for app, name in applied:
                recorder.record_applied(app, name)
    except KeyboardInterrupt as interrupt:
        raise LegacyDbError(
            LegacyDbProblem.INTERRUPTED,
            f"Adoption of {found.path} was interrupted and rolled back; nothing was changed. "
            "Run it again to adopt the file.",
        ) from interrupt
    except DatabaseError as error:
        raise _adoption_error(found.path, error) from error
    if enable_wal:
        sqlite_enable_wal(using=using)
    return replace(
        found,
        adopted=True,
        added_columns=tuple(added),
        replaced_indexes=tuple(replaced),
        recorded=tuple(f"{app}.{name}" for app, name in applied),
    )


@contextlib.contextmanager
def _rebuild_transaction(
    connection, before_commit: Callable[[], object] | None = None
) -> Iterator[BaseDatabaseSchemaEditor]:
    """Django's SQLite schema editor in one transaction, rolled back first whatever goes wrong
    (`before_commit` included, which runs after the foreign key check).

    The editor's own exit checks foreign keys before it rolls back. On a legacy file, whose
    tables not rebuilt yet still declare references that real data leaves dangling, that check
    fails, so an IntegrityError would replace the real error and the transaction stay open.
    """
    editor = connection.schema_editor(atomic=True)
    try:
        editor.__enter__()  # foreign key checks off, then BEGIN
        try:
            yield editor
            connection.check_constraints()
            if before_commit is not None:
                before_commit()
        except BaseException as error:
            BaseDatabaseSchemaEditor.__exit__(editor, type(error), error, error.__traceback__)
            raise
        BaseDatabaseSchemaEditor.__exit__(editor, None, None, None)
    finally:
        if not connection.in_atomic_block:  # inside a transaction it can do nothing, and a
            connection.enable_constraint_checking()  # broken one would hide the real error


def _refuse_what_cannot_be_adopted(
    using: str, found: AdoptionResult, unchanged: Callable[[], bool] | None = None
) -> dict[str, KnownValues]:
    """Inside the adoption's transaction, which keeps other writers out: the file must still be
    the one inspected (its schema and its row counts), and nothing in it may stop the rebuild or
    be lost by it. The counts and the preflight are read again unless `unchanged` says that
    nothing was written since they were read. Return what the preflight read of the tables'
    values (`found`'s, or that of the preflight run again)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA schema_version")
        version = cursor.fetchone()[0]
    if found.schema_version is not None and version != found.schema_version:
        raise LegacyDbError(
            LegacyDbProblem.LOCKED,
            f"{found.path} changed while it was being adopted: its schema changed after it was "
            "inspected (SQLite's schema_version moved: a table, column or index added or "
            "changed, or a VACUUM), so another program (the legacy app?) is working on it. Stop "
            "that program and run again; nothing was changed.",
        )
    if unchanged is not None and unchanged():
        return found.known_values
    for table in LEGACY_TABLES:
        counted = _count(connection, table)
        if counted != found.row_counts[table]:
            raise LegacyDbError(
                LegacyDbProblem.LOCKED,
                f"{found.path} changed while it was being adopted: {table} had "
                f"{found.row_counts[table]} rows when inspected and {counted} a moment later, so "
                "another program (the legacy app?) is writing to it. Stop that program and run "
                "again; nothing was changed.",
            )
    return legacy_db_preflight(using=using, found=found)


def legacy_db_preflight(*, using: str, found: AdoptionResult) -> dict[str, KnownValues]:
    """Raise the first reason the legacy file `found` cannot be adopted and migrated, reading it;
    return what it read of each table's values, which adoption need not read again while
    nothing is written to the file (`AdoptionResult.known_values`).

    `migrate` calls this before its backup, adoption again inside its transaction (after
    `migrate`'s call, only when the file was written since: write_witness), and
    migration_readiness lists the same checks.
    """
    refusals, read = legacy_db_findings(
        using=using, path=found.path, variant=found.variant, other_tables=found.other_tables
    )
    if refusals:
        raise refusals[0]
    if any(values.holding("check") for values in read.values()):
        preflight_legacy_data(connections[using])  # counts the rows and names the first ones
    return {table: values.known() for table, values in read.items()}


def _rebuild(
    editor,
    models,
    found: AdoptionResult,
    progress: Progress | None,
    known: dict[str, KnownValues],
):
    """Bring each legacy table to its model, in place where the rows are stored as its
    definition stores them (what `known` says of its values not read again), else by a
    rebuild; return the added columns and replaced indexes."""
    connection = editor.connection
    before_indexes = _index_names(connection)
    added: list[str] = []
    for table in sorted(set(models) - set(LEGACY_TABLES)):
        editor.create_model(models[table])  # tables of the recorded migrations
    for table in LEGACY_TABLES:
        if table in found.extra_columns:
            _keep_extra_columns(editor, table, found.extra_columns[table])
        added += _add_missing_columns(editor, models[table])
        _drop_indexes(editor, models[table])
        if not alter_constraints_in_place(editor, models[table], known.get(table)):
            editor._remake_table(models[table])
        counted = _count(connection, table)
        if counted != found.row_counts[table]:
            raise LegacyDbError(
                LegacyDbProblem.CORRUPT,
                f"Adopting {table} gave {counted} rows instead of "
                f"{found.row_counts[table]}; nothing was changed.",
            )
        if progress is not None:
            progress(table, counted, found.row_counts[table])
    return added, sorted(before_indexes - _index_names(connection))


def write_failure(error: DatabaseError) -> LegacyDbProblem:
    """What the database's error from a write that was rolled back means: a full disk, the
    file (or on PostgreSQL a row or table) locked by another process, or another failure."""
    # Django wraps the driver's error as the cause; an error raised while handling another
    # (MigrationSchemaMissing) has it as its context.
    driver = error.__cause__ or error.__context__
    name = getattr(driver, "sqlite_errorname", "")
    state = getattr(driver, "sqlstate", None)  # PostgreSQL's
    if name == "SQLITE_FULL" or state == "53100":  # disk_full
        return LegacyDbProblem.NO_SPACE
    if name.startswith("SQLITE_BUSY") or state == "55P03" or "locked" in str(error):
        return LegacyDbProblem.LOCKED
    return LegacyDbProblem.FAILED


def _adoption_error(path: Path, error: DatabaseError) -> LegacyDbError:
    """The real cause of a database error during adoption, which was rolled back."""
    problem = write_failure(error)
    if problem == LegacyDbProblem.NO_SPACE:
        return LegacyDbError(
            LegacyDbProblem.NO_SPACE,
            f"The disk holding {path} filled up during adoption (SQLite: {error}). Adoption was "
            "rolled back; nothing was changed. Free about "
            f"{ADOPTION_SPACE_FACTOR} times the file's size there and run again.",
        )
    if problem == LegacyDbProblem.LOCKED:
        return LegacyDbError(
            LegacyDbProblem.LOCKED,
            f"{path} became locked by another process during adoption ({error}). "
            "Stop the other program and run again; nothing was changed.",
        )
    return LegacyDbError(
        LegacyDbProblem.FAILED,
        f"Adoption of {path} failed and was rolled back, nothing was changed: SQLite reports "
        f"'{error}'. Run migration_readiness for what it finds in the file.",
    )


def legacy_data_required(found: AdoptionResult) -> None:
    """LegacyDbError when `found` is no file to adopt: missing (2) or without tables (4)."""
    if found.path is None or found.state_before == DbState.MISSING:
        where = found.path or "An in-memory database"
        raise LegacyDbError(
            LegacyDbProblem.MISSING,
            f"{where} does not exist, so there is nothing to adopt. Point DATABASE_URL at "
            "the legacy file (e.g. sqlite:////path/to/goals.db).",
        )
    if found.state_before == DbState.NEW:
        raise LegacyDbError(
            LegacyDbProblem.EMPTY,
            f"{found.path} holds no tables: there is nothing to adopt. Point DATABASE_URL at "
            "a legacy Fractal Goals file, or run `manage.py migrate` to start a new database.",
        )


def preflight_legacy_data(connection) -> None:
    """Run the constraint check of goals.0002 before adoption changes anything.

    The check lives in that migration (migrations stay self-contained); it only reads, so it is
    as valid on the legacy tables as on the adopted ones. legacy_db_preflight runs it only where
    its one read of each table (values_read) found a row meeting one of the check's conditions.
    """
    check = legacy_data_check().check_legacy_data
    check(None, SimpleNamespace(connection=connection))


def sqlite_enable_wal(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """Switch a SQLite file to write-ahead logging: readers no longer block the writer."""
    connection = connections[using]
    if connection.vendor == "sqlite" and database_path(using) is not None:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")


EXTRA_PREFIX = "legacy_extra_"


def _keep_extra_columns(editor, table: str, columns: tuple[str, ...]) -> None:
    """Copy columns no variant has into legacy_extra_<table>, keyed like the table, before the
    rebuild drops them: their values are someone's data, so they are kept, not judged."""
    quote = editor.quote_name
    side = EXTRA_PREFIX + table
    with editor.connection.cursor() as cursor:
        if side in editor.connection.introspection.table_names(cursor):
            raise LegacyDbError(
                LegacyDbProblem.UNSUPPORTED_SCHEMA,
                f"{table} has columns no schema variant has ({', '.join(columns)}), and the table "
                f"that would keep them, {side}, already exists. Rename that table and run again; "
                "nothing was changed.",
            )
        cursor.execute(f"PRAGMA table_info({quote(table)})")
        described = cursor.fetchall()
    key = [row[1] for row in sorted(described, key=lambda row: row[5]) if row[5]]
    key = key or [row[1] for row in described if row[1] not in columns]
    selected = ", ".join(quote(column) for column in [*key, *columns])
    # Names come from the file's own schema, quoted; no values are interpolated.
    editor.execute(f"CREATE TABLE {quote(side)} AS SELECT {selected} FROM {quote(table)}")  # noqa: S608


def _add_missing_columns(editor, model) -> list[str]:
    """Add the columns an older variant lacks, with the default the legacy app gave new rows."""
    table = model._meta.db_table
    with editor.connection.cursor() as cursor:
        # The pragma, not Django's table description, which parses each table's SQL (with
        # sqlparse, for collations): 0.1 s on every migrate, for names alone.
        cursor.execute(f"PRAGMA table_info({editor.quote_name(table)})")
        present = {row[1] for row in cursor.fetchall()}
    added = []
    for model_field in model._meta.local_concrete_fields:
        if model_field.column in present:
            continue
        default = ""
        value = model_field.db_default
        if isinstance(value, Value):
            value = value.value
        if value is not NOT_PROVIDED and not hasattr(value, "resolve_expression"):
            default = f" DEFAULT {editor.quote_value(value)}"
        editor.execute(
            f"ALTER TABLE {editor.quote_name(table)} "
            f"ADD COLUMN {editor.quote_name(model_field.column)}{default}"
        )
        added.append(f"{table}.{model_field.column}")
    return added


def _drop_indexes(editor, model) -> None:
    """Drop the indexes the legacy app made on `model`'s table (not those of its keys), as the
    rebuild would with the old table; but keep one that the model declares under its name as
    the same index (`same_statement`), its definition written as the model's. Built again it
    would be the same b-tree, for a read and a sort of the table (0.17 s for the four of
    `goals` at a million metric values). If the table is rebuilt after all, the kept ones go
    with the old table, and the model's are built on the new one."""
    table = model._meta.db_table
    declared = {}
    for statement in map(str, editor._model_indexes_sql(model)):
        found = _CREATED_INDEX.match(statement)
        if found:
            declared[found.group(1).replace('""', '"').translate(_ASCII_LOWER)] = statement
    with editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = %s "
            "AND sql IS NOT NULL",
            [table],
        )
        legacy = cursor.fetchall()
    rewritten = {}
    for name, sql in legacy:
        statement = declared.get(name.translate(_ASCII_LOWER))
        if statement is None or not same_statement(sql, statement):
            editor.execute(f"DROP INDEX {editor.quote_name(name)}")
        elif sql != statement:
            rewritten[name] = statement
    if rewritten:
        cases = " ".join("WHEN %s THEN %s" for _ in rewritten)
        with editor.connection.cursor() as cursor:
            sqlite_schema_written(
                cursor,
                f"UPDATE sqlite_schema SET sql = CASE name {cases} END "  # noqa: S608 - placeholders only
                f"WHERE type = 'index' AND name IN ({', '.join(['%s'] * len(rewritten))})",
                [*(value for pair in rewritten.items() for value in pair), *rewritten],
                reread=True,
            )


# The name in a statement of Django's schema editor that creates an index.
_CREATED_INDEX = re.compile(r'CREATE (?:UNIQUE )?INDEX "((?:[^"]|"")+)"')
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def same_statement(first: str, second: str) -> bool:
    """Whether two SQL statements are the same but for white space, the quoting of names and
    the case of names and keywords (in ASCII letters, as SQLite compares names). Strings and
    numbers must be the same as written. Anything else that differs makes them differ, such as
    a string written in double quotes, which SQLite reads as a name where there is one."""
    return _normal_tokens(first) == _normal_tokens(second)


def _normal_tokens(sql: str) -> list[str]:
    """The tokens of `sql` (sqlparse's lexer) but white space, names unquoted, and names and
    keywords in lower case; strings, numbers and comments as written."""
    normal = []
    for kind, text in tokenize(sql):
        if kind in Whitespace:
            continue
        if text[:1] == "[":  # a quoted name
            text = text[1:-1]
        elif text[:1] in '"`':
            text = text[1:-1].replace(text[0] * 2, text[0])
        elif kind in String.Single or kind in Number or kind in Comment:
            normal.append(text)
            continue
        normal.append(text.translate(_ASCII_LOWER))
    return normal


def _index_names(connection, tables=LEGACY_TABLES) -> set[str]:
    """The indexes made by CREATE INDEX (not those of keys) on `tables`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
        return {name for name, table in cursor.fetchall() if table in tables}


def _count(connection, table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return cursor.fetchone()[0]
