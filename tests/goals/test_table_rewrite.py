"""goals_project.maintenance.table_rewrite.postgres_rewrite: a table written anew keeps every
row, column, constraint and index, under their names; a table with something a rewrite would
lose is left to the caller's UPDATE; and a writer waiting on the table loses nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from django.db import connection, transaction

from goals_project.maintenance.table_rewrite import postgres_rewrite
from tests.schema_snapshots import postgres_connect

pytestmark = [pytest.mark.postgresql_only, pytest.mark.django_db(transaction=True)]

COMPUTED = {"root": ("p.root", ()), "note": ("COALESCE(t.note, %s)", ("filled",))}
JOIN = "JOIN rewrite_parents p ON p.id = t.parent"


@pytest.fixture
def tables() -> Iterator[None]:
    """rewrite_values (a primary key, a CHECK, a NOT NULL, Django's `_like` index) pointing
    without a foreign key to rewrite_parents, which holds each row's root."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE rewrite_parents (id varchar(36) PRIMARY KEY, root text)")
        cursor.execute(
            "CREATE TABLE rewrite_values (id varchar(36) CONSTRAINT rewrite_values_key "
            "PRIMARY KEY, parent varchar(36) NOT NULL, root text, note text DEFAULT 'none', "
            "amount integer "
            "CONSTRAINT rewrite_values_amount_positive CHECK (amount > 0))"
        )
        cursor.execute(
            "CREATE INDEX rewrite_values_id_like ON rewrite_values (id varchar_pattern_ops)"
        )
        cursor.execute("INSERT INTO rewrite_parents VALUES ('a', 'root-a'), ('b', 'root-b')")
        cursor.execute(
            "INSERT INTO rewrite_values (id, parent, root, note, amount) VALUES "
            "('1', 'a', NULL, NULL, 5), ('2', 'b', 'stale', 'kept', 7), "
            "('3', 'a', NULL, 'also kept', 9)"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS rewrite_values, rewrite_parents CASCADE")


def rows() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, parent, root, note, amount FROM rewrite_values ORDER BY id")
        return cursor.fetchall()


def schema() -> list[tuple]:
    """The table's columns, constraints and indexes, by name and definition."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, format_type(atttypid, atttypmod), attnotnull, "
            "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a LEFT JOIN pg_attrdef d "
            "ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE attrelid = 'rewrite_values'::regclass AND attnum > 0 ORDER BY attnum"
        )
        columns = cursor.fetchall()
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'rewrite_values'::regclass ORDER BY conname"
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = 'rewrite_values'::regclass ORDER BY 1"
        )
        return [*columns, *constraints, *cursor.fetchall()]


def test_the_table_is_written_anew_with_everything_it_had(tables):
    before = schema()
    with transaction.atomic():
        assert postgres_rewrite(connection, "rewrite_values", COMPUTED, JOIN) == 3
    assert rows() == [
        ("1", "a", "root-a", "filled", 5),
        ("2", "b", "root-b", "kept", 7),
        ("3", "a", "root-a", "also kept", 9),
    ]
    assert schema() == before
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE starts_with(relname, 'rewrite_values__')"
        )
        assert cursor.fetchall() == []


@pytest.mark.parametrize(
    "extra",
    [
        "GRANT SELECT ON rewrite_values TO PUBLIC",
        "ALTER TABLE rewrite_values ADD CONSTRAINT rewrite_values_parent_fk "
        "FOREIGN KEY (parent) REFERENCES rewrite_parents (id)",
        "ALTER TABLE rewrite_values ADD CONSTRAINT rewrite_values_note_key UNIQUE (note)",
        "CREATE VIEW rewrite_view AS SELECT id FROM rewrite_values",
        "ALTER TABLE rewrite_values ADD COLUMN number serial",
    ],
    ids=["grant", "foreign key", "unique", "view", "sequence"],
)
def test_what_a_rewrite_would_lose_leaves_the_table_to_the_update(tables, extra):
    with connection.cursor() as cursor:
        cursor.execute(extra)
        cursor.execute("SELECT 'rewrite_values'::regclass::oid")
        oid = cursor.fetchone()[0]
    before = rows()
    with transaction.atomic():
        assert postgres_rewrite(connection, "rewrite_values", COMPUTED, JOIN) is None
    assert rows() == before
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'rewrite_values'::regclass::oid")
        assert cursor.fetchone()[0] == oid


def test_rows_the_join_would_drop_stop_the_rewrite(tables):
    """A row whose parent is missing would not come through an inner join: an error, and the
    caller's transaction rolls back."""
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO rewrite_values VALUES ('4', 'gone', NULL, NULL, 1)")
    before = rows()
    with pytest.raises(Exception, match="gave 3 rows instead of 4"), transaction.atomic():
        postgres_rewrite(connection, "rewrite_values", COMPUTED, JOIN)
    assert rows() == before


def test_a_row_being_written_when_the_rewrite_starts_is_kept(tables):
    """Another process has inserted a row and not committed yet when the rewrite starts: the
    rewrite waits for it and copies the row, instead of copying without it and dropping the
    table the row is then committed to."""
    results: list[object] = []

    def rewrite() -> None:
        try:
            with transaction.atomic():
                results.append(postgres_rewrite(connection, "rewrite_values", COMPUTED, JOIN))
        except BaseException as error:  # reported by the test below
            results.append(error)
        finally:
            connection.close()

    database = connection.settings_dict["NAME"]
    with (
        postgres_connect(database) as writer,
        postgres_connect(database, autocommit=True) as watcher,
    ):
        writer.execute("INSERT INTO rewrite_values VALUES ('9', 'b', NULL, 'late', 3)")
        rewriting = threading.Thread(target=rewrite)
        rewriting.start()
        waiting = 0
        while not waiting and rewriting.is_alive():  # until the rewrite waits on the writer
            waiting = watcher.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            ).fetchone()[0]
        writer.commit()
        rewriting.join()
    assert waiting == 1
    assert results == [4]
    assert ("9", "b", "root-b", "late", 3) in rows()
    assert len(rows()) == 4
