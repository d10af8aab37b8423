"""What going back over the root-id backfill would discard, found before anything is undone.

Going back over goals.0004 puts back the legacy values it recorded in `legacy_repairs` and deletes
the rows it created; going back over goals.0003/practice_sessions.0002 (or goals.0006) drops the
columns they added. Both are exact only on data as the backfill left it, so at its end the backfill
records that state in `legacy_repairs` (README, "Going backwards"):

- each row it created ('*') gets a digest of its content in `new_value`;
- per table whose every app write stamps `updated_at` (TimestampMixin, the services' `update()`),
  a digest of the rows already stamped later than the migration (legacy clocks ahead: often
  none, sometimes nearly all), so a row stamped later than that since is a write made after the
  migration;
- per reference from a table without such stamps (links, programs, blocks, days, scheduled
  sessions) to a table holding created rows, a digest of the rows pointing to created rows. A
  stamped row pointing to a created row since the migration was written since: the first digest
  finds it.

Checking costs one scan per timestamped table and per such reference, plus the recorded rows.
The rows stamped later are digested from one text line per row that the database builds:
parsing a million timestamps in Python would cost more than the backfill.

What is recorded reads the same on SQLite and on PostgreSQL, so that going back still works on a
database `move_to_postgres` made from a migrated file: timestamps as the wall clock of
FRACTAL_TIME_ZONE (SQLite stores that wall clock as text), and on PostgreSQL a recorded value
compared with its column as the column's type.

"Stamped later than the migration" counts from a day before it, its own time left out (the
backfill stamps the rows it creates or fills with that time, and they are recorded otherwise):
a wall clock behind the migration's (the hour the end of summer time repeats, a
FRACTAL_TIME_ZONE moved west since) then cannot hide a write among rows stamped before the
migration, since the rows stamped in that day are in the digest too.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from goals_project.bases.exit_codes import Exit
from goals_project.maintenance.migration_operations import COLUMN_ADDED

MIGRATION = "goals.0004_backfill_root_ids"
CREATED = "*"
FINGERPRINT = "#"
LATER_ROWS = "stamped later than the migration"
REFERENCES = "rows pointing to created rows: "
STAMPS = ("created_at", "updated_at", "deleted_at")
# Tables whose every write by the app stamps updated_at (and a delete deleted_at).
STAMPED = frozenset(
    {
        "goals",
        "activity_groups",
        "activity_definitions",
        "metric_definitions",
        "split_definitions",
        "session_templates",
        "activity_instances",
        "metric_values",
    }
)
APPS = ("goals", "practice_sessions")
WOULD_DISCARD = Exit.WOULD_DISCARD
SAMPLE = 5
# Rows fetched at a time when a query can return a big table's worth of rows.
STREAM_BATCH = 2000

# The kinds of loss, worded for the refusal.
REVERTED = "changed since the migration; going back would put back the legacy value"
DELETED = "created by the migration and changed since; going back would delete it"
DANGLING = "point to rows the migration created, which going back deletes"
DROPPED = "written since the migration; going back drops columns holding what was written"
HELD_BEFORE = (
    "holding values the file had before it was adopted (its columns were added by an earlier "
    "script); going back drops those columns"
)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    references: tuple[tuple[str, str], ...]  # (column, table it points to)
    stamps: tuple[str, ...]
    kinds: tuple[str, ...] = ()  # each column's field type (get_internal_type)


@dataclass(frozen=True)
class DroppedColumn:
    """A column that going back drops: its table, the migration that adds it, and whether that
    migration names the columns it adds in legacy_repairs (`ColumnsAddedRecord`)."""

    table: str
    column: str
    migration: str
    recorded: bool


@dataclass
class Losses:
    """Rows going back would discard, by (table, kind); empty when going back is exact."""

    rows: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def add(self, table: str, kind: str, ids: Iterable[str]) -> None:
        found = self.rows.setdefault((table, kind), [])
        found.extend(row_id for row_id in ids if row_id not in found)
        if not found:
            del self.rows[(table, kind)]

    def __bool__(self) -> bool:
        return bool(self.rows)

    def migrations(self, dropped: Iterable[DroppedColumn]) -> set[str]:
        """The migrations whose undoing loses these rows: goals.0004 for what it would put back
        or delete, and those adding a dropped column of a table losing rows to a drop."""
        kinds = {kind for _, kind in self.rows}
        tables = {table for table, kind in self.rows if kind in (DROPPED, HELD_BEFORE)}
        found = {column.migration for column in dropped if column.table in tables}
        return found | ({MIGRATION} if kinds - {DROPPED, HELD_BEFORE} else set())

    def lines(self) -> list[str]:
        return [
            f"- {table}: {len(ids)} row(s) {kind} (first: {', '.join(sorted(ids)[:SAMPLE])})"
            for (table, kind), ids in sorted(self.rows.items())
        ]


def tables_of(apps) -> dict[str, Table]:
    """The goal and session tables of a migration state, legacy_repairs excepted."""
    tables = {}
    for model in apps.get_models():
        meta = model._meta
        if meta.app_label not in APPS or meta.proxy or meta.db_table == "legacy_repairs":
            continue
        concrete = [f for f in meta.concrete_fields if f.column]
        key = tuple(f.column for f in getattr(meta.pk, "fields", (meta.pk,)))
        tables[meta.db_table] = Table(
            name=meta.db_table,
            columns=tuple(f.column for f in concrete),
            key=key,
            references=tuple(
                (f.column, f.related_model._meta.db_table) for f in concrete if f.many_to_one
            ),
            stamps=tuple(f.column for f in concrete if f.column in STAMPS),
            kinds=tuple(f.get_internal_type() for f in concrete),
        )
    return tables


def fields_of(apps) -> dict[str, dict]:
    """The concrete fields of every model of a migration state, by table and column."""
    return {
        model._meta.db_table: {field.column: field for field in model._meta.concrete_fields}
        for model in apps.get_models()
        if not model._meta.proxy
    }


def _normal(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC)
        return value.isoformat()
    if isinstance(value, datetime.date | decimal.Decimal):
        return str(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


def _wall_clock(value):
    """A timestamp as the wall clock of FRACTAL_TIME_ZONE, naive, to the microsecond: what
    SQLite stores as text, and what PostgreSQL's timestamptz of the same moment reads as."""
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            return value
        value = parsed
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = timezone.localtime(value, timezone.get_default_timezone())
        return value.replace(tzinfo=None).isoformat(timespec="microseconds")
    return value


def _canonical(kinds: tuple[str, ...], values) -> list:
    """A row's values, its timestamps as _wall_clock (text on SQLite, objects on PostgreSQL)."""
    return [
        _wall_clock(value) if kind == "DateTimeField" and value is not None else value
        for kind, value in zip(kinds, values, strict=True)
    ]


# SQLite: what makes a timestamp's text 'YYYY-MM-DD HH:MM:SS.ffffff', by the text's length
# (Django's and the legacy app's shapes, with a space or a 'T', 0, 3 or 6 digits of fraction).
_PADDING = {26: "", 19: ".000000", 23: "000"}


def stamp_text_sql(connection: BaseDatabaseWrapper, sql: str) -> str:
    """SQL: the timestamp `sql` as text that reads the same on both databases: the wall clock of
    FRACTAL_TIME_ZONE to the microsecond, 'YYYY-MM-DD HH:MM:SS.ffffff', as SQLite stores it.
    SQLite's text is rewritten by string operations only (its date functions round to the
    millisecond); text of another length is kept as it is, and reads differently after a move
    (going back is then refused, never wrong)."""
    if connection.vendor == "postgresql":
        zone = _zone_literal()
        return f"to_char(({sql}) AT TIME ZONE {zone}, 'YYYY-MM-DD HH24:MI:SS.US')"
    shapes = " ".join(
        f"WHEN {length} THEN replace({sql}, 'T', ' ') || '{padding}'"
        for length, padding in _PADDING.items()
    )
    return f"CASE length({sql}) {shapes} ELSE {sql} END"


# PostgreSQL: a timestamp's text that ends with its zone ('Z', '+00', '+05:30', '-0300').
_ZONED = "({sql}) ~ '[0-9]:[0-9][0-9](\\.[0-9]+)? ?(Z|[+-][0-9][0-9](:?[0-9][0-9])?)$'"


def typed_text_sql(connection: BaseDatabaseWrapper, field, sql: str) -> str:
    """PostgreSQL: the text `sql` (a value recorded in legacy_repairs) as a value of `field`'s
    column, to put back. A timestamp recorded on SQLite (the database was moved by
    move_to_postgres) is the wall clock of FRACTAL_TIME_ZONE, with no zone; one recorded on
    PostgreSQL has its offset. Text is cast to `text`, not to the column's varchar(n), which
    would cut a longer value short without an error."""
    if field.get_internal_type() == "DateTimeField":
        return (
            f"CASE WHEN {_ZONED.format(sql=sql)} THEN CAST({sql} AS timestamptz) "
            f"ELSE CAST({sql} AS timestamp) AT TIME ZONE {_zone_literal()} END"
        )
    return f"CAST({sql} AS {_unbounded(field.db_type(connection))})"


def differs_from_recorded_sql(connection: BaseDatabaseWrapper, field, column: str, sql: str) -> str:
    """PostgreSQL: SQL true where `column` no longer holds the value recorded as the text `sql`.
    A timestamp recorded without a zone is compared as a wall clock, so that an hour the clock
    repeats cannot make an unchanged value look changed."""
    if field.get_internal_type() == "DateTimeField":
        zone = _zone_literal()
        return (
            f"(CASE WHEN {_ZONED.format(sql=sql)} "
            f"THEN {column} IS DISTINCT FROM CAST({sql} AS timestamptz) "
            f"ELSE ({column} AT TIME ZONE {zone}) IS DISTINCT FROM CAST({sql} AS timestamp) END)"
        )
    return f"{column} IS DISTINCT FROM {typed_text_sql(connection, field, sql)}"


def _unbounded(db_type: str) -> str:
    lowered = db_type.lower()
    if lowered.startswith(("varchar", "character varying", "char")):
        return "text"
    return db_type


def _zone_literal() -> str:
    return "'" + str(settings.TIME_ZONE).replace("'", "''") + "'"


# What json.dumps(..., default=str) builds on every call; built once, it writes the same text.
_ENCODE = json.JSONEncoder(default=str).encode
# Values _normal returns as they are; checked first, as nearly every value is one of them.
_PLAIN = frozenset({str, int, float, type(None)})


def _digest(rows: Iterable[tuple]) -> str:
    """`_hash_lines` over each row's JSON line."""
    return _hash_lines(
        _ENCODE([value if type(value) in _PLAIN else _normal(value) for value in row])
        for row in rows
    )


def _hash_lines(lines: Iterable[str]) -> str:
    """The line count and the sum, modulo 2**256, of each line's sha256: the same for the same
    lines in any order, so the rows need no sorting (ORDER BY id over a million rows reads the
    table in index order, a random read per row)."""
    sha256 = hashlib.sha256
    number = int.from_bytes
    count = 0
    total = 0
    for line in lines:
        total += number(sha256(line.encode()).digest())
        count += 1
    return f"{count} {total % 2**256:064x}"


# The digest of no rows.
EMPTY_DIGEST = _hash_lines(())


class _Reader:
    def __init__(self, connection: BaseDatabaseWrapper, tables: dict[str, Table]) -> None:
        self.connection = connection
        self.quote = connection.ops.quote_name
        self.tables = tables
        self._migration_time = None

    def rows(self, sql: str, params=()) -> list[tuple]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def stream(self, sql: str, params=()) -> Iterator[tuple]:
        """The rows of `sql` a batch at a time: the rows stamped later can be all of
        metric_values, which must not be held in memory at once (on PostgreSQL a server-side
        cursor; a client-side one receives the whole result at execute)."""
        with self.connection.chunked_cursor() as cursor:
            cursor.execute(sql, params)
            while batch := cursor.fetchmany(STREAM_BATCH):
                yield from batch

    def created(self) -> str:
        """SQL: the ids of the rows the migration created in a table (params: MIGRATION, table,
        CREATED)."""
        return (
            "SELECT row_id FROM legacy_repairs WHERE migration = %s AND table_name = %s "
            "AND column_name = %s"
        )

    def created_tables(self) -> set[str]:
        return {
            row[0]
            for row in self.rows(
                "SELECT DISTINCT table_name FROM legacy_repairs "
                "WHERE migration = %s AND column_name = %s",
                (MIGRATION, CREATED),
            )
        }

    def created_contents(self, table: Table) -> list[tuple]:
        """(repair id, row id, digest of the row) of each row the migration created in `table`."""
        columns = ", ".join(f"t.{self.quote(column)}" for column in table.columns)
        return [
            (repair_id, row_id, recorded, _digest([_canonical(table.kinds, values)]))
            for repair_id, row_id, recorded, *values in self.rows(
                f"SELECT r.id, t.id, r.new_value, {columns} FROM legacy_repairs r "  # noqa: S608 - names from the state
                f"JOIN {self.quote(table.name)} t ON t.id = r.row_id "
                "WHERE r.migration = %s AND r.table_name = %s AND r.column_name = %s "
                "ORDER BY t.id",
                (MIGRATION, table.name, CREATED),
            )
        ]

    def later_rows(self, table: Table, columns: str | None = None) -> Iterator[tuple]:
        """Rows with a stamp later than the migration's time, as (id, *stamps) or the SQL
        `columns`, streamed in no order: with the legacy clock ahead they can be most of a
        table."""
        return self.stream(*self._later_sql(table, columns))

    def migration_time(self):
        """The migration's time as recorded (MIGRATION_TIME), once it is: read once, not as a
        subquery of each comparison, where every stamp read legacy_repairs twice (no index
        leads to its rows: 40 reads of 170,000 rows for the tables at a million metric
        values)."""
        if self._migration_time is None:
            ((self._migration_time,),) = self.rows(MIGRATION_TIME, (MIGRATION,))
        return self._migration_time

    def _later_sql(self, table: Table, columns: str | None) -> tuple[str, tuple]:
        since = self.migration_time()
        stamps = ", ".join(self.quote(stamp) for stamp in table.stamps)
        # From a day before the migration, its own time left out (the module's docstring); on
        # SQLite, whose stamps are text, compared as the moments they name.
        if self.connection.vendor == "sqlite":
            moment = "julianday({})"
            day = "- 1"
            # As a subquery, the migration's time is turned into a number once: julianday() of
            # the subquery itself runs for every row (0.45 s against 0.26 s over a million).
            then = "(SELECT julianday(%s))"
        else:
            moment = "{}"
            day = "- INTERVAL '1 day'"
            then = "CAST(%s AS timestamptz)"
        terms = []
        for stamp in table.stamps:
            value = moment.format(self.quote(stamp))
            terms.append(f"({value} > {then} {day} AND {value} <> {then})")
        return (
            f"SELECT {columns or 'id, ' + stamps} FROM {self.quote(table.name)} "  # noqa: S608 - names from the state
            f"WHERE {' OR '.join(terms)}",
            (since,) * 2 * len(table.stamps),
        )

    def later_digest(self, table: Table) -> str:
        """The digest of `later_rows`: one line per row, `id` and the stamps (stamp_text_sql),
        each length-prefixed (NULL is 'N'), so that no two rows give one line. Each stamp's
        text is made once, in a subquery."""
        columns = [f"CAST({self.quote('id')} AS TEXT) AS c0"] + [
            f"{stamp_text_sql(self.connection, self.quote(stamp))} AS c{number}"
            for number, stamp in enumerate(table.stamps, start=1)
        ]
        line = " || ',' || ".join(
            f"COALESCE(LENGTH(c{number}) || ':' || c{number}, 'N')"
            for number in range(len(columns))
        )
        inner, params = self._later_sql(table, ", ".join(columns))
        rows = self.stream(f"SELECT {line} FROM ({inner}) later", params)  # noqa: S608
        return _hash_lines(text for (text,) in rows)

    def pointing(self, table: Table, column: str, target: str) -> Iterator[tuple]:
        """Rows of `table` whose `column` points to a row the migration created in `target`,
        streamed."""
        key = ", ".join(self.quote(part) for part in table.key)
        return self.stream(
            f"SELECT {key}, {self.quote(column)} FROM {self.quote(table.name)} "  # noqa: S608 - names from the state
            f"WHERE {self.quote(column)} IN ({self.created()}) ORDER BY {key}",
            (MIGRATION, target, CREATED),
        )


# SQL: the migration's time (param: MIGRATION), as the fingerprint rows record it.
MIGRATION_TIME = (
    "SELECT MIN(created_at) FROM legacy_repairs WHERE migration = %s AND column_name = '#'"
)


def backfill_state_record(
    *, connection: BaseDatabaseWrapper, apps, now, copied_stamps: dict[str, str] | None = None
) -> None:
    """At the end of goals.0004: record the state it left (see the module docstring).

    `copied_stamps` maps a table to the one its stamps were copied from (`later_digests`)."""
    reader = _Reader(connection, tables_of(apps))
    created_tables = reader.created_tables()
    with connection.cursor() as cursor:
        for name in sorted(created_tables):
            cursor.executemany(
                "UPDATE legacy_repairs SET new_value = %s WHERE id = %s",
                [
                    (digest, repair_id)
                    for repair_id, _, _, digest in reader.created_contents(reader.tables[name])
                ],
            )
        fingerprints = []
        for table in reader.tables.values():
            if table.name in STAMPED:
                # The time is inserted first, so that `later_rows` can read it back.
                fingerprints.append((table.name, LATER_ROWS, None))
            for column, target in table.references:
                if target in created_tables and table.name not in STAMPED:
                    digest = _digest(reader.pointing(table, column, target))
                    fingerprints.append((table.name, REFERENCES + column, digest))
        cursor.executemany(
            "INSERT INTO legacy_repairs (table_name, row_id, column_name, old_value, new_value, "
            "reason, migration, created_at) VALUES (%s, %s, %s, NULL, %s, "
            "'state at the end of the migration', %s, %s)",
            [
                (table, row_id, FINGERPRINT, value, MIGRATION, now)
                for table, row_id, value in fingerprints
            ],
        )
        for name, digest in later_digests(reader, copied_stamps or {}).items():
            cursor.execute(
                "UPDATE legacy_repairs SET new_value = %s WHERE migration = %s "
                "AND column_name = %s AND table_name = %s AND row_id = %s",
                (digest, MIGRATION, FINGERPRINT, name, LATER_ROWS),
            )


def later_digests(reader: _Reader, copied_stamps: dict[str, str]) -> dict[str, str]:
    """The digest of each STAMPED table's rows stamped later (`later_digest`).

    `copied_stamps` maps a table to another whose rows its rows point to, where every stamp of
    the first was written by the migration in its one transaction (applied_while_held), each as
    the created_at of the row it points to (its time_start where that has none) or as the
    migration's own time: the backfill's metric values, from their activity instances. Such a
    table has no row stamped later when the other has none and no row of it lacks a created_at;
    its digest is then the empty one, the very digest its scan would give, without reading it
    (0.2 s at a million metric values, where no instance is stamped later)."""
    digests: dict[str, str] = {}
    # The tables stamps are copied from come first.
    stamped = [table for table in reader.tables.values() if table.name in STAMPED]
    for table in sorted(stamped, key=lambda table: table.name in copied_stamps):
        source = copied_stamps.get(table.name)
        if (
            source is not None
            and digests.get(source) == EMPTY_DIGEST
            and not reader.rows(
                f"SELECT 1 FROM {reader.quote(source)} WHERE created_at IS NULL LIMIT 1"  # noqa: S608 - a name from the state
            )
        ):
            digests[table.name] = EMPTY_DIGEST
        else:
            digests[table.name] = reader.later_digest(table)
    return digests


def backward_losses(
    *,
    connection: BaseDatabaseWrapper,
    apps,
    undo_backfill: bool,
    dropped: Iterable[DroppedColumn],
) -> Losses:
    """What going back would discard: undoing goals.0004 (`undo_backfill`) and dropping the
    `dropped` columns. `apps` is the state at goals.0004.

    A dropped column holds, besides what the backfill wrote there, what was written since (rows
    stamped later than the backfill, below), unless it is one of two kinds any value of which
    is lost: a column of a migration that names the columns it adds, with no such record (the
    file had it when it was adopted: a script-migrated file's own values), and a column of a
    migration that does not (goals.0006's owner: added empty, written by nothing but the app,
    and not always through a stamping save)."""
    reader = _Reader(connection, tables_of(apps))
    losses = Losses()
    if "legacy_repairs" not in connection.introspection.table_names():
        return losses
    dropped, added = list(dropped), _columns_added(reader)
    _dropped_whole(reader, losses, dropped, added)
    recorded = {
        (table, row_id): value
        for table, row_id, value in reader.rows(
            "SELECT table_name, row_id, new_value FROM legacy_repairs WHERE migration = %s "
            "AND column_name = %s",
            (MIGRATION, FINGERPRINT),
        )
    }
    if not recorded:
        return losses  # goals.0004 has not run here
    written_since: dict[str, set[str]] = {}
    for table in reader.tables.values():
        if table.name in STAMPED:
            written_since[table.name] = _written_since(
                reader, table, recorded.get((table.name, LATER_ROWS))
            )
    if undo_backfill:
        _reverted_values(reader, losses, fields_of(apps))
        created_tables = reader.created_tables()
        for name in created_tables:
            losses.add(
                name,
                DELETED,
                [
                    row_id
                    for _, row_id, then, now in reader.created_contents(reader.tables[name])
                    if then != now
                ],
            )
        for table in reader.tables.values():
            for column, target in table.references:
                if target not in created_tables:
                    continue
                if table.name in STAMPED:
                    # Pointing there since the migration is a write since it.
                    written = written_since[table.name]
                    if written:
                        losses.add(
                            table.name,
                            DANGLING,
                            [
                                row[0]
                                for row in reader.pointing(table, column, target)
                                if row[0] in written
                            ],
                        )
                    continue
                digest = _digest(reader.pointing(table, column, target))
                if digest == recorded.get((table.name, REFERENCES + column)):
                    continue
                ids = [
                    " → ".join(str(part) for part in row[:-1])
                    for row in reader.pointing(table, column, target)
                ]
                since = [row_id for row_id in ids if row_id in written_since.get(table.name, ())]
                losses.add(table.name, DANGLING, since or ids)
    by_table: dict[str, list[str]] = {}
    for column in dropped:
        if column.recorded and (column.table, column.column, column.migration) in added:
            by_table.setdefault(column.table, []).append(column.column)
    for name, columns in by_table.items():
        holding = _holding(reader, name, columns)
        if name in written_since:
            holding &= written_since[name]
        losses.add(name, DROPPED, holding)
    return losses


def _dropped_whole(
    reader: _Reader,
    losses: Losses,
    dropped: list[DroppedColumn],
    added: set[tuple[str, str, str]],
) -> None:
    """The dropped columns any value of which is lost (backward_losses says which)."""
    by_kind: dict[tuple[str, str], list[str]] = {}
    for column in dropped:
        if not column.recorded:
            kind = DROPPED
        elif (column.table, column.column, column.migration) not in added:
            kind = HELD_BEFORE
        else:
            continue
        by_kind.setdefault((column.table, kind), []).append(column.column)
    for (name, kind), columns in sorted(by_kind.items()):
        losses.add(name, kind, _holding(reader, name, columns))


def _columns_added(reader: _Reader) -> set[tuple[str, str, str]]:
    """(table, column, migration) of each column a migration recorded adding."""
    return {
        tuple(row)
        for row in reader.rows(
            "SELECT table_name, column_name, migration FROM legacy_repairs WHERE reason = %s "
            "AND row_id = ''",
            (COLUMN_ADDED,),
        )
    }


def _holding(reader: _Reader, name: str, columns: list[str]) -> set[str]:
    """The keys of the rows of table `name` holding a value in any of `columns`."""
    table = reader.tables.get(name)
    if table is None:
        return set()
    held = " OR ".join(f"{reader.quote(column)} IS NOT NULL" for column in columns)
    return {
        row[0]
        for row in reader.rows(
            f"SELECT {reader.quote(table.key[0])} FROM {reader.quote(name)} WHERE {held}"  # noqa: S608 - names from the state
        )
    }


def _written_since(reader: _Reader, table: Table, recorded: str | None) -> set[str]:
    """The rows of `table` stamped later than the migration that were written since it ran.

    The backfill records a digest of the rows already stamped later than itself (legacy clocks
    ahead: usually none). The same digest now means none of them was written since; otherwise
    every row stamped later is taken as written since, which is exact when none was recorded.
    """
    if recorded and recorded.startswith("{"):
        # Recorded as {id: stamps} by an earlier version of the backfill.
        before = json.loads(recorded)
        return {
            row_id
            for row_id, *stamps in reader.later_rows(table)
            if before.get(row_id) != [_normal(value) for value in stamps]
        }
    if reader.later_digest(table) == recorded:
        return set()
    return {row[0] for row in reader.later_rows(table)}


def _reverted_values(reader: _Reader, losses: Losses, fields: dict[str, dict]) -> None:
    """Recorded values that differ now from the value the migration wrote; `fields` are the
    state's fields by table and column."""
    connection = reader.connection
    for table, column in reader.rows(
        "SELECT DISTINCT table_name, column_name FROM legacy_repairs WHERE migration = %s "
        "AND column_name NOT IN (%s, %s)",
        (MIGRATION, CREATED, FINGERPRINT),
    ):
        if connection.vendor == "postgresql":  # as the column's type: recorded text may be SQLite's
            differs = differs_from_recorded_sql(
                connection, fields[table][column], f"t.{reader.quote(column)}", "r.new_value"
            )
        else:
            differs = f"CAST(t.{reader.quote(column)} AS TEXT) IS NOT r.new_value"
        losses.add(
            table,
            REVERTED,
            [
                row[0]
                for row in reader.rows(
                    f"SELECT t.id FROM legacy_repairs r JOIN {reader.quote(table)} t "  # noqa: S608 - recorded names
                    "ON t.id = r.row_id WHERE r.migration = %s AND r.table_name = %s "
                    f"AND r.column_name = %s AND {differs}",
                    (MIGRATION, table, column),
                )
            ],
        )


def refusal_message(losses: Losses, *, backup: str, over: Iterable[str] = (MIGRATION,)) -> str:
    """The refusal: the migrations whose undoing would lose data, what would be lost, by
    table, and the ways on."""
    return (
        f"Going back over {', '.join(over)} would discard data:\n"
        + "\n".join(losses.lines())
        + f"\nNothing was changed. {backup} Going back is exact only on data as the migrations "
        "left it: keep the database where it is, or restore a backup taken before migrating "
        "(list_backups, restore_db), which loses everything written since."
    )
