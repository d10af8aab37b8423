"""SQLite's foreign key check, done with fewer lookups where a key is vouched for by another.

`violation_probes` is pure SQLite: it needs only a DB-API cursor (Django's or sqlite3's), so
`bench.floors` times the check `migrate` makes. `foreign_keys_check` runs it on a Django
connection and names the first broken key, as the migrations and the purge report it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import IntegrityError

# The keys joined into one probe at the most; the others are subqueries (SQLite joins 64 tables).
MOST_JOINED = 32

# A table's keys the probe can read: key id -> (parent table, {(column, parent column)}).
Keys = dict[int, tuple[str, frozenset[tuple[str, str]]]]


def violation_probe(cursor, table: str) -> str | None:
    """SQL returning a row if some row of `table` breaks one of its foreign keys, or None where
    it could say otherwise than PRAGMA foreign_key_check (or `table` has no keys): the probe
    of `violation_probes` for `table` checked alone."""
    return violation_probes(cursor, [table])[table]


def violation_probes(cursor, tables: Iterable[str]) -> dict[str, str | None]:
    """For each of `tables`, SQL returning a row if some row of it breaks one of its foreign
    keys, or None where it could say otherwise than PRAGMA foreign_key_check (or the table has
    no keys). Together they find a broken key exactly when the pragma does in one of `tables`:
    a probe trusts a key of another of them only because that table's own probe checks it.

    The pragma looks up every key of every row. A key can be vouched for by a wider key of the
    same row, where all of the wider key's columns are set:

    - one to the same parent, containing the key (metric_values' activity_instance_id, in its
      (activity_instance_id, root_id)): a parent row with the wider key's values has the key's;
    - one to another of `tables` whose rows have the key themselves (metric_values' root_id, in
      (activity_instance_id, root_id) to activity_instances, whose root_id points to the same
      goal): the parent row's values equal the row's, and that row's key is checked in turn.

    Such a key is looked up only in rows where a column of each wider key is NULL (by a
    subquery); a key looked up in every row is joined (LEFT JOIN; 10% faster at a million metric
    values than a subquery for each row). A key is vouched for only by keys that do not, through
    others, rest on it: every chain of trust ends in a lookup. At a million metric values that
    is 1.0 s against the pragma's 1.45 s for the first kind, and about 0.5 s less for the
    second. Otherwise it is the pragma's rule: a key holds when one of its columns is NULL or a
    row of the parent has its values.

    `=` compares as the pragma does (and is transitive) only where each column has the affinity
    of the parent column it points to, and the parent's columns are its INTEGER PRIMARY KEY or
    make up a unique index of binary collation, in a parent declaring no collation; anything
    else (a missing parent, a key the pragma calls a mismatch) is left to the pragma.

    `cursor` is a DB-API cursor of the SQLite database, Django's or sqlite3's (bench.floors
    times the same check)."""
    tables = list(dict.fromkeys(tables))
    resolved = {table: _resolved_keys(cursor, table) for table in tables}
    vouched = _vouched_for(resolved)
    probes: dict[str, str | None] = {}
    for table, keys in resolved.items():
        if not keys:
            probes[table] = None
            continue
        joins, broken = [], []
        for key_id, (parent, pairs) in sorted(keys.items()):
            ordered = sorted(pairs)
            columns = {column for column, _to in pairs}
            looked_up = [f"c.{_identifier(column)} IS NOT NULL" for column, _to in ordered]
            wider_columns = [sorted(wider - columns) for wider in vouched.get((table, key_id), ())]
            if [] in wider_columns:  # a wider key set wherever this one is: never looked up
                continue
            # Looked up in every row: joined (a lookup without a subquery), as far as SQLite's
            # 64 tables in a join allow.
            joined = not wider_columns and len(joins) < MOST_JOINED
            alias = f"p{len(joins)}" if joined else "p"
            found = " AND ".join(
                f"{alias}.{_identifier(to)} = c.{_identifier(column)}" for column, to in ordered
            )
            if joined:
                joins.append(f" LEFT JOIN {_identifier(parent)} {alias} ON {found}")
                # A row of the parent matched has the key's (not NULL) values.
                missing = f"{alias}.{_identifier(ordered[0][1])} IS NULL"
                broken.append(f"({' AND '.join(looked_up)} AND {missing})")
                continue
            for unset in wider_columns:
                looked_up.append(f"({' OR '.join(f'c.{_identifier(c)} IS NULL' for c in unset)})")
            lookup = f"SELECT 1 FROM {_identifier(parent)} p WHERE {found}"  # noqa: S608 - schema names
            broken.append(f"({' AND '.join(looked_up)} AND NOT EXISTS ({lookup}))")
        probes[table] = (
            f"SELECT 1 FROM {_identifier(table)} c{''.join(joins)} "  # noqa: S608 - schema names
            f"WHERE {' OR '.join(broken)} LIMIT 1"
            if broken
            else "SELECT 1 WHERE 0"
        )
    return probes


def foreign_keys_check(connection, table_names: list[str] | None) -> None:
    """SQLite: raise an IntegrityError naming the first row whose foreign key points nowhere,
    with every column of the key (PRAGMA foreign_key_check), in `table_names` or everywhere.

    A table whose keys `violation_probes` can read is first searched by its query (which may
    trust a key another of the tables' queries checks); the pragma runs on it only to name a row
    the query found."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if table_names is None:
            table_names = connection.introspection.table_names(cursor)
        probes = violation_probes(cursor, table_names)
        violation = None
        for table in table_names:
            probe = probes[table]
            if probe is not None:
                cursor.execute(probe)
                if cursor.fetchone() is None:
                    continue
            cursor.execute(f"PRAGMA foreign_key_check({quote(table)})")
            if (violation := cursor.fetchone()) is not None:
                break
        if violation is None:
            return
        table, rowid, parent, key_id = violation
        cursor.execute(f"PRAGMA foreign_key_list({quote(table)})")
        pairs = [(row[3], row[4]) for row in cursor.fetchall() if row[0] == key_id]
        to_columns = ", ".join(t or "its primary key" for _, t in pairs)
        key = f"{table}.({', '.join(c for c, _ in pairs)})"
        if rowid is None:  # a WITHOUT ROWID table: the pragma names no row
            raise IntegrityError(
                f"A row in table '{table}' has an invalid foreign key: {key} contains values "
                f"which no row of {parent} has in ({to_columns}). "
                f'PRAGMA foreign_key_check("{table}") lists it.'
            )
        primary = connection.introspection.get_primary_key_column(cursor, table)
        columns = ", ".join(quote(column) for column in (primary, *(c for c, _ in pairs)))
        cursor.execute(
            f"SELECT {columns} FROM {quote(table)} WHERE rowid = %s",  # noqa: S608 - names from the schema
            [rowid],
        )
        row_id, *values = cursor.fetchone()
    raise IntegrityError(
        f"The row in table '{table}' with primary key '{row_id}' has an invalid foreign "
        f"key: {key} contains {tuple(values)!r}, which no row of {parent} has in ({to_columns})."
    )


def _resolved_keys(cursor, table: str) -> Keys | None:
    """`table`'s foreign keys, each with its parent's columns named, or None if the probe
    cannot read one of them as the pragma does (or there are none)."""
    cursor.execute(f"PRAGMA foreign_key_list({_identifier(table)})")
    keys: dict[int, tuple[str, list[tuple[str, str | None]]]] = {}
    for key_id, _seq, parent, column, to, *_rest in cursor.fetchall():
        keys.setdefault(key_id, (parent, []))[1].append((column, to))
    if not keys:
        return None
    types = _affinities(cursor, table)
    resolved: Keys = {}
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
    return resolved


def _vouched_for(resolved: dict[str, Keys | None]) -> dict[tuple[str, int], list[frozenset[str]]]:
    """The keys of `resolved`'s tables that other keys vouch for: (table, key id) -> the
    columns of each key vouching for it, in rows where all of them are set.

    A key of table T to parent P is vouched for by a key of T containing it, to P; or by a key
    of T to another table Q, with distinct columns, that maps the key's columns to columns of Q
    forming a key of Q to P (what Q's probe checks). Each such trust is taken in turn, keys to
    the same parent first, unless what it rests on already rests on the key it vouches for:
    the trusts form no cycle, so every chain ends in a key that is looked up."""
    named = {table.lower(): table for table, keys in resolved.items() if keys}
    offers = []  # (same parent first, the key vouched for, the keys it rests on, their columns)
    for table, keys in resolved.items():
        for key_id, (parent, pairs) in sorted((keys or {}).items()):
            columns = {column for column, _to in pairs}
            for other_id, (other_parent, wider) in sorted(keys.items()):
                wider_columns = frozenset(column for column, _to in wider)
                if other_id == key_id:
                    continue
                if other_parent.lower() == parent.lower() and pairs < wider:
                    offers.append((0, (table, key_id), [(table, other_id)], wider_columns))
                    continue
                through = named.get(other_parent.lower())
                mapped = dict(wider)
                if through in (None, table) or len(mapped) != len(wider):
                    continue
                if not columns <= mapped.keys():
                    continue
                implied = frozenset((mapped[column], to) for column, to in pairs)
                for third_id, (third_parent, third) in sorted(resolved[through].items()):
                    if third_parent.lower() == parent.lower() and third == implied:
                        rests_on = [(table, other_id), (through, third_id)]
                        offers.append((1, (table, key_id), rests_on, wider_columns))
    rests: dict[tuple[str, int], list[tuple[str, int]]] = {}
    vouched: dict[tuple[str, int], list[frozenset[str]]] = {}

    def leads_to(start: tuple[str, int], goal: tuple[str, int]) -> bool:
        seen, stack = set(), [start]
        while stack:
            key = stack.pop()
            if key == goal:
                return True
            if key not in seen:
                seen.add(key)
                stack.extend(rests.get(key, ()))
        return False

    for _rank, key, rests_on, columns in sorted(offers, key=lambda offer: offer[0]):
        if not any(leads_to(other, key) for other in rests_on):
            rests.setdefault(key, []).extend(rests_on)
            vouched.setdefault(key, []).append(columns)
    return vouched


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
