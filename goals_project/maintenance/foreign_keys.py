"""SQLite's foreign key check, done with fewer lookups where a key is part of a wider one.

Pure SQLite: it needs only a DB-API cursor (Django's or sqlite3's), so `bench.floors` times the
check `migrate` makes.
"""

from __future__ import annotations

import re


def violation_probe(cursor, table: str) -> str | None:
    """SQL returning a row if some row of `table` breaks one of its foreign keys, or None where
    it could say otherwise than PRAGMA foreign_key_check (or `table` has no keys).

    The pragma looks up every key of every row. A key whose columns are part of a wider key of
    the same table to the same parent (metric_values' activity_instance_id, in its
    (activity_instance_id, root_id)) holds wherever the wider key holds with all its columns
    set; the query looks it up only in rows where one of those is NULL. At a million metric
    values that is 1.0 s against the pragma's 1.45 s. Otherwise it is the pragma's rule: a key
    holds when one of its columns is NULL or a row of the parent has its values.

    `=` compares as the pragma does only where each column has the affinity of the parent
    column it points to, and the parent's columns are its INTEGER PRIMARY KEY or make up a
    unique index of binary collation, in a parent declaring no collation; anything else (a
    missing parent, a key the pragma calls a mismatch) is left to the pragma.

    `cursor` is a DB-API cursor of the SQLite database, Django's or sqlite3's (bench.floors
    times the same check)."""
    cursor.execute(f"PRAGMA foreign_key_list({_identifier(table)})")
    keys: dict[int, tuple[str, list[tuple[str, str | None]]]] = {}
    for key_id, _seq, parent, column, to, *_rest in cursor.fetchall():
        keys.setdefault(key_id, (parent, []))[1].append((column, to))
    if not keys:
        return None
    types = _affinities(cursor, table)
    resolved: dict[int, tuple[str, frozenset[tuple[str, str]]]] = {}
    for key_id, (parent, pairs) in keys.items():
        parent_types = _affinities(cursor, parent)
        if any(to is None for _column, to in pairs):  # the parent's primary key
            primary = _primary_key(cursor, parent)
            if len(primary) != len(pairs) or any(to is not None for _column, to in pairs):
                return None
            pairs = [(column, to) for (column, _none), to in zip(pairs, primary, strict=True)]
        if len({to for _column, to in pairs}) != len(pairs):  # a parent column twice: mismatch
            return None
        if not parent_types or not _unique_key(cursor, parent, {to for _c, to in pairs}):
            return None
        if any(types.get(column, "?") != parent_types.get(to, "!") for column, to in pairs):
            return None
        resolved[key_id] = (parent, frozenset(pairs))
    broken = []
    for key_id, (parent, pairs) in sorted(resolved.items()):
        ordered = sorted(pairs)
        looked_up = [f"c.{_identifier(column)} IS NOT NULL" for column, _to in ordered]
        for other_id, (other_parent, wider) in resolved.items():
            if other_id != key_id and other_parent == parent and pairs < wider:
                unset = " OR ".join(
                    f"c.{_identifier(c)} IS NULL" for c, _to in sorted(wider - pairs)
                )
                looked_up.append(f"({unset})")
        found = " AND ".join(
            f"p.{_identifier(to)} = c.{_identifier(column)}" for column, to in ordered
        )
        lookup = f"SELECT 1 FROM {_identifier(parent)} p WHERE {found}"  # noqa: S608 - schema names
        broken.append(f"({' AND '.join(looked_up)} AND NOT EXISTS ({lookup}))")
    return f"SELECT 1 FROM {_identifier(table)} c WHERE {' OR '.join(broken)} LIMIT 1"  # noqa: S608


def _affinities(cursor, table: str) -> dict[str, str]:
    """`table`'s columns and their affinity; empty (the probe leaves those to the pragma) for a
    table that does not exist, one that names a collation or STRICT anywhere (a STRICT table's
    ANY column has no affinity), or one whose text is not all ASCII (SQLite reads type names in
    ASCII only)."""
    literal = "'" + table.replace("'", "''") + "'"
    cursor.execute(
        "SELECT sql FROM sqlite_master "  # noqa: S608 - a quoted literal
        f"WHERE type = 'table' AND name = {literal} COLLATE NOCASE"
    )
    row = cursor.fetchone()
    definition = (row[0] or "") if row is not None else ""
    if not definition or not definition.isascii() or re.search(r"COLLATE|STRICT", definition, re.I):
        return {}
    cursor.execute(f"PRAGMA table_info({_identifier(table)})")
    described = cursor.fetchall()
    return {name: column_affinity(declared or "") for _cid, name, declared, *_r in described}


def _primary_key(cursor, table: str) -> list[str]:
    cursor.execute(f"PRAGMA table_info({_identifier(table)})")
    ranked = sorted((pk, name) for _cid, name, _type, _nn, _default, pk in cursor.fetchall() if pk)
    return [name for _pk, name in ranked]


def _unique_key(cursor, table: str, columns: set[str]) -> bool:
    """Whether `columns` are `table`'s INTEGER PRIMARY KEY, or the key columns of a unique,
    whole-table index of binary collation (what the pragma needs of a parent key, and more)."""
    cursor.execute(f"PRAGMA index_list({_identifier(table)})")
    for _seq, name, unique, _origin, partial in cursor.fetchall():
        if not unique or partial:
            continue
        cursor.execute(f"PRAGMA index_xinfo({_identifier(name)})")
        described = [row for row in cursor.fetchall() if row[5]]  # key columns
        if (
            {row[2] for row in described} == columns
            and len(described) == len(columns)
            and all((row[4] or "").upper() == "BINARY" for row in described)
        ):
            return True
    cursor.execute(f"PRAGMA table_info({_identifier(table)})")
    integer_key = [
        (name, declared) for _cid, name, declared, _nn, _d, pk in cursor.fetchall() if pk
    ]
    return (
        len(integer_key) == 1
        and integer_key[0][1].upper() == "INTEGER"
        and {integer_key[0][0]} == columns
    )


def _identifier(name: str) -> str:
    """`name` as an SQLite identifier (what Django's quote_name gives for any name)."""
    return '"' + name.replace('"', '""') + '"'


def column_affinity(declared: str) -> str:
    """The type affinity of a column declared `declared` (https://www.sqlite.org/datatype3.html,
    section 3.1), in a table that is not STRICT. SQLite compares type names in ASCII only (a dotless
    i is not an i)."""
    declared = declared.translate(_ASCII_UPPER)
    if "INT" in declared:
        return "INTEGER"
    if any(word in declared for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in declared or not declared:
        return "BLOB"
    if any(word in declared for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
