"""goals_project.maintenance.migration_operations.alter_constraints_in_place: on SQLite, a
table whose new definition differs only in constraints gets it without a rebuild, the rows
already there are checked against it, and any other change is left to Django's rebuild."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

import pytest
from django.apps.registry import Apps
from django.db import IntegrityError, connection, models, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from goals_project.maintenance.migration_operations import (
    KnownValues,
    _same_values,
    alter_constraints_in_place,
)

pytestmark = [pytest.mark.sqlite_only, pytest.mark.django_db(transaction=True)]


def probe_models(
    table: str,
    *,
    enforced: bool,
    unique_value: bool = False,
    indexed: str | None = None,
    keyed: bool = False,
    checked: bool = True,
) -> tuple[type[models.Model], type[models.Model]]:
    """A parent, and a child table `table` pointing to it: before (nothing enforced) or after
    (NOT NULL, a real foreign key, a CHECK; a UNIQUE value as well with `unique_value`). With
    `indexed`, the child also points to itself (`previous`), and declares an index of that name
    on its value. With `keyed`, (value, parent) is unique as an index of its own, as the keys
    of goals.roots are. With `checked` false, the enforced child has no CHECK."""
    apps = Apps()

    def meta(db_table: str, **options):
        return type(
            "Meta", (), {"app_label": "probe", "apps": apps, "db_table": db_table, **options}
        )

    parent = type(
        "Parent",
        (models.Model,),
        {
            "__module__": __name__,
            "id": models.CharField(primary_key=True, max_length=36),
            "Meta": meta(f"{table}_parents"),
        },
    )
    constraints = []
    if enforced and checked:
        constraints.append(
            models.CheckConstraint(condition=models.Q(value__gte=0), name=f"{table}_value_positive")
        )
    if unique_value:
        constraints.append(models.UniqueConstraint(fields=["value"], name=f"{table}_value_unique"))
    if keyed:
        constraints.append(
            models.UniqueConstraint(models.F("value"), models.F("parent"), name=f"{table}_key")
        )
    body = {
        "__module__": __name__,
        "id": models.CharField(primary_key=True, max_length=36),
        "value": models.FloatField(null=not enforced),
        "parent": models.ForeignKey(
            parent, models.CASCADE, null=not enforced, db_constraint=enforced, db_index=False
        ),
    }
    indexes = []
    if indexed:
        body["previous"] = models.ForeignKey("self", models.CASCADE, null=True, db_index=False)
        body["note"] = models.TextField(null=True)  # a field after the foreign key to itself
        indexes.append(models.Index(fields=["value"], name=indexed))
    child = type(
        "Child",
        (models.Model,),
        {**body, "Meta": meta(table, constraints=constraints, indexes=indexes)},
    )
    return parent, child


@contextlib.contextmanager
def probe_tables(table: str, rows: list[tuple], indexed: str | None = None) -> Iterator[None]:
    """The parent and the unenforced child table, with one parent 'p' and `rows` as children.
    With `indexed`, the child is then rebuilt by Django, as a migration's rebuild leaves it."""
    parent, child = probe_models(table, enforced=False, indexed=indexed)
    with connection.schema_editor() as editor:
        editor.create_model(parent)
        editor.create_model(child)
        if indexed:
            editor._remake_table(child)
    with connection.cursor() as cursor:
        cursor.execute(f'INSERT INTO "{table}_parents" (id) VALUES (%s)', ["p"])
        for row in rows:
            cursor.execute(f'INSERT INTO "{table}" (id, value, parent_id) VALUES (%s, %s, %s)', row)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP TABLE IF EXISTS "{table}"')
            cursor.execute(f'DROP TABLE IF EXISTS "{table}_parents"')


def definition(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = %s", [table])
        return cursor.fetchone()[0]


def test_constraints_are_added_without_a_rebuild_into_what_a_rebuild_gives():
    """The table keeps its rows and ends with the definition Django's rebuild writes, and the
    new constraints hold for new rows."""
    rows = [("a", 1.0, "p"), ("b", 2.5, "p")]
    with probe_tables("in_place", rows), probe_tables("rebuilt", rows):
        with connection.schema_editor() as editor:
            assert alter_constraints_in_place(editor, probe_models("in_place", enforced=True)[1])
            editor._remake_table(probe_models("rebuilt", enforced=True)[1])
        assert definition("in_place") == definition("rebuilt").replace("rebuilt", "in_place")
        with connection.cursor() as cursor:
            cursor.execute('SELECT id, value, parent_id FROM "in_place" ORDER BY id')
            assert cursor.fetchall() == rows
            for bad in [("c", None, "p"), ("d", -1.0, "p")]:
                with pytest.raises(IntegrityError), transaction.atomic():
                    cursor.execute('INSERT INTO "in_place" VALUES (%s, %s, %s)', bad)
            cursor.execute("PRAGMA foreign_keys = ON")
            with pytest.raises(IntegrityError), transaction.atomic():
                cursor.execute('INSERT INTO "in_place" VALUES (%s, %s, %s)', ("e", 1.0, "none"))


@pytest.mark.parametrize(
    ("row", "found"),
    [(("b", None, "p"), "NULL value in in_place.value"), (("b", -1.0, "p"), "CHECK constraint")],
)
def test_rows_that_break_a_new_constraint_stop_it_and_change_nothing(row, found):
    """A NULL in a column made NOT NULL, or a row failing a new CHECK, raises an IntegrityError
    that names it, and the migration's transaction rolls the definition back."""
    with probe_tables("in_place", [("a", 1.0, "p"), row]):
        before = definition("in_place")
        with pytest.raises(IntegrityError, match=found), connection.schema_editor() as editor:
            alter_constraints_in_place(editor, probe_models("in_place", enforced=True)[1])
        assert definition("in_place") == before


NULLS = ['"parent_id" IS NULL', '"value" IS NULL']
CHECK = 'NOT ("value" >= 0.0)'


@pytest.mark.parametrize(
    ("checked", "rows", "found"),
    [
        (False, [("a", 1.0, "p")], []),
        (False, [("a", 1.0, "p"), ("b", None, "p")], ["NULL value in in_place.value"]),
        (
            False,
            [("a", 1.0, "p"), ("b", None, None)],
            ["NULL value in in_place.parent_id", "NULL value in in_place.value"],
        ),
        (True, [("a", 1.0, "p")], []),
        (
            True,
            [("a", 1.0, "p"), ("b", -1.0, "p")],
            ['CHECK constraint failed in in_place: "value" >= 0.0'],
        ),
    ],
)
def test_only_what_a_new_definition_adds_is_searched_for_in_one_read(checked, rows, found):
    """The columns a definition makes NOT NULL and its new CHECKs are searched for in one read
    of the table, without a quick_check of it. A row breaking them is named as quick_check
    names it (a CHECK with its expression), and the definition rolls back."""
    with probe_tables("in_place", rows):
        before = definition("in_place")
        model = probe_models("in_place", enforced=True, checked=checked)[1]
        with CaptureQueriesContext(connection) as queries:
            if found:
                with pytest.raises(IntegrityError) as raised, connection.schema_editor() as editor:
                    alter_constraints_in_place(editor, model)
                assert (
                    str(raised.value) == f"in_place breaks its new constraints: {'; '.join(found)}"
                )
                assert definition("in_place") == before
            else:
                with connection.schema_editor() as editor:
                    assert alter_constraints_in_place(editor, model)
                assert "NOT NULL" in definition("in_place").split('"value"')[1].split(",")[0]
    statements = [query["sql"] for query in queries]
    assert not any("quick_check" in sql for sql in statements)
    terms = [*NULLS, CHECK] if checked else NULLS
    assert [sql for sql in statements if "IS NULL" in sql] == [
        f'SELECT {", ".join(terms)} FROM "in_place" NOT INDEXED WHERE {" OR ".join(terms)} LIMIT 1'
    ]


def test_what_is_known_of_a_column_is_not_read_again():
    """A column KnownValues says holds no NULL is left out of the search; one it says holds
    only text is not read for other values (so what it says is trusted: a NULL it wrongly
    leaves out goes unfound, as here)."""
    with probe_tables("in_place", [("a", None, "p")]):
        model = probe_models("in_place", enforced=True, checked=False)[1]
        known = KnownValues(without_null=frozenset({"value"}))
        with CaptureQueriesContext(connection) as queries, connection.schema_editor() as editor:
            assert alter_constraints_in_place(editor, model, known)
    assert [query["sql"] for query in queries if "IS NULL" in query["sql"]] == [
        f'SELECT {NULLS[0]} FROM "in_place" NOT INDEXED WHERE {NULLS[0]} LIMIT 1'
    ]
    sqlite = sqlite3.connect(":memory:")
    try:
        sqlite.execute("CREATE TABLE probe (value NUMERIC)")
        sqlite.execute("INSERT INTO probe VALUES (42)")
        old, new = [("value", "NUMERIC")], [("value", "TEXT")]
        assert not _same_values(sqlite.cursor(), "probe", old, new)
        assert _same_values(sqlite.cursor(), "probe", old, new, frozenset({"value"}))
    finally:
        sqlite.close()


@pytest.mark.parametrize("broken", [False, True])
def test_a_check_the_search_cannot_read_is_left_to_quick_check(broken):
    """A CHECK whose text hides a parenthesis in a quoted string is not read right by the
    search: the rows are then tried by quick_check, which refuses a row breaking it."""
    rows = [("a", 1.0, "p"), (")", 1.0, "p")] if broken else [("a", 1.0, "p")]
    with probe_tables("in_place", rows):
        _, model = probe_models("in_place", enforced=True, checked=False)
        odd = models.CheckConstraint(condition=~models.Q(id=")"), name="in_place_no_paren")
        model._meta.constraints = [odd]
        with CaptureQueriesContext(connection) as queries:
            if broken:
                with (
                    pytest.raises(IntegrityError, match="CHECK constraint failed"),
                    connection.schema_editor() as editor,
                ):
                    alter_constraints_in_place(editor, model)
            else:
                with connection.schema_editor() as editor:
                    assert alter_constraints_in_place(editor, model)
    assert any(query["sql"] == 'PRAGMA quick_check("in_place")' for query in queries)


def test_a_dangling_reference_is_found_by_the_editors_own_check():
    """A foreign key made real over a row that points nowhere fails the schema editor's
    closing foreign key check, as it does after a rebuild, and the transaction around it (a
    migration's, as goals_project.maintenance.migration_executor opens it) changes nothing."""
    with probe_tables("in_place", [("a", 1.0, "p"), ("b", 1.0, "gone")]):
        before = definition("in_place")
        assert connection.disable_constraint_checking()
        try:
            with (
                pytest.raises(IntegrityError, match="in_place"),
                transaction.atomic(),
                connection.schema_editor(atomic=False) as editor,  # in the migration's atomic
            ):
                model = probe_models("in_place", enforced=True)[1]
                assert alter_constraints_in_place(editor, model)
        finally:
            connection.enable_constraint_checking()
        assert definition("in_place") == before


def test_a_change_of_storage_is_left_to_the_rebuild():
    """A new UNIQUE constraint needs an index SQLite builds only with the table: the function
    declines and changes nothing."""
    with probe_tables("in_place", [("a", 1.0, "p")]):
        before = definition("in_place")
        with connection.schema_editor() as editor:
            model = probe_models("in_place", enforced=True, unique_value=True)[1]
            assert not alter_constraints_in_place(editor, model)
        assert definition("in_place") == before
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name FROM sqlite_schema WHERE name LIKE 'new\\_\\_%' ESCAPE '\\'"
            )
            assert cursor.fetchall() == []


def columns(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f'PRAGMA table_info("{table}")')
        return [row[1] for row in cursor.fetchall()]


def test_a_table_rebuilt_by_django_keeps_its_order_of_columns_and_its_declared_indexes():
    """Django's rebuild puts a model's foreign keys to itself after its other columns. The
    definition written in place keeps the table's order of columns, whatever the model's, and
    the indexes the model declares stay as they are; new constraints hold for new rows."""
    with probe_tables("in_place", [], indexed="in_place_v"):
        with connection.cursor() as cursor:
            cursor.execute(
                'INSERT INTO "in_place" (id, value, parent_id, previous_id, note) '
                "VALUES ('a', 1.0, 'p', NULL, 'first'), ('b', 2.0, 'p', 'a', NULL)"
            )
        order = columns("in_place")
        assert order == ["id", "value", "parent_id", "note", "previous_id"]
        with connection.schema_editor() as editor:
            model = probe_models("in_place", enforced=True, indexed="in_place_v")[1]
            assert alter_constraints_in_place(editor, model)
        assert columns("in_place") == order
        # The model keeps its own order, in every list of fields it caches.
        in_model_order = ["id", "value", "parent_id", "previous_id", "note"]
        assert [field.column for field in model._meta.local_fields] == in_model_order
        assert [field.column for field in model._meta.concrete_fields] == in_model_order
        assert [field.column for field in model._meta.get_fields()] == in_model_order
        assert "CHECK" in definition("in_place")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL "
                "AND tbl_name = 'in_place'"
            )
            assert [row[0] for row in cursor.fetchall()] == ["in_place_v"]
            cursor.execute('SELECT id, value, parent_id, previous_id, note FROM "in_place"')
            assert sorted(cursor.fetchall()) == [
                ("a", 1.0, "p", None, "first"),
                ("b", 2.0, "p", "a", None),
            ]
            with pytest.raises(IntegrityError), transaction.atomic():
                cursor.execute(
                    "INSERT INTO \"in_place\" (id, value, parent_id) VALUES ('c', -1, 'p')"
                )


def test_an_index_other_than_the_declared_ones_is_left_to_the_rebuild():
    """An index on the table that the model does not declare (or declares otherwise) would not
    survive a rebuild: the function declines and changes nothing."""
    with probe_tables("in_place", [("a", 1.0, "p")], indexed="in_place_v"):
        with connection.cursor() as cursor:
            cursor.execute('CREATE INDEX "in_place_extra" ON "in_place" ("parent_id")')
        before = definition("in_place")
        with connection.schema_editor() as editor:
            model = probe_models("in_place", enforced=True, indexed="in_place_v")[1]
            assert not alter_constraints_in_place(editor, model)
            model = probe_models("in_place", enforced=True, indexed="in_place_other")[1]
            assert not alter_constraints_in_place(editor, model)
        assert definition("in_place") == before


def test_a_key_declared_as_a_unique_index_of_its_own_is_built_in_place():
    """A unique constraint the model makes as an index (goals.roots' keys) is not part of the
    table's definition: the table is altered in place and the index built, as a rebuild
    builds it."""
    rows = [("a", 1.0, "p"), ("b", 2.5, "p")]
    with probe_tables("in_place", rows), probe_tables("rebuilt", rows):
        with connection.schema_editor() as editor:
            assert alter_constraints_in_place(
                editor, probe_models("in_place", enforced=True, keyed=True)[1]
            )
            editor._remake_table(probe_models("rebuilt", enforced=True, keyed=True)[1])
        assert definition("in_place") == definition("rebuilt").replace("rebuilt", "in_place")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tbl_name, sql FROM sqlite_schema "
                "WHERE name IN ('in_place_key', 'rebuilt_key')"
            )
            made = dict(cursor.fetchall())
            assert made["in_place"] == made["rebuilt"].replace("rebuilt", "in_place")
            with pytest.raises(IntegrityError), transaction.atomic():
                cursor.execute('INSERT INTO "in_place" VALUES (%s, %s, %s)', ("c", 1.0, "p"))


def test_rows_that_break_a_new_key_stop_it_and_change_nothing():
    """Two rows with the same key: building its unique index fails, and the migration's
    transaction rolls the definition back."""
    with probe_tables("in_place", [("a", 1.0, "p"), ("b", 1.0, "p")]):
        before = definition("in_place")
        with pytest.raises(IntegrityError, match="UNIQUE"), connection.schema_editor() as editor:
            alter_constraints_in_place(
                editor, probe_models("in_place", enforced=True, keyed=True)[1]
            )
        assert definition("in_place") == before
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'in_place_key'")
            assert cursor.fetchone() == (0,)


def table_model(table: str, **fields: models.Field) -> type[models.Model]:
    """A model of `table` with a text primary key and `fields`."""
    meta = type("Meta", (), {"app_label": "probe", "apps": Apps(), "db_table": table})
    body = {"__module__": __name__, "id": models.CharField(primary_key=True, max_length=36)}
    return type("Probe", (models.Model,), {**body, **fields, "Meta": meta})


@contextlib.contextmanager
def raw_table(table: str, *statements: str) -> Iterator[None]:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP TABLE IF EXISTS "{table}"')


@pytest.mark.parametrize(("rank_default", "in_place"), [(None, False), (0, True)])
def test_a_default_that_a_row_reads_is_kept(rank_default, in_place):
    """A row written before `ALTER TABLE ADD COLUMN ... DEFAULT 0` is shorter than the table
    and reads 0 from the definition: a definition without that default would make it read
    NULL, so the table is left to the rebuild. A default SQLite never adds a column with (the
    time) is never read so, and may change in place."""
    with raw_table(
        "short_rows",
        'CREATE TABLE "short_rows" ("id" varchar(36) NOT NULL PRIMARY KEY, '
        '"made" datetime NULL DEFAULT CURRENT_TIMESTAMP)',
        "INSERT INTO short_rows (id, made) VALUES ('a', '2025-06-01 00:00:00')",
        'ALTER TABLE "short_rows" ADD COLUMN "rank" integer NULL DEFAULT 0',
    ):
        rank = models.IntegerField(null=True)
        if rank_default is not None:
            rank = models.IntegerField(null=True, db_default=rank_default)
        model = table_model("short_rows", made=models.DateTimeField(null=True), rank=rank)
        with connection.schema_editor() as editor:
            assert alter_constraints_in_place(editor, model) is in_place
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, CAST(made AS TEXT), rank FROM short_rows")
            assert cursor.fetchall() == [("a", "2025-06-01 00:00:00", 0)]
        assert ("CURRENT_TIMESTAMP" in definition("short_rows")) is not in_place


def test_a_named_collation_is_left_to_the_rebuild():
    """An index's order follows its columns' collations: a definition that names one, or a
    table whose definition does, is not changed in place."""
    with raw_table(
        "collated",
        'CREATE TABLE "collated" ("id" varchar(36) NOT NULL PRIMARY KEY, '
        '"name" varchar(10) NULL COLLATE NOCASE)',
        "INSERT INTO collated (id, name) VALUES ('a', 'B'), ('b', 'a')",
    ):
        before = definition("collated")
        model = table_model("collated", name=models.CharField(max_length=10, null=True))
        with connection.schema_editor() as editor:
            assert not alter_constraints_in_place(editor, model)
        assert definition("collated") == before


def test_a_statement_left_for_later_on_the_table_leaves_it_to_the_rebuild():
    """An index of a field added earlier in the same migration waits in the editor's deferred
    SQL; Django's rebuild drops such statements, so the table is not changed in place."""
    with probe_tables("in_place", [("a", 1.0, "p")]):
        before = definition("in_place")
        with connection.schema_editor() as editor:
            editor.deferred_sql.append('CREATE INDEX "in_place_later" ON "in_place" ("value")')
            model = probe_models("in_place", enforced=True)[1]
            assert not alter_constraints_in_place(editor, model)
            editor.deferred_sql.clear()
        assert definition("in_place") == before


@hypothesis_settings(deadline=None)
@given(
    declared=st.sampled_from(["TEXT", "varchar(36)", "STRING", "NUMERIC", "INTEGER", "REAL", ""]),
    collation=st.sampled_from(["", " COLLATE NOCASE", " COLLATE RTRIM"]),
    values=st.lists(
        st.one_of(
            st.none(),
            st.integers(-(2**63), 2**63 - 1),
            st.floats(allow_nan=True),
            st.text(max_size=6),
            st.binary(max_size=4),
        ),
        max_size=6,
    ),
)
def test_a_column_holds_only_text_as_typeof_says(declared, collation, values):
    """`_same_values` finds a value that is not text or NULL by comparison, as typeof() would,
    whatever the column's affinity and collation."""
    sqlite = sqlite3.connect(":memory:")
    try:
        sqlite.execute(f"CREATE TABLE probe (value {declared}{collation})")
        sqlite.executemany("INSERT INTO probe VALUES (?)", [(value,) for value in values])
        types = {row[0] for row in sqlite.execute("SELECT typeof(value) FROM probe")}
        cursor = sqlite.cursor()
        found = _same_values(cursor, "probe", [("value", "NUMERIC")], [("value", "TEXT")])
        assert found is types.issubset({"text", "null"})
    finally:
        sqlite.close()
