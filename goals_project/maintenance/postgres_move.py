"""Move the configured SQLite database into an empty PostgreSQL database, verified.

The source is read through a read-only connection inside one read transaction, so every row
copied and every row compared comes from one snapshot and nothing is ever written to it. On the
target, one transaction makes the schema with the project's migrations, copies each table with
COPY, sets the sequences past the copied ids, builds the indexes and checks the foreign keys (both
set aside for the copy), then compares every table row by row and value by value with the source
and runs the root_id verification. Any difference rolls the target back, so a target holds
nothing of ours or the whole verified copy.

Values are converted as Django's SQLite backend reads them (its own converters): legacy text
timestamps are wall-clock times in the source connection's zone (FRACTAL_TIME_ZONE), booleans
0/1; text, integers and floats are copied as they are. What PostgreSQL cannot hold as it is (a
NUL character in text, a timestamp that is not one, a 2 in a boolean column) stops the move,
naming the table, row and column.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime
import hashlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dj_database_url
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

from goals_project.bases.exit_codes import Exit
from goals_project.bases.server_errors import bad_connection_option
from goals_project.database_url import database_from_url, postgres_shown
from goals_project.maintenance.aliases import database_alias, sqlite_read_only_settings
from goals_project.maintenance.legacy.inspection import hot_journal_path
from goals_project.maintenance.locking import MaintenanceBusy, database_file, maintenance_lock
from goals_project.maintenance.verification import root_id_report

TARGET_ALIAS = "postgres_move_target"
SOURCE_ALIAS = "postgres_move_source"
OPERATION = "move_to_postgres"
BATCH_SIZE = 5_000
# Rows of each database held at once by the verification: memory, not round trips, decides.
COMPARE_BATCH_SIZE = 1_000
# Text longer than this (in bytes) is never held whole: it is read from SQLite in pieces of this
# size (incremental blob I/O), sent to PostgreSQL in pieces and compared by its SHA-256, so memory
# stays the same whatever the size of a value (a long description, a session's JSON data).
LARGE_TEXT = 1 << 20
# PostgreSQL's text types, by their type names.
TEXT_TYPES = ("text", "varchar", "bpchar")
SAMPLE_SIZE = 5
# Names of the zone that is UTC at every instant (ZoneInfo keys).
UTC_KEYS = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Zulu"})
POSTGRES_ENGINE = "django.db.backends.postgresql"
TARGET_FORM = "postgres://user:password@host:5432/name"
# Tables of SQLite's own and the migration records, which the target's migrations write.
NOT_COPIED = frozenset({"sqlite_sequence", "sqlite_stat1", "sqlite_stat4", "django_migrations"})

Progress = Callable[[str, int, int], None]
Stage = Callable[[str], None]


class MoveError(Exception):
    """The move was refused or rolled back; `code` is the exit status."""

    def __init__(self, code: Exit, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TableMove:
    """One table: its rows in the source and in the target, compared value by value."""

    table: str
    source_rows: int
    target_rows: int


@dataclass(frozen=True)
class MoveResult:
    """What was moved; `already` when the target held the verified copy before this run."""

    source: Path
    target: str
    tables: tuple[TableMove, ...] = field(default_factory=tuple)
    root_checks: int = 0
    already: bool = False

    @property
    def rows(self) -> int:
        return sum(table.target_rows for table in self.tables)


@dataclass(frozen=True)
class _Column:
    name: str
    type_oid: int
    type_name: str


@dataclass(frozen=True)
class _Table:
    name: str
    columns: tuple[_Column, ...]
    key: tuple[str, ...]
    # Bytes of the source's largest row (SQLite's own count, `dbstat`); None when it cannot say.
    largest_row: int | None = None


def postgres_move(
    *,
    target_url: str,
    using: str = DEFAULT_DB_ALIAS,
    progress: Progress | None = None,
    stage: Stage | None = None,
    before_verify: Callable[[str], None] | None = None,
) -> MoveResult:
    """Copy the SQLite database behind `using` into the empty PostgreSQL database at
    `target_url`, at the latest schema, and verify the copy before committing it.

    `before_verify(alias)`, when given, runs inside the target's transaction between the copy
    and its verification, on the target's connection alias (tests alter the copy there to see
    the verification catch it).

    Raises MoveError (nothing written to the target) when the target is not empty, cannot be
    reached or lacks privileges, when the source fails verification or is not at the latest
    migration, when another maintenance job holds either database, or when the copy differs.
    """
    stage = stage or (lambda message: None)
    source = _source_path(using)
    try:
        with (
            maintenance_lock(operation=OPERATION, using=using),
            database_alias(SOURCE_ALIAS, _source_settings(using, source)),
            database_alias(TARGET_ALIAS, _target_settings(target_url)),
        ):
            _connect(target_url)
            with maintenance_lock(operation=OPERATION, using=TARGET_ALIAS):
                _check_privileges(target_url)
                with _snapshot():
                    _check_source(source)
                    return _move(
                        source,
                        target_url,
                        progress=progress,
                        stage=stage,
                        before_verify=before_verify,
                    )
    except MaintenanceBusy as error:
        raise MoveError(Exit.BUSY, str(error)) from error


# -- the databases --------------------------------------------------------------------------------


def _source_path(using: str) -> Path:
    connection = connections[using]
    if connection.vendor != "sqlite":
        raise MoveError(
            Exit.NOT_SQLITE_BACKEND,
            f"The '{using}' database is {connection.vendor}, not SQLite: there is nothing to move. "
            "Point DATABASE_URL at the SQLite file to move.",
        )
    path = database_file(using)
    if path is None or not path.is_file():
        raise MoveError(
            Exit.USAGE,
            f"The '{using}' database {connection.settings_dict['NAME']} is not an SQLite file that "
            "exists: there is nothing to move. Point DATABASE_URL at the file.",
        )
    journal = hot_journal_path(path)
    if journal is not None:
        raise MoveError(
            Exit.HOT_JOURNAL,
            f"{journal} holds a write that a killed program left unfinished; the move reads the "
            "file without writing to it. Run manage.py adopt_legacy_db --recover (SQLite's own "
            "recovery), then move again.",
        )
    return path


def _source_settings(using: str, path: Path) -> dict:
    """The source, read-only (SQLite refuses every write), values as SQLite stores them."""
    config = sqlite_read_only_settings(using, path)
    options = {key: value for key, value in config["OPTIONS"].items() if key != "init_command"}
    # No type detection: the move converts each value with the backend's own converters.
    config["OPTIONS"] = {**options, "detect_types": 0}
    return config


def check_target(url: str) -> None:
    """Refuse, before the source is migrated or read, a target the move refuses whatever the
    source holds: a URL naming no PostgreSQL database, a server that does not answer, a user
    who may not create tables there, a database that is not empty (a source with migrations to
    apply cannot have been moved there yet). MoveError; nothing is done to either database."""
    with database_alias(TARGET_ALIAS, _target_settings(url)):
        _connect(url)
        _check_privileges(url)
        occupied = _target_objects()
    if occupied:
        raise _not_empty(url, occupied)


def _target_settings(url: str) -> dict:
    """Django's settings for the target URL; MoveError (exit 2) naming what is wrong with it,
    its password left out."""
    shown, give = _without_password(url), f"Give the empty target database as {TARGET_FORM}"
    if not url.strip():
        raise MoveError(Exit.USAGE, f"The target is empty. {give}.")
    if "://" not in url:
        raise MoveError(Exit.USAGE, f"The target {shown} is not a URL: it has no scheme. {give}.")
    try:
        config = database_from_url(url)
    except Exception as error:  # dj-database-url raises several kinds for a bad URL
        engine = dj_database_url.ENGINE_SCHEMES.get(url.split("://", 1)[0].lower())
        if engine is not None and engine.backend == POSTGRES_ENGINE:
            raise MoveError(
                Exit.USAGE,
                f"The target {shown} cannot be read as a URL: a port that is not a number, a "
                "host in [ ] cut short, or a character of the user or password that must be "
                f"written with % (@ as %40, / as %2F, # as %23). {give}.",
            ) from error
        config = {"ENGINE": None}
    if config["ENGINE"] != POSTGRES_ENGINE:
        raise MoveError(Exit.USAGE, f"The target {shown} is not a PostgreSQL URL. {give}.")
    if not config["NAME"] and not config.get("OPTIONS", {}).get("service"):
        raise MoveError(
            Exit.USAGE,
            f"The target {shown} names no database: write its name after the host's /. {give}.",
        )
    return config


def _without_password(url: str) -> str:
    """`url` with its password, if any, written as ***: everything between the user's `:` and
    the last `@`, so that a password holding /, #, ? or @ unencoded (which makes the URL
    unreadable) is left out whole."""
    scheme, separator, rest = url.partition("://")
    at = rest.rfind("@")
    user, colon, _ = rest[: max(at, 0)].partition(":")
    if not separator or at < 0 or not colon:
        return url
    return f"{scheme}://{user}:***{rest[at:]}"


def _display(url: str) -> str:
    """The URL without its password, for messages."""
    return postgres_shown(database_from_url(url))


def _connect(url: str) -> None:
    try:
        connections[TARGET_ALIAS].ensure_connection()
    except DatabaseError as error:
        detail = " ".join(str(error).split()).rstrip(".?")
        if bad_connection_option(detail):
            raise MoveError(
                Exit.USAGE,
                f"The target's URL holds a connection option PostgreSQL does not take: {detail}. "
                "Correct or remove it; nothing was written.",
            ) from error
        raise MoveError(
            Exit.UNREACHABLE,
            f"Cannot connect to {_display(url)}: {detail}. Check that the server runs and accepts "
            "this user, and that the database exists (CREATE DATABASE); nothing was written.",
        ) from error


def _check_privileges(url: str) -> None:
    """The schema's CREATE and USAGE privileges, before anything is written."""
    with connections[TARGET_ALIAS].cursor() as cursor:
        cursor.execute(
            "SELECT current_user, current_schema(), current_schema() IS NOT NULL AND "
            "has_schema_privilege(current_schema(), 'CREATE') AND "
            "has_schema_privilege(current_schema(), 'USAGE')"
        )
        user, schema, allowed = cursor.fetchone()
    if not allowed:
        where = f"schema {schema}" if schema else "any schema of its search_path"
        grant = f"GRANT CREATE, USAGE ON SCHEMA {schema or 'public'} TO {user}"
        raise MoveError(
            Exit.NO_PRIVILEGE,
            f"User {user} may not create tables in {where} of {_display(url)}. Run {grant} (or "
            "make it the database's owner), then move again; nothing was written.",
        )


@contextlib.contextmanager
def _snapshot() -> Iterator[None]:
    """One read transaction of the source: everything read below sees one state of the file."""
    with transaction.atomic(using=SOURCE_ALIAS):
        with connections[SOURCE_ALIAS].cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM sqlite_master")  # starts the read transaction
        yield


def _check_source(path: Path) -> None:
    executor = MigrationExecutor(connections[SOURCE_ALIAS])
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in pending[:SAMPLE_SIZE])
        raise MoveError(
            Exit.SOURCE_NOT_READY,
            f"{path} has migrations to apply ({names}…): the move copies a database at the latest "
            "schema. Run manage.py migrate (it backs up first), then move again; nothing was "
            "written.",
        )
    report = root_id_report(using=SOURCE_ALIAS)
    if not report.ok:
        failed = "; ".join(
            f"{check.table}: {check.check} ({check.failures}"
            + (f", first: {', '.join(check.sample_ids)}" if check.sample_ids else "")
            + ")"
            for check in report.checks
            if not check.ok
        )
        raise MoveError(
            Exit.SOURCE_NOT_READY,
            f"{path} fails {report.failed} root_id checks: {failed}. Run manage.py "
            "verify_root_ids, repair the rows, then move again; nothing was written.",
        )


# -- the move -------------------------------------------------------------------------------------


def _move(
    source: Path,
    url: str,
    *,
    progress: Progress | None,
    stage: Stage,
    before_verify: Callable[[str], None] | None,
) -> MoveResult:
    target = connections[TARGET_ALIAS]
    occupied = _target_objects()
    if occupied:
        return _already_moved(source, url, occupied, stage=stage)
    try:
        with transaction.atomic(using=TARGET_ALIAS):
            stage("Making the schema with the migrations")
            _migrate_target()
            with target.cursor() as cursor:
                # The schema editor made them immediate for this transaction; at commit (checked
                # below first) they let a table's rows arrive before the rows they point to.
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            tables = _plan(source)
            _empty(tables)
            foreign_keys = _foreign_keys_set_aside()
            indexes = _indexes_set_aside()
            for table in tables:
                _copy_table(table, progress)
            stage("Setting the sequences past the copied ids")
            _reset_sequences(tables)
            stage("Building the indexes")
            _indexes_restore(indexes)
            stage("Checking the foreign keys")
            _foreign_keys_restore(foreign_keys)
            target.check_constraints()
            if before_verify:
                before_verify(TARGET_ALIAS)
            stage("Verifying every table, row and value")
            moved, root_checks = _verify(tables, url)
            stage("Committing")
    except MoveError:
        raise
    except DatabaseError as error:
        raise _database_error(error, url) from error
    stage("Committed")
    return MoveResult(source=source, target=_display(url), tables=moved, root_checks=root_checks)


def _target_objects() -> list[str]:
    """Tables, views and sequences in the target outside PostgreSQL's own schemas."""
    with connections[TARGET_ALIAS].cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp%%' "
            "ORDER BY 1"
        )
        return [name for (name,) in cursor.fetchall()]


def _already_moved(source: Path, url: str, occupied: list[str], *, stage: Stage) -> MoveResult:
    """A target holding the verified copy of this source (a run ended after its commit) is
    verified again and reported; any other content is refused."""
    refusal = _not_empty(url, occupied)
    if not _same_migrations():
        raise refusal
    stage("The target holds a copy already: verifying it")
    try:
        with transaction.atomic(using=TARGET_ALIAS):
            with connections[TARGET_ALIAS].cursor() as cursor:
                cursor.execute("SET TRANSACTION READ ONLY")
            tables = _plan(source)
            moved, root_checks = _verify(tables, url)
    except MoveError as error:
        raise MoveError(
            Exit.TARGET_NOT_EMPTY,
            f"{refusal} It holds a copy that differs from {source}: {error}",
        ) from error
    return MoveResult(
        source=source, target=_display(url), tables=moved, root_checks=root_checks, already=True
    )


def _not_empty(url: str, occupied: list[str]) -> MoveError:
    return MoveError(
        Exit.TARGET_NOT_EMPTY,
        f"{_display(url)} is not empty ({len(occupied)} tables, views or sequences, first: "
        f"{', '.join(occupied[:SAMPLE_SIZE])}). The move writes only into an empty database: "
        "create one (CREATE DATABASE name), or drop what is there; nothing was written.",
    )


def _same_migrations() -> bool:
    target = MigrationRecorder(connections[TARGET_ALIAS])
    if not target.has_table():
        return False
    applied = MigrationRecorder(connections[SOURCE_ALIAS]).applied_migrations()
    return set(target.applied_migrations()) == set(applied)


def _migrate_target() -> None:
    """The project's migrations, inside the move's transaction (PostgreSQL's DDL is
    transactional). Without post_migrate: content types and permissions are copied, ids and
    all, from the source."""
    executor = MigrationExecutor(connections[TARGET_ALIAS])
    with contextlib.redirect_stdout(_Discard()):  # the backfill's report on empty tables
        executor.migrate(executor.loader.graph.leaf_nodes())


class _Discard:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def _plan(source: Path) -> list[_Table]:
    """The tables to copy, parents before children, each with its columns and key; refuses a
    source whose tables or columns differ from the schema the migrations made."""
    target = connections[TARGET_ALIAS]
    with target.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, a.attname, a.atttypid, t.typname FROM pg_class c "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "JOIN pg_type t ON t.oid = a.atttypid "
            "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') "
            "ORDER BY c.relname, a.attnum"
        )
        columns: dict[str, list[_Column]] = {}
        for table, name, type_oid, type_name in cursor.fetchall():
            columns.setdefault(table, []).append(_Column(name, type_oid, type_name))
        cursor.execute(
            "SELECT c.relname, a.attname FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indrelid "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indisprimary AND c.relnamespace = current_schema()::regnamespace "
            "ORDER BY c.relname, array_position(i.indkey::int2[], a.attnum)"
        )
        keys: dict[str, list[str]] = {}
        for table, name in cursor.fetchall():
            keys.setdefault(table, []).append(name)
        cursor.execute(
            "SELECT DISTINCT c.conrelid::regclass::text, c.confrelid::regclass::text "
            "FROM pg_constraint c WHERE c.contype = 'f' "
            "AND c.connamespace = current_schema()::regnamespace"
        )
        references = cursor.fetchall()
    target_tables = {name for name in columns if name not in NOT_COPIED}
    source_columns = _source_columns()
    _refuse_schema_difference(source, source_columns, target_tables, columns)
    missing_keys = sorted(name for name in target_tables if name not in keys)
    if missing_keys:
        raise MoveError(
            Exit.DATABASE_ERROR, f"Tables without a primary key: {', '.join(missing_keys)}."
        )
    order = _dependency_order(sorted(target_tables), references)
    return [
        _Table(name, tuple(columns[name]), tuple(keys[name]), _largest_row(name)) for name in order
    ]


def _largest_row(table: str) -> int | None:
    """The size in bytes of the largest row of `table` in the source, every value counted, as
    SQLite's `dbstat` reads it from the pages' cell headers (no value is read); None when this
    SQLite is built without `dbstat`."""
    with connections[SOURCE_ALIAS].cursor() as cursor:
        try:
            cursor.execute(
                "SELECT mx_payload FROM dbstat WHERE name = %s AND aggregate = 1", [table]
            )
        except DatabaseError:
            return None
        row = cursor.fetchone()
    return row[0] if row else None


def _empty(tables: list[_Table]) -> None:
    """Remove what the migrations wrote on the empty target (their own `legacy_repairs` records
    of the columns they added): the source's history replaces it, ids and all."""
    with connections[TARGET_ALIAS].cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(_quote(table.name) for table in tables)}")


def _foreign_keys_set_aside() -> list[tuple[str, str, str]]:
    """Drop the schema's foreign keys for the copy, returning (table, name, definition) of each.

    Checked row by row, a foreign key queues a trigger per copied row and runs them all at the
    check; added back after the copy (as pg_restore does), each is checked by one join of the
    two tables. Same names, same definitions (pg_get_constraintdef), same transaction.
    """
    with connections[TARGET_ALIAS].cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' "
            "AND connamespace = current_schema()::regnamespace ORDER BY 1, 2"
        )
        foreign_keys = cursor.fetchall()
        for table, name, _ in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {_quote(name)}")
    return foreign_keys


def _foreign_keys_restore(foreign_keys: list[tuple[str, str, str]]) -> None:
    """The foreign keys `_foreign_keys_set_aside` dropped, added back and so checked."""
    with connections[TARGET_ALIAS].cursor() as cursor:
        for table, name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {_quote(name)} {definition}")


def _indexes_set_aside() -> list[str]:
    """Drop the schema's indexes that back no constraint (not the primary keys, not the unique
    constraints) for the copy, returning the definition of each (pg_get_indexdef).

    Kept, an index takes each copied row's entry in the order the rows come, a random place for
    most; built after the copy (as pg_restore does), it is one sort of the table. Same names,
    same definitions, same transaction; the verification checks that each one the models
    declare is there."""
    with connections[TARGET_ALIAS].cursor() as cursor:
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relnamespace = current_schema()::regnamespace AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) ORDER BY 1"
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
    return [definition for _, definition in indexes]


def _indexes_restore(indexes: list[str]) -> None:
    """The indexes `_indexes_set_aside` dropped, built again from the copied rows."""
    with connections[TARGET_ALIAS].cursor() as cursor:
        for definition in indexes:
            cursor.execute(definition)


def _source_columns() -> dict[str, list[str]]:
    with connections[SOURCE_ALIAS].cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
            "ESCAPE '\\' ORDER BY name"
        )
        tables = [name for (name,) in cursor.fetchall() if name not in NOT_COPIED]
        found = {}
        for table in tables:
            cursor.execute(f"PRAGMA table_info({_quote(table)})")
            found[table] = [row[1] for row in cursor.fetchall()]
    return found


def _refuse_schema_difference(
    source: Path,
    source_columns: dict[str, list[str]],
    target_tables: set[str],
    target_columns: dict[str, list[_Column]],
) -> None:
    extra = sorted(set(source_columns) - target_tables)
    lacking = sorted(target_tables - set(source_columns))
    differing = sorted(
        table
        for table in target_tables & set(source_columns)
        if set(source_columns[table]) != {column.name for column in target_columns[table]}
    )
    if not (extra or lacking or differing):
        return
    found = []
    if extra:
        found.append(f"tables the schema does not have: {', '.join(extra)}")
    if lacking:
        found.append(f"no tables {', '.join(lacking)}")
    if differing:
        found.append(f"other columns in {', '.join(differing)}")
    raise MoveError(
        Exit.UNSUPPORTED_SCHEMA,
        f"{source} differs from the schema its migrations describe ({'; '.join(found)}), so "
        "not everything would move. Move those tables' data into the schema or out of the file, "
        "then move again; nothing was written.",
    )


def _dependency_order(tables: list[str], references: list[tuple[str, str]]) -> list[str]:
    """Referenced tables first (depth-first; the goals ↔ session_templates cycle, legal because
    the foreign keys are checked at commit, is broken in name order)."""
    depends = {
        table: sorted({to for frm, to in references if frm == table and to != table})
        for table in tables
    }
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(table: str) -> None:
        if state.get(table):
            return
        state[table] = "visiting"
        for parent in depends.get(table, ()):
            if parent in depends:
                visit(parent)
        state[table] = "done"
        order.append(table)

    for table in tables:
        visit(table)
    return order


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- copying and comparing ------------------------------------------------------------------------


def _converters(table: _Table) -> list[tuple[int, Callable]]:
    """(column index, converter) for the columns whose SQLite value needs converting or
    checking before PostgreSQL holds it; the others are copied as they are."""
    ops = connections[SOURCE_ALIAS].ops
    found = []
    for index, column in enumerate(table.columns):
        kind = column.type_name
        if kind == "timestamptz":
            found.append((index, _timestamp(ops)))
        elif kind == "date":
            found.append((index, _checked(ops.convert_datefield_value, datetime.date)))
        elif kind == "bool":
            found.append((index, _checked(ops.convert_booleanfield_value, bool)))
        elif kind in TEXT_TYPES:
            found.append((index, _text))
        elif kind in ("int2", "int4", "int8"):
            found.append((index, _integer))
        elif kind in ("float4", "float8"):
            found.append((index, _float))
    return found


def _checked(convert: Callable, kind: type) -> Callable:
    def convert_checked(value):
        try:
            converted = convert(value, None, None)
        except (TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"{value!r} cannot be read as {kind.__name__}") from error
        if not isinstance(converted, kind):
            raise ValueError(f"{value!r} is not a {kind.__name__}")
        return converted

    return convert_checked


def _timestamp(ops) -> Callable:
    """Django's `convert_datetimefield_value`, checked, with its common case inlined: text that
    `datetime.fromisoformat` reads (what its `parse_datetime` tries first) is made aware in the
    connection's zone when it is naive, as `make_aware` does (the same fields and fold); anything
    else goes through Django's own. The same instant at a fraction of the calls.

    A zone that is UTC is `datetime.timezone.utc`, the tzinfo psycopg gives the target's values
    (its session is in UTC): equal instants in one tzinfo compare without asking either for its
    offset, some thirty times faster than across two."""
    convert = _checked(ops.convert_datetimefield_value, datetime.datetime)
    zone = ops.connection.timezone if settings.USE_TZ else None
    if getattr(zone, "key", None) in UTC_KEYS:
        zone = datetime.UTC
    parse = datetime.datetime.fromisoformat
    combine = datetime.datetime.combine

    def convert_timestamp(value):
        if type(value) is not str:
            return convert(value)
        try:
            parsed = parse(value)
        except ValueError:
            return convert(value)
        if zone is not None and parsed.tzinfo is None:
            return combine(parsed, parsed.time(), zone)
        return parsed

    return convert_timestamp


def _text(value):
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    if "\x00" in value:
        raise ValueError(f"{value!r} holds a NUL character, which PostgreSQL text cannot hold")
    return value


def _integer(value):
    if type(value) is not int:
        raise ValueError(f"{value!r} is not an integer")
    return value


def _float(value):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number")
    return float(value)


@dataclass(frozen=True)
class _Large:
    """A text value longer than LARGE_TEXT, standing in a row for the value itself: where it is
    in the source (`rowid`) and its length in bytes; equal to another of the same length (their
    contents are compared by SHA-256 afterwards)."""

    nbytes: int
    rowid: int | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        return f"<text of {self.nbytes} bytes>"


def _unbounded(table: _Table) -> list[int]:
    """Indexes of the columns that may hold text of any length (`text`, not `varchar(n)`)."""
    return [index for index, column in enumerate(table.columns) if column.type_name == "text"]


def _unbounded_in_source(table: _Table) -> list[int]:
    """The `_unbounded` columns whose source values may be longer than LARGE_TEXT: none when
    no row of the table is (`largest_row`), and then they are read with the rest of the row."""
    if table.largest_row is not None and table.largest_row <= LARGE_TEXT:
        return []
    return _unbounded(table)


def _source_rows(
    table: _Table, size: int = BATCH_SIZE, *, through_blobs: list[int] | None = None
) -> Iterator[list]:
    """The source's rows of `table` in key order, converted, in batches. Unbounded text is read
    through SQLite's incremental blob I/O, never loaded whole: a value longer than LARGE_TEXT
    stands as a `_Large` for `_large_pieces` to stream. A table whose rows are all shorter than
    that (`_unbounded_in_source`) is read without, unless `through_blobs` names the columns to
    read so: one blob handle per value is slow, and Python's sqlite3 keeps a reference to each
    handle until the connection closes (88 bytes per value: memory growing with the table).
    Text that is not UTF-8 stops a read without naming its row; the table is then read again with
    its text through the handles, which name it."""
    unbounded = _unbounded_in_source(table) if through_blobs is None else through_blobs
    names = ", ".join(
        f"typeof({_quote(column.name)})" if index in unbounded else _quote(column.name)
        for index, column in enumerate(table.columns)
    )
    if unbounded:
        names += ", rowid"
    order = ", ".join(_quote(name) for name in table.key)
    converters = [
        (index, convert) for index, convert in _converters(table) if index not in unbounded
    ]
    key_index = [[column.name for column in table.columns].index(name) for name in table.key]
    width = len(table.columns)
    source = connections[SOURCE_ALIAS]
    with source.cursor() as cursor:
        cursor.execute(f"SELECT {names} FROM {_quote(table.name)} ORDER BY {order}")  # noqa: S608
        while rows := _fetched(cursor, size, table, unbounded):
            batch = []
            for row in rows:
                values = list(row[:width])
                index = None
                try:
                    for index, convert in converters:
                        if values[index] is not None:
                            values[index] = convert(values[index])
                    for index in unbounded:
                        values[index] = _unbounded_value(
                            source, table, table.columns[index].name, row[width], values[index]
                        )
                except ValueError as error:
                    key = ", ".join(str(values[i]) for i in key_index)
                    raise MoveError(
                        Exit.COPY_DIFFERS,
                        f"{table.name} row {key}, column {table.columns[index].name}: "
                        f"{error}. Correct the value in the source, then move again; "
                        "nothing was written to the target.",
                    ) from error
                batch.append(tuple(values))
            yield batch


def _fetched(cursor, size: int, table: _Table, unbounded: list[int]) -> list:
    """The next rows; on text that is not UTF-8 (sqlite3 cannot make it a str), the MoveError
    naming its row, found by reading the table through the blob handles."""
    try:
        return cursor.fetchmany(size)
    except DatabaseError as error:
        if unbounded or "decode" not in str(error):
            raise
        text = [
            index for index, column in enumerate(table.columns) if column.type_name in TEXT_TYPES
        ]
        for _ in _source_rows(table, through_blobs=text):
            pass
        raise  # not found through the handles either: SQLite's own words


def _unbounded_value(source, table: _Table, column: str, rowid: int, kind: str):
    if kind == "null":
        return None
    if kind != "text":
        raise ValueError(f"a value of type {kind} is not text")
    with source.connection.blobopen(table.name, column, rowid, readonly=True) as blob:
        nbytes = len(blob)
        if nbytes > LARGE_TEXT:
            return _Large(nbytes, rowid)
        return _text(blob.read().decode())


def _large_pieces(table: _Table, column: str, value: _Large) -> Iterator[str]:
    """The text of a large source value, in pieces of about LARGE_TEXT bytes, checked as `_text`
    checks a small one."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    source = connections[SOURCE_ALIAS].connection
    with source.blobopen(table.name, column, value.rowid, readonly=True) as blob:
        while chunk := blob.read(LARGE_TEXT):
            yield _text(decoder.decode(chunk))
        decoder.decode(b"", final=True)


def _large_digest(table: _Table, column: str, value: _Large) -> str:
    digest = hashlib.sha256()
    for piece in _large_pieces(table, column, value):
        digest.update(piece.encode())
    return digest.hexdigest()


def _count(alias: str, table: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {_quote(table)}")  # noqa: S608
        return cursor.fetchone()[0]


def _copy_table(table: _Table, progress: Progress | None) -> None:
    total = _count(SOURCE_ALIAS, table.name)
    done = 0
    if progress:
        progress(table.name, done, total)
    names = ", ".join(_quote(column.name) for column in table.columns)
    sql = f"COPY {_quote(table.name)} ({names}) FROM STDIN"
    large_rows = []  # rows holding a large value: a few, each without its large values
    with connections[TARGET_ALIAS].cursor() as cursor, cursor.copy(sql) as copy:
        for batch in _source_rows(table):
            large_rows.extend(row for row in batch if any(type(v) is _Large for v in row))
            _copy_batch(copy, [row for row in batch if not any(type(v) is _Large for v in row)])
            done += len(batch)
            if progress:
                progress(table.name, done, total)
    for row in large_rows:
        _insert_large_row(table, row)


def _copy_batch(copy, batch: list[list]) -> None:
    """One batch of rows into the open COPY (a step of its own for the crash harness)."""
    for row in batch:
        copy.write_row(row)


def _insert_large_row(table: _Table, row: list) -> None:
    """A row holding large text: each large value goes through COPY, piece by piece, into a
    temporary table and is joined on the server, so it is never whole in this process."""
    values = []
    params = []
    with connections[TARGET_ALIAS].cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS postgres_move_pieces "
            "(value integer, piece integer, text text) ON COMMIT DROP"
        )
        for index, (column, value) in enumerate(zip(table.columns, row, strict=True)):
            if type(value) is not _Large:
                values.append("%s")
                params.append(value)
                continue
            try:
                with cursor.copy("COPY postgres_move_pieces FROM STDIN") as copy:
                    for number, piece in enumerate(_large_pieces(table, column.name, value)):
                        copy.write_row((index, number, piece))
            except ValueError as error:
                key = ", ".join(
                    str(row[table.columns.index(c)]) for c in table.columns if c.name in table.key
                )
                raise MoveError(
                    Exit.COPY_DIFFERS,
                    f"{table.name} row {key}, column {column.name}: {error}. Correct the value "
                    "in the source, then move again; nothing was written to the target.",
                ) from error
            values.append(
                "(SELECT string_agg(text, '' ORDER BY piece) FROM postgres_move_pieces "
                "WHERE value = %s)"
            )
            params.append(index)
        names = ", ".join(_quote(column.name) for column in table.columns)
        cursor.execute(
            f"INSERT INTO {_quote(table.name)} ({names}) "  # noqa: S608
            f"VALUES ({', '.join(values)})",
            params,
        )
        cursor.execute("TRUNCATE postgres_move_pieces")


def _reset_sequences(tables: list[_Table]) -> None:
    """Every sequence past the largest id copied, and past SQLite's AUTOINCREMENT counter
    (`sqlite_sequence`), so an id deleted in SQLite is not handed out again."""
    counters = {}
    with connections[SOURCE_ALIAS].cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_sequence'")
        if cursor.fetchone()[0]:
            cursor.execute("SELECT name, seq FROM sqlite_sequence")
            counters = dict(cursor.fetchall())
    with connections[TARGET_ALIAS].cursor() as cursor:
        for table in tables:
            for column in table.columns:
                cursor.execute(
                    "SELECT pg_get_serial_sequence(%s, %s)", [_quote(table.name), column.name]
                )
                (sequence,) = cursor.fetchone()
                if sequence is None:
                    continue
                cursor.execute(
                    f"SELECT MAX({_quote(column.name)}) FROM {_quote(table.name)}"  # noqa: S608
                )
                highest = max(cursor.fetchone()[0] or 0, counters.get(table.name) or 0)
                cursor.execute(
                    "SELECT setval(%s, %s, %s)", [sequence, max(highest, 1), highest > 0]
                )


def _target_rows(table: _Table) -> Iterator[list]:
    """The target's rows of `table` in the source's key order (text keys in byte order, as
    SQLite's BINARY collation sorts them), in batches; text longer than LARGE_TEXT as a `_Large`.

    A server-side cursor fetching COMPARE_BATCH_SIZE rows at a time in binary: the client holds
    one batch whatever the size of the table (a COPY's rows came one network message and one
    wait each)."""
    target = connections[TARGET_ALIAS]
    unbounded = _unbounded(table)
    names = ", ".join(
        f"CASE WHEN octet_length({_quote(column.name)}) > {LARGE_TEXT} THEN NULL "
        f"ELSE {_quote(column.name)} END"
        if index in unbounded
        else _quote(column.name)
        for index, column in enumerate(table.columns)
    )
    names += "".join(
        f", CASE WHEN octet_length({_quote(table.columns[index].name)}) > {LARGE_TEXT} "
        f"THEN octet_length({_quote(table.columns[index].name)}) END"
        for index in unbounded
    )
    types = {column.name: column.type_name for column in table.columns}
    order = ", ".join(
        _quote(name) + (' COLLATE "C"' if types[name] in TEXT_TYPES else "") for name in table.key
    )
    width = len(table.columns)
    cursor = target.connection.cursor("postgres_move_rows", binary=True)
    with target.wrap_database_errors, contextlib.closing(cursor):
        cursor.execute(f"SELECT {names} FROM {_quote(table.name)} ORDER BY {order}")  # noqa: S608
        while found := cursor.fetchmany(COMPARE_BATCH_SIZE):
            if not unbounded:
                yield found
                continue
            batch = []
            for row in found:
                if any(nbytes is not None for nbytes in row[width:]):
                    row = list(row)
                    for index, nbytes in zip(unbounded, row[width:], strict=True):
                        if nbytes is not None:
                            row[index] = _Large(nbytes)
                batch.append(tuple(row[:width]))
            yield batch


def _verify(tables: list[_Table], url: str) -> tuple[tuple[TableMove, ...], int]:
    """Counts, then every row and value, then verify_root_ids and the models' indexes and
    constraints, on the target; MoveError naming the first difference."""
    moved = []
    for table in tables:
        source_rows = _count(SOURCE_ALIAS, table.name)
        target_rows = _count(TARGET_ALIAS, table.name)
        if source_rows != target_rows:
            raise MoveError(
                Exit.COPY_DIFFERS,
                f"{table.name}: {source_rows} rows in the source, {target_rows} in "
                f"{_display(url)}. The copy was rolled back; nothing was written.",
            )
        _compare_values(table)
        moved.append(TableMove(table.name, source_rows, target_rows))
    report = root_id_report(using=TARGET_ALIAS)
    if not report.ok:
        failed = "; ".join(
            f"{check.table}: {check.check} ({check.failures})"
            for check in report.checks
            if not check.ok
        )
        raise MoveError(
            Exit.COPY_DIFFERS,
            f"verify_root_ids fails on the copy: {failed}. The copy was rolled back; nothing "
            "was written.",
        )
    missing = _missing_declared_objects()
    if missing:
        raise MoveError(
            Exit.COPY_DIFFERS,
            f"The copy lacks indexes or constraints the models declare: {', '.join(missing)}. "
            "The copy was rolled back; nothing was written.",
        )
    return tuple(moved), len(report.checks)


def _compare_values(table: _Table) -> None:
    """Row by row, value by value, COMPARE_BATCH_SIZE rows of each database at a time."""
    large = []  # (row, column index) of large values, their contents compared after both reads end
    unbounded = _unbounded(table)
    with (
        contextlib.closing(_target_rows(table)) as target_batches,
        contextlib.closing(_source_rows(table, COMPARE_BATCH_SIZE)) as source_batches,
    ):
        target_rows = itertools.chain.from_iterable(target_batches)
        for batch in source_batches:
            for expected in batch:
                found = next(target_rows)
                if expected != found:
                    raise _difference(table, expected, found)
                large.extend(
                    (expected, index) for index in unbounded if type(expected[index]) is _Large
                )
    for expected, index in large:
        _compare_large(table, expected, index)


def _compare_large(table: _Table, expected: list, index: int) -> None:
    """A large value's SHA-256 in the source (streamed) against the copy's (on the server)."""
    column = table.columns[index].name
    where = " AND ".join(f"{_quote(name)} = %s" for name in table.key)
    names = [column.name for column in table.columns]
    key = [expected[names.index(name)] for name in table.key]
    with connections[TARGET_ALIAS].cursor() as cursor:
        cursor.execute(
            f"SELECT encode(sha256(convert_to({_quote(column)}, 'UTF8')), 'hex') "  # noqa: S608
            f"FROM {_quote(table.name)} WHERE {where}",
            key,
        )
        (found,) = cursor.fetchone()
    want = _large_digest(table, column, expected[index])
    if want != found:
        raise MoveError(
            Exit.COPY_DIFFERS,
            f"{table.name} row {', '.join(map(str, key))}, column {column}: the source's "
            f"{expected[index]!r} has SHA-256 {want}, the copy's {found}. The copy was rolled "
            "back; nothing was written.",
        )


def _difference(table: _Table, expected: list, found: list) -> MoveError:
    names = [column.name for column in table.columns]
    key = ", ".join(str(expected[names.index(name)]) for name in table.key)
    for name, want, got in zip(names, expected, found, strict=True):
        if want != got:
            return MoveError(
                Exit.COPY_DIFFERS,
                f"{table.name} row {key}, column {name}: the source holds {want!r}, the copy "
                f"{got!r}. The copy was rolled back; nothing was written.",
            )
    return MoveError(
        Exit.COPY_DIFFERS,
        f"{table.name}: the copy's row {found!r} stands where the source has row {key}. The "
        "copy was rolled back; nothing was written.",
    )


def _missing_declared_objects() -> list[str]:
    from django.apps import apps

    target = connections[TARGET_ALIAS]
    missing = []
    with target.cursor() as cursor:
        for model in apps.get_models():
            if model._meta.proxy or not model._meta.managed:
                continue
            present = set(target.introspection.get_constraints(cursor, model._meta.db_table))
            for declared in (*model._meta.indexes, *model._meta.constraints):
                if declared.name not in present:
                    missing.append(f"{model._meta.db_table}.{declared.name}")
    return missing


def _database_error(error: DatabaseError, url: str) -> MoveError:
    detail = " ".join(str(error).split())
    cause = getattr(error, "__cause__", None)
    if type(cause).__name__ == "InsufficientPrivilege":
        return MoveError(
            Exit.NO_PRIVILEGE,
            f"{_display(url)} refused the move: {detail}. Grant the privilege, then move again; "
            "the copy was rolled back, nothing was written.",
        )
    return MoveError(
        Exit.DATABASE_ERROR,
        f"{_display(url)} refused the move: {detail}. The copy was rolled back; nothing was "
        "written.",
    )
