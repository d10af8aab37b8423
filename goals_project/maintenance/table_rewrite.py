"""Setting columns of every row of a big PostgreSQL table by writing the table anew.

An UPDATE of every row writes a new version of each and inserts each into the primary key's
index again, in the table's order: random text ids make that a random write a row. At a
million metric values the backfill's UPDATE took 16.5 s; writing the rows into a new table
without its indexes, then building them by a sort, takes 2.1 s (docs/benchmarks.md).

The new table is `CREATE TABLE … (LIKE … INCLUDING ALL EXCLUDING INDEXES)`: the same columns,
types, NOT NULL and CHECK constraints, comments and storage settings; the primary key and the
other indexes are made again afterwards, under their own names and definitions. What this
would not carry over (grants, row security, foreign keys either way, other constraints,
triggers, views, sequences, identity or generated columns, inheritance, publications, another
owner) makes `postgres_rewrite` decline, and the caller runs its UPDATE instead.
"""

from __future__ import annotations

from django.db import DatabaseError

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
        select, params = [], []
        for column in columns:
            expression, values = computed.get(column, (f"t.{quote(column)}", ()))
            select.append(expression)
            params.extend(values)
        cursor.execute(
            f"CREATE TABLE {quote(new)} (LIKE {quote(table)} INCLUDING ALL EXCLUDING INDEXES)"
        )
        # Names from the catalog, quoted; expressions from the caller; values as parameters.
        insert = f"INSERT INTO {quote(new)} ({', '.join(quote(column) for column in columns)}) "
        cursor.execute(
            insert + f"SELECT {', '.join(select)} FROM {quote(table)} AS t {join}",  # noqa: S608
            params,
        )
        if cursor.rowcount != expected:
            raise DatabaseError(
                f"Writing {table} anew gave {cursor.rowcount} rows instead of {expected}; "
                "nothing was changed."
            )
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
