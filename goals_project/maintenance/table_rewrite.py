"""Setting columns of every row of a big table by writing the table anew.

PostgreSQL (`postgres_rewrite`): an UPDATE of every row writes a new version of each and inserts
each into the primary key's index again, in the table's order: random text ids make that a random
write a row. At a million metric values the backfill's UPDATE took 16.5 s; writing the rows into a
new table without its indexes, then building them by a sort, takes 2.1 s (docs/benchmarks.md).

The new table is `CREATE TABLE … (LIKE … INCLUDING ALL EXCLUDING INDEXES)`: the same columns,
types, NOT NULL and CHECK constraints, comments and storage settings; the primary key and the
other indexes are made again afterwards, under their own names and definitions. What this
would not carry over (grants, row security, foreign keys either way, other constraints,
triggers, views, sequences, identity or generated columns, inheritance, publications, another
owner) makes `postgres_rewrite` decline, and the caller runs its UPDATE instead.

SQLite (`sqlite_rewrite`): an UPDATE that gives every row new columns makes each row longer where
it lies, so nearly every page of the table overflows and is split again and again, and every
page is copied into the rollback journal first. The rows are written instead into a table of
their own, in rowid order, so each page is written once, at the end of the file and outside the
journal; then that table's pages are put in the table's place (its `rootpage` in sqlite_schema,
swapped with the new table's, which is dropped with the old pages). The table keeps its name,
definition and indexes: each index entry holds a row's rowid and the columns it indexes, and both
are kept. Where that would not hold (an index on a column set, a partial or expression index,
triggers, a rowid that is a column, generated columns, a STRICT or WITHOUT ROWID table, an auto-
vacuumed file, a SQLite that refuses to write its schema) `sqlite_rewrite` declines and the caller
runs its UPDATE. At a million metric values the UPDATE of their roots and stamps took 2.7 to 3.0 s,
the rewrite 1.7 to 2.0 s; the activity instances' roots and fills 0.86 to 0.90 s, and 0.61 to
0.73 s written anew (docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import DatabaseError

from goals_project.bases.foreign_keys import column_affinity
from goals_project.maintenance.migration_operations import sqlite_schema_written

# Each is a query over the table's oid (%s) that finds something a rewrite would lose.
_WOULD_LOSE = {
    "grants or row security": (
        "SELECT 1 FROM pg_class WHERE oid = %s AND (relacl IS NOT NULL OR relrowsecurity "
        "OR relkind <> 'r' OR relpersistence <> 'p' OR relowner <> "
        "(SELECT oid FROM pg_roles WHERE rolname = current_user))"
    ),
    "foreign keys": (
        "SELECT 1 FROM pg_constraint WHERE contype = 'f' AND %s IN (conrelid, confrelid)"
    ),
    "other constraints": (
        "SELECT 1 FROM pg_constraint WHERE conrelid = %s AND contype NOT IN ('p', 'c', 'n')"
    ),
    "triggers": "SELECT 1 FROM pg_trigger WHERE tgrelid = %s AND NOT tgisinternal",
    "views or rules": (
        "SELECT 1 FROM pg_depend WHERE refobjid = %s AND classid = 'pg_rewrite'::regclass"
    ),
    "sequences, identity or generated columns": (
        "SELECT 1 FROM pg_attribute WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped "
        "AND (attidentity <> '' OR attgenerated <> '') "
        "UNION ALL SELECT 1 FROM pg_attrdef WHERE adrelid = %s "
        "AND pg_get_expr(adbin, adrelid) LIKE '%%nextval(%%' "
        "UNION ALL SELECT 1 FROM pg_depend d JOIN pg_class s ON s.oid = d.objid "
        "WHERE d.refobjid = %s AND d.classid = 'pg_class'::regclass AND s.relkind = 'S'"
    ),
    "inheritance": "SELECT 1 FROM pg_inherits WHERE %s IN (inhrelid, inhparent)",
    "publications": (
        "SELECT 1 FROM pg_publication_rel WHERE prrelid = %s "
        "UNION ALL SELECT 1 FROM pg_publication WHERE puballtables"
    ),
}


def postgres_rewrite(
    connection, table: str, computed: dict[str, tuple[str, tuple]], join: str
) -> int | None:
    """Write `table` anew, each row once, with the columns of `computed` set to their SQL
    expressions (over alias t and what `join` joins to it; each with its parameters) and every
    other column as it was; return the number of rows. None, having changed nothing, where this
    is not PostgreSQL or a rewrite would lose something (the module's docstring).

    Inside the caller's transaction. The table is locked against writers first: a row another
    process added after the copy began would otherwise go with the old table.
    """
    if connection.vendor != "postgresql":
        return None
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::regclass::oid", [quote(table)])
        oid = cursor.fetchone()[0]
        for query in _WOULD_LOSE.values():
            cursor.execute(query.replace("%s", "%(oid)s"), {"oid": oid})
            if cursor.fetchone() is not None:
                return None
        cursor.execute(f"LOCK TABLE {quote(table)} IN EXCLUSIVE MODE")
        cursor.execute(
            "SELECT c.conname, array_agg(a.attname ORDER BY k.ord) FROM pg_constraint c "
            "CROSS JOIN unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
            "WHERE c.conrelid = %s AND c.contype = 'p' GROUP BY c.conname",
            [oid],
        )
        key = cursor.fetchone()
        cursor.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum",
            [oid],
        )
        columns = [name for (name,) in cursor.fetchall()]
        cursor.execute(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s "
            "AND NOT indisprimary ORDER BY indexrelid",
            [oid],
        )
        indexes = [definition for (definition,) in cursor.fetchall()]
        if key is None or not set(computed) <= set(columns):
            return None
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608 - a model's table
        expected = cursor.fetchone()[0]
        new = f"{table}__rewritten"
        select, params = _selected(quote, columns, computed)
        cursor.execute(
            f"CREATE TABLE {quote(new)} (LIKE {quote(table)} INCLUDING ALL EXCLUDING INDEXES)"
        )
        # Names from the catalog, quoted; expressions from the caller; values as parameters.
        insert = f"INSERT INTO {quote(new)} ({', '.join(quote(column) for column in columns)}) "
        cursor.execute(
            insert + f"SELECT {select} FROM {quote(table)} AS t {join}",  # noqa: S608
            params,
        )
        _check_written(table, cursor.rowcount, expected)
        name, key_columns = key
        cursor.execute(f"DROP TABLE {quote(table)}")
        cursor.execute(f"ALTER TABLE {quote(new)} RENAME TO {quote(table)}")
        cursor.execute(
            f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} "
            f"PRIMARY KEY ({', '.join(quote(column) for column in key_columns)})"
        )
        for definition in indexes:  # "CREATE INDEX name ON schema.table …", as it was
            cursor.execute(definition)
    return expected


def sqlite_rewrite(
    connection, table: str, computed: dict[str, tuple[str, tuple]], join: str
) -> int | None:
    """postgres_rewrite's SQLite twin (the module's docstring): the same arguments, the same
    outcome, each row written once with the same rowid. Every column is written with the
    affinity of the table's own, as an UPDATE writes it. None, having changed nothing, where
    this is not SQLite or the table's indexes would not hold for the rows written.

    Inside the caller's transaction (which holds the write lock on SQLite)."""
    if connection.vendor != "sqlite" or connection.Database.sqlite_version_info < (3, 37):
        return None
    quote = connection.ops.quote_name
    new = f"{table}__rewritten"
    with connection.cursor() as cursor:

        def rows(sql: str, params=()) -> list[tuple]:
            return cursor.execute(sql, params).fetchall()

        described = rows(f"PRAGMA main.table_xinfo({quote(table)})")
        columns = [name for _cid, name, *_rest in described]
        if _sqlite_declines(rows, quote, table, new, described, set(computed)):
            return None
        ((expected,),) = rows(f"SELECT COUNT(*) FROM main.{quote(table)}")  # noqa: S608 - a model's table
        # Each column as its affinity names it (the rows are checked against the definition's
        # constraints by whoever declares them): no default, no constraint, no collation.
        cursor.execute(
            f"CREATE TABLE main.{quote(new)} ("
            + ", ".join(
                f"{quote(name)} {_AFFINITY_TYPES[column_affinity(declared or '')]}"
                for _cid, name, declared, *_rest in described
            )
            + ")"
        )
        select, params = _selected(quote, columns, computed)
        # Names from the catalog, quoted; expressions from the caller; values as parameters.
        cursor.execute(
            f"INSERT INTO main.{quote(new)} (rowid, {', '.join(quote(c) for c in columns)}) "  # noqa: S608
            f"SELECT t.rowid, {select} FROM main.{quote(table)} AS t {join} ORDER BY t.rowid",
            params,
        )
        _check_written(table, cursor.rowcount, expected)
        pages = dict(
            rows(
                "SELECT name, rootpage FROM main.sqlite_schema "
                "WHERE type = 'table' AND name IN (%s, %s)",
                (table, new),
            )
        )
        swapped = sqlite_schema_written(
            cursor,
            "UPDATE main.sqlite_schema SET rootpage = CASE name WHEN %s THEN %s ELSE %s END "
            "WHERE type = 'table' AND name IN (%s, %s)",
            (table, pages[new], pages[table], table, new),
            reread=True,  # the next statements read the swapped pages
        )
        if swapped != 2:
            raise DatabaseError(f"Could not put the rows written anew in {table}'s place.")
        if connection.alias in _DROPPED_AT_END:
            _DROPPED_AT_END[connection.alias].append(new)
        else:
            cursor.execute(f"DROP TABLE main.{quote(new)}")
    return expected


def _selected(quote, columns: list[str], computed: dict[str, tuple[str, tuple]]):
    """The SELECT list writing each of `columns` anew (over alias t: a column of `computed` as
    its expression, any other as it is), and its parameters."""
    select, params = [], []
    for column in columns:
        expression, values = computed.get(column, (f"t.{quote(column)}", ()))
        select.append(expression)
        params.extend(values)
    return ", ".join(select), params


def _check_written(table: str, written: int, expected: int) -> None:
    if written != expected:
        raise DatabaseError(
            f"Writing {table} anew gave {written} rows instead of {expected}; nothing was changed."
        )


# The tables holding old pages that sqlite_rewrite leaves, by alias, inside sqlite_drops_at_end.
_DROPPED_AT_END: dict[str, list[str]] = {}


@contextlib.contextmanager
def sqlite_drops_at_end(connection) -> Iterator[None]:
    """While inside, a table's old pages that sqlite_rewrite put aside stay in their table
    until the block ends, and are dropped then if it ends without an error (the caller then
    commits the transaction both are in).

    Freed at once, they are the first pages SQLite writes again (the index builds that follow);
    each is copied into the rollback journal first, since the transaction may yet need it back
    (at a million metric values that cost 1.3 s). Freed at the end, none is written again before
    the commit: the file keeps them as free pages, which SQLite fills before it grows the file
    (about the size of each table written anew: at a million metric values 140 MB for the values
    and 52 MB for the activity instances)."""
    _DROPPED_AT_END[connection.alias] = []
    try:
        yield
        with connection.cursor() as cursor:
            # Gone where a savepoint holding its rewrite was rolled back since.
            for name in dict.fromkeys(_DROPPED_AT_END[connection.alias]):
                cursor.execute(f"DROP TABLE IF EXISTS main.{connection.ops.quote_name(name)}")
    finally:
        _DROPPED_AT_END.pop(connection.alias, None)


# The type that gives a column each affinity (https://www.sqlite.org/datatype3.html, 3.1).
_AFFINITY_TYPES = {
    "INTEGER": "INTEGER",
    "TEXT": "TEXT",
    "BLOB": "",
    "REAL": "REAL",
    "NUMERIC": "NUMERIC",
}


def _sqlite_declines(
    rows, quote, table: str, new: str, described: list[tuple], computed: set
) -> bool:
    """Whether `table` is one whose pages sqlite_rewrite cannot put new rows under."""
    (kind,) = [row for row in rows("PRAGMA main.table_list") if row[1] == table]
    _schema, _name, table_type, _ncol, without_rowid, strict = kind
    names = {name.lower() for _cid, name, *_rest in described}
    key = [declared for _cid, _name, declared, _nn, _default, pk, *_ in described if pk]
    ((definition,),) = rows("SELECT sql FROM main.sqlite_schema WHERE name = %s", [table])
    keys = rows(f"PRAGMA main.foreign_key_list({quote(table)})")
    if (
        table_type != "table"
        or without_rowid
        or strict
        or any(hidden for *_rest, hidden in described)
        or names & {"rowid", "oid", "_rowid_"}
        or not computed <= {name for _cid, name, *_rest in described}
        or (len(key) == 1 and (key[0] or "").upper() == "INTEGER")  # the rowid by another name
        # What the UPDATE would hold the new values to: NOT NULL, a CHECK, a foreign key.
        or any(notnull for _cid, name, _type, notnull, *_rest in described if name in computed)
        or "CHECK" in definition.upper()
        or any(row[3] in computed for row in keys)
        or rows("PRAGMA main.auto_vacuum")[0][0]
        # Triggers the UPDATE would fire, and names in the temporary schema, which SQLite
        # looks in first.
        or rows(
            "SELECT 1 FROM main.sqlite_schema WHERE type = 'trigger' AND tbl_name = %s "
            "UNION ALL SELECT 1 FROM temp.sqlite_schema WHERE tbl_name = %s OR name IN (%s, %s) "
            "UNION ALL SELECT 1 FROM main.sqlite_schema WHERE name = %s",
            [table, table, table, new, new],
        )
    ):
        return True
    for _seq, index, _unique, _origin, partial in rows(f"PRAGMA main.index_list({quote(table)})"):
        indexed = rows(f"PRAGMA main.index_info({quote(index)})")
        if partial or any(cid == -2 or name in computed for _no, cid, name in indexed):
            return True
    rows("PRAGMA writable_schema = ON")
    try:
        ((writable,),) = rows("PRAGMA writable_schema")  # SQLITE_DBCONFIG_DEFENSIVE refuses
    finally:
        rows("PRAGMA writable_schema = OFF")
    return not writable
