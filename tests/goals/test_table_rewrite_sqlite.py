"""goals_project.maintenance.table_rewrite.sqlite_rewrite: a table written anew holds exactly what
the UPDATE it stands for would leave (every value and its type, every rowid), keeps its
definition and indexes, which find the same rows; a table whose indexes or definition would not
hold is left to the caller's UPDATE, unchanged; and inside sqlite_drops_at_end the old pages
are dropped only when the run ends well."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from hypothesis import given
from hypothesis import strategies as st

from goals_project.maintenance.table_rewrite import sqlite_drops_at_end, sqlite_rewrite

pytestmark = [pytest.mark.sqlite_only, pytest.mark.django_db(transaction=True)]

# Columns of every affinity (STRING is NUMERIC's), as legacy tables declare them.
TABLE = (
    "CREATE TABLE {name} (id TEXT PRIMARY KEY, parent TEXT, amount STRING, ratio FLOAT, "
    "note, label varchar(20) DEFAULT 'none', root varchar(36), stamp datetime)"
)
INDEXES = (
    "CREATE INDEX {name}_parent ON {name} (parent, amount)",
    "CREATE UNIQUE INDEX {name}_label ON {name} (label, id)",
)
COMPUTED = {
    "root": ("CASE WHEN p.id IS NULL THEN t.root ELSE p.root END", ()),
    "stamp": (
        "CASE WHEN p.id IS NULL THEN t.stamp ELSE COALESCE(t.stamp, p.made, %s) END",
        ("now",),
    ),
}
UPDATE = (
    "UPDATE {name} AS t SET root = p.root, stamp = COALESCE(t.stamp, p.made, %s) "
    "FROM rewrite_parents p WHERE p.id = t.parent"
)
JOIN = "LEFT JOIN rewrite_parents p ON p.id = t.parent"

values = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(["12", " 7 ", "1e3", "0x10", "2026-03-02 10:00:00"]),
    st.binary(max_size=4),
)
rows = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "gone", None]),  # parent: one of two, a deleted one, none
        values,
        values,
        values,
        values,
        values,
        values,
    ),
    max_size=25,
)


def _sql(statement: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def _make(name: str, data: list[tuple], *, indexes=INDEXES) -> None:
    _sql(TABLE.format(name=name))
    for index in indexes:
        _sql(index.format(name=name))
    for number, row in enumerate(data):
        _sql(
            f"INSERT INTO {name} (id, parent, amount, ratio, note, label, root, stamp) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (f"id{number}", *row),
        )
    if data:  # rowids with a gap, as deletes leave them
        _sql(f"DELETE FROM {name} WHERE id = 'id0'")


def _content(name: str) -> list[tuple]:
    columns = ("id", "parent", "amount", "ratio", "note", "label", "root", "stamp")
    # quote(): each value as an SQL literal (bytes not decoded, 1 and 1.0 apart), by its type.
    typed = ", ".join(f"quote({column}), typeof({column})" for column in columns)
    return _sql(f"SELECT rowid, {typed} FROM {name} ORDER BY rowid")


def _definitions(name: str) -> list[tuple]:
    return _sql(
        "SELECT type, replace(name, %s, 'T'), replace(sql, %s, 'T') FROM sqlite_schema "
        "WHERE tbl_name = %s ORDER BY name",
        (name, name, name),
    )


@pytest.fixture
def parents():
    # Untyped: an integer root and a time written as a number reach the table as they are, and
    # its columns' affinities turn them into text and a number.
    _sql("CREATE TABLE rewrite_parents (id TEXT PRIMARY KEY, root, made)")
    _sql("INSERT INTO rewrite_parents VALUES ('a', 'root-a', '2025-01-01'), ('b', 7, '12')")
    yield
    for schema in ("temp", "main"):
        for kind, name in _sql(f"SELECT type, name FROM {schema}.sqlite_schema"):
            if name.startswith("rewrite_") and kind in ("table", "trigger"):
                _sql(f'DROP {kind} IF EXISTS {schema}."{name}"')


@given(data=rows)
def test_the_rows_written_anew_are_those_the_update_leaves(parents, data):
    for name in ("rewrite_updated", "rewrite_written"):
        _sql(f"DROP TABLE IF EXISTS {name}")
        _make(name, data)
    with transaction.atomic():
        _sql(UPDATE.format(name="rewrite_updated"), ("now",))
        written = sqlite_rewrite(connection, "rewrite_written", COMPUTED, JOIN)
    assert written == len(_content("rewrite_written"))
    assert _content("rewrite_written") == _content("rewrite_updated")
    assert _definitions("rewrite_written") == _definitions("rewrite_updated")
    assert _sql("PRAGMA integrity_check") == [("ok",)]
    # The indexes kept find what a scan of the table finds.
    for (parent,) in _sql("SELECT DISTINCT parent FROM rewrite_written"):
        assert _sql(
            "SELECT id FROM rewrite_written INDEXED BY rewrite_written_parent "
            "WHERE parent IS %s ORDER BY id",
            (parent,),
        ) == _sql(
            "SELECT id FROM rewrite_written NOT INDEXED WHERE parent IS %s ORDER BY id", (parent,)
        )
    assert not _sql("SELECT name FROM sqlite_schema WHERE name = 'rewrite_written__rewritten'")


@pytest.mark.parametrize(
    ("definition", "extra"),
    [
        (TABLE, "CREATE INDEX {name}_root ON {name} (root)"),  # an index on a column set
        (TABLE, "CREATE INDEX {name}_some ON {name} (parent) WHERE amount > 0"),
        (TABLE, "CREATE INDEX {name}_lower ON {name} (lower(parent))"),
        (
            TABLE,
            "CREATE TRIGGER {name}_stamp AFTER UPDATE ON {name} "
            "BEGIN UPDATE {name} SET note = 'x' WHERE rowid = new.rowid; END",
        ),
        (TABLE.replace("id TEXT PRIMARY KEY", "id INTEGER PRIMARY KEY"), None),
        (TABLE + " WITHOUT ROWID", None),
        (
            "CREATE TABLE {name} (id TEXT PRIMARY KEY, parent TEXT, amount ANY, ratio REAL, "
            "note ANY, label TEXT, root TEXT, stamp TEXT) STRICT",
            None,
        ),
        (TABLE.replace("stamp datetime)", "stamp datetime, twice AS (ratio * 2))"), None),
        (TABLE, "CREATE TABLE {name}__rewritten (anything)"),  # its name is taken
        # What the UPDATE holds the values it writes to.
        (TABLE.replace("root varchar(36)", "root varchar(36) NOT NULL DEFAULT ''"), None),
        (TABLE.replace("stamp datetime", "stamp datetime CHECK (stamp <> '')"), None),
        (TABLE.replace("root varchar(36)", "root varchar(36) REFERENCES rewrite_parents"), None),
        # The temporary schema, which SQLite looks in first: a trigger, a table of either name.
        (
            TABLE,
            "CREATE TEMP TRIGGER {name}_watch AFTER UPDATE ON {name} BEGIN SELECT 1; END",
        ),
        (TABLE, "CREATE TEMP TABLE {name} (id, parent, root, stamp)"),
        (TABLE, "CREATE TEMP TABLE {name}__rewritten (anything)"),
    ],
)
def test_a_table_it_could_not_keep_is_left_to_the_update(parents, definition, extra):
    name = "rewrite_kept"
    _sql(definition.format(name=name))
    _sql(f"INSERT INTO {name} (id, parent, amount) VALUES ('1', 'a', 5), ('2', 'b', 6)")
    if extra:
        _sql(extra.format(name=name))
    before = (_sql(f"SELECT * FROM {name} ORDER BY id"), _sql("SELECT * FROM sqlite_schema"))
    with transaction.atomic():
        assert sqlite_rewrite(connection, name, COMPUTED, JOIN) is None
    after = (_sql(f"SELECT * FROM {name} ORDER BY id"), _sql("SELECT * FROM sqlite_schema"))
    assert after == before


def test_the_old_pages_are_dropped_at_the_end_of_a_run_that_ends_well(parents):
    _make(
        "rewrite_late", [("b", 1, 2.0, "x", "l", None, None), ("a", 3, 4.0, "y", "m", None, None)]
    )
    free = _sql("PRAGMA freelist_count")
    with transaction.atomic(), sqlite_drops_at_end(connection):
        assert sqlite_rewrite(connection, "rewrite_late", COMPUTED, JOIN) == 1
        # Until the end, the old rows keep their pages, in a table of their own.
        assert _sql("SELECT id, root FROM rewrite_late__rewritten") == [("id1", None)]
        assert _sql("PRAGMA freelist_count")[0][0] <= free[0][0]
    assert not _sql("SELECT name FROM sqlite_schema WHERE name = 'rewrite_late__rewritten'")
    assert _sql("SELECT id, root FROM rewrite_late") == [("id1", "root-a")]


@pytest.mark.parametrize("again", [False, True], ids=["then not", "then again"])
def test_a_rewrite_rolled_back_with_its_savepoint_leaves_nothing_to_drop(parents, again):
    """A migration's savepoint rolled back with its rewrite, and the run going on to its end:
    the old pages went with the savepoint, and a rewrite after it is dropped once."""
    _make(
        "rewrite_undone",
        [("b", 1, 2.0, "x", "l", None, None), ("a", 3, 4.0, "y", "m", None, None)],
    )
    before = _content("rewrite_undone")
    with transaction.atomic(), sqlite_drops_at_end(connection):
        with pytest.raises(RuntimeError), transaction.atomic():  # a savepoint
            assert sqlite_rewrite(connection, "rewrite_undone", COMPUTED, JOIN) == 1
            raise RuntimeError("the migration stops")
        assert _content("rewrite_undone") == before
        if again:
            assert sqlite_rewrite(connection, "rewrite_undone", COMPUTED, JOIN) == 1
    assert not _sql("SELECT name FROM sqlite_schema WHERE name = 'rewrite_undone__rewritten'")
    assert _sql("SELECT root FROM rewrite_undone") == [("root-a" if again else None,)]


def test_a_run_that_fails_drops_nothing_and_leaves_no_table_to_drop(parents):
    _make(
        "rewrite_failed", [("a", 1, 2.0, "x", "l", None, None), ("b", 3, 4.0, "y", "m", None, None)]
    )
    before = _content("rewrite_failed")
    with pytest.raises(RuntimeError), transaction.atomic(), sqlite_drops_at_end(connection):
        assert sqlite_rewrite(connection, "rewrite_failed", COMPUTED, JOIN) == 1
        raise RuntimeError("the run stops")
    assert _content("rewrite_failed") == before  # rolled back with the transaction
    assert not _sql("SELECT name FROM sqlite_schema WHERE name = 'rewrite_failed__rewritten'")
    # A later rewrite outside any run drops the old pages at once.
    with transaction.atomic():
        assert sqlite_rewrite(connection, "rewrite_failed", COMPUTED, JOIN) == 1
    assert not _sql("SELECT name FROM sqlite_schema WHERE name = 'rewrite_failed__rewritten'")
    assert _sql("SELECT root, typeof(stamp) FROM rewrite_failed") == [("7", "integer")]
