"""Migration operations shared by both apps."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import DatabaseError, IntegrityError, migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation

from goals_project.bases.foreign_keys import column_affinity


@contextlib.contextmanager
def rendered_once(state, app_label: str, *models: str, delay: bool) -> Iterator[None]:
    """While inside, the state's rendered apps are set aside, so that ProjectState.reload_model
    does nothing; afterwards `models` are rendered once, together (`delay` as Django's
    reload_models takes it). A state not rendered yet is left so."""
    rendered = state.__dict__.pop("apps", None)
    try:
        yield
    finally:
        if rendered is not None:
            state.apps = rendered
    if rendered is not None:
        state.reload_models([(app_label, model) for model in models], delay=delay)


def step_states(operations, app_label: str, start_state) -> list[tuple]:
    """Each of `operations` with the states before and after it, as Django applies them one by
    one from `start_state` (each state rendered again)."""
    steps = []
    state = start_state
    for operation in operations:
        after = state.clone()
        operation.state_forwards(app_label, after)
        steps.append((operation, state, after))
        state = after
    return steps


class AlterTableInOnePass(Operation):
    """Several alterations of one model, applied on SQLite with one change of the table's
    definition in place (`alter_constraints_in_place`) or, where that would change what is
    stored, a single table rebuild.

    SQLite cannot alter a column or add a constraint in place: Django rebuilds the whole table for
    every such operation. Applied one by one, making five columns NOT NULL with foreign keys
    copies a million-row table five times; here the table is rebuilt once, straight into its
    final shape, and its indexes are created after the rows are copied. Other databases alter in
    place, so there the operations simply run in order.
    """

    reversible = True

    def __init__(self, model_name: str, operations: list[Operation]) -> None:
        self.model_name = model_name
        self.operations = operations

    @property
    def model_name_lower(self) -> str:
        return self.model_name.lower()

    def deconstruct(self):
        return (
            self.__class__.__name__,
            [],
            {"model_name": self.model_name, "operations": self.operations},
        )

    def state_forwards(self, app_label, state) -> None:
        # The alterations change one model: it is rendered again once, after all of them, not
        # after each (rendering the state is most of what migrate costs on a small file). While
        # the rendered apps are set aside, ProjectState.reload_model does nothing.
        model = self.model_name.lower()
        if any(getattr(op, "model_name_lower", None) != model for op in self.operations):
            for operation in self.operations:  # not all of one model: as Django does, after each
                operation.state_forwards(app_label, state)
            return
        with rendered_once(state, app_label, model, delay=False):
            for operation in self.operations:
                operation.state_forwards(app_label, state)

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "sqlite":
            self._rebuild(app_label, schema_editor, to_state)
            return
        for operation, before, after in self._steps(app_label, from_state):
            operation.database_forwards(app_label, schema_editor, before, after)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "sqlite":
            self._rebuild(app_label, schema_editor, to_state)
            return
        for operation, before, after in reversed(self._steps(app_label, to_state)):
            operation.database_backwards(app_label, schema_editor, after, before)

    def describe(self) -> str:
        return f"Alter {self.model_name} in one pass: " + "; ".join(
            operation.describe() for operation in self.operations
        )

    @property
    def migration_name_fragment(self) -> str:
        return f"alter_{self.model_name.lower()}_in_one_pass"

    def references_model(self, name, app_label) -> bool:
        return any(op.references_model(name, app_label) for op in self.operations)

    def _rebuild(self, app_label, schema_editor, state) -> None:
        model = state.apps.get_model(app_label, self.model_name)
        if not alter_constraints_in_place(schema_editor, model):
            schema_editor._remake_table(model)  # Django's own SQLite rebuild, into `state`'s shape

    def _steps(self, app_label, start_state):
        return step_states(self.operations, app_label, start_state)


class AddIndexes(Operation):
    """Indexes of one model, added together.

    Django's AddIndex renders the model's state again after each index it adds (and the models
    related to it: for goals, nearly all of them). Migrating a small file, that is most of what
    an index migration costs. Here the state takes every index first and the model is rendered
    once; each index is built as AddIndex builds it, and dropped as it drops it going back."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, indexes: list) -> None:
        self.model_name = model_name
        self.indexes = indexes

    @property
    def model_name_lower(self) -> str:
        return self.model_name.lower()

    def deconstruct(self):
        return (
            self.__class__.__name__,
            [],
            {"model_name": self.model_name, "indexes": self.indexes},
        )

    def state_forwards(self, app_label, state) -> None:
        with rendered_once(state, app_label, self.model_name_lower, delay=True):
            for index in self.indexes:
                state.add_index(app_label, self.model_name_lower, index)

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            for index in self.indexes:
                schema_editor.add_index(model, index)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            for index in reversed(self.indexes):
                schema_editor.remove_index(model, index)

    def describe(self) -> str:
        names = ", ".join(index.name for index in self.indexes)
        return f"Create indexes {names} on {self.model_name}"

    @property
    def migration_name_fragment(self) -> str:
        return f"{self.model_name_lower}_indexes"

    def references_model(self, name, app_label) -> bool:
        return name.lower() == self.model_name_lower


def added_null(field) -> bool:
    """Whether `field` is added NULL in every row: nullable, not unique, without a default.
    Django's SQLite schema editor adds such a column with ALTER TABLE ADD COLUMN (a rebuild
    where the field's effective default is set at save, as with `auto_now`, which copies every
    other column as it was): a key in it holds for every row, and no other key changes."""
    return (
        field.null
        and not (field.primary_key or field.unique or field.many_to_many)
        and not field.has_default()
        and not field.has_db_default()
    )


def fields_added(operations) -> Iterator[migrations.AddField]:
    """The AddField operations among `operations`, those of AddFields (and of the AddFields
    within AlterModels) one by one."""
    for operation in each_operation(operations):
        if isinstance(operation, AddFields):
            yield from operation.operations
        elif isinstance(operation, migrations.AddField):
            yield operation


class AddFields(Operation):
    """Nullable columns of one model, added together.

    Django's AddField renders the model's state again after each field (with a relation, every
    model related to it, which for a root is nearly all of them); adding the plan's columns that
    way was most of what 0003 cost on a small file. Here the state takes every field first and
    the model is rendered once. Each column is added as AddField adds it: a column NULL in every
    row, with no default, which SQLite adds in place (ALTER TABLE ADD COLUMN). Only such fields
    are accepted: a field SQLite would add by rebuilding the table needs the model as it stood
    before it, field by field, as AddField has it."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, fields: list) -> None:
        self.model_name = model_name
        self.fields = fields
        for name, field in fields:
            # Nor a value set at save (auto_now): Django's SQLite editor adds such a column by
            # a rebuild of the table, from the model before it, which would drop the columns
            # added before it here.
            if (
                not added_null(field)
                or BaseDatabaseSchemaEditor._effective_default(field) is not None
            ):
                raise ValueError(
                    "AddFields adds nullable columns without a default, a value set at save or "
                    f"a unique key; {model_name}.{name} is not one: add it with AddField"
                )

    @property
    def model_name_lower(self) -> str:
        return self.model_name.lower()

    @property
    def operations(self) -> list[migrations.AddField]:
        """The same fields as Django's AddField operations, one each."""
        return [
            migrations.AddField(model_name=self.model_name, name=name, field=field)
            for name, field in self.fields
        ]

    def deconstruct(self):
        return (
            self.__class__.__name__,
            [],
            {"model_name": self.model_name, "fields": self.fields},
        )

    def state_forwards(self, app_label, state) -> None:
        delay = not any(field.is_relation for _, field in self.fields)
        with rendered_once(state, app_label, self.model_name_lower, delay=delay):
            for name, field in self.fields:
                state.add_field(app_label, self.model_name_lower, name, field, True)

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        to_model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, to_model):
            from_model = from_state.apps.get_model(app_label, self.model_name)
            for name, _ in self.fields:  # each a column of its own: no rebuild reads from_model
                schema_editor.add_field(from_model, to_model._meta.get_field(name))

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        # Going back, field by field as Django drops them: a rebuild (a key's column) copies
        # the model as it stands before each field goes.
        for operation, before, after in reversed(step_states(self.operations, app_label, to_state)):
            operation.database_backwards(app_label, schema_editor, after, before)

    def describe(self) -> str:
        names = ", ".join(name for name, _ in self.fields)
        return f"Add fields {names} to {self.model_name}"

    @property
    def migration_name_fragment(self) -> str:
        return f"{self.model_name_lower}_fields"

    def references_model(self, name, app_label) -> bool:
        return any(op.references_model(name, app_label) for op in self.operations)


class AlterModels(Operation):
    """Alterations of several models of one app (AddFields, AddIndexes, AlterTableInOnePass; one
    each), with the state rendered once for all of them.

    Each of those renders its model again, with the models related to it: for goals and the
    models with a root, nearly all of them, about 35 ms each time. A migration altering six
    models rendered the whole state six times; that was most of what its migrations cost on a
    small file. Here the state takes every alteration, and the models are rendered once,
    together, as Django renders a model altered with a relation (not delayed).

    On SQLite each alteration is then applied from the states before and after all of them:
    each reads only its own model's state, which no other of them changes, and the columns and
    tables other models point to, which none of them may change (a key's column type or name,
    a table's name: alter those in an operation of their own). Elsewhere, and going back, each
    is applied from the states before and after it, as Django applies them."""

    reversible = True

    def __init__(self, operations: list[Operation]) -> None:
        self.operations = operations
        models = [getattr(operation, "model_name_lower", None) for operation in operations]
        if not all(
            isinstance(op, (AddFields, AddIndexes, AlterTableInOnePass)) for op in operations
        ):
            raise ValueError("AlterModels takes AddFields, AddIndexes and AlterTableInOnePass only")
        if len(set(models)) != len(models):
            raise ValueError(f"AlterModels alters each model once; {models} repeats one")

    @property
    def reduces_to_sql(self) -> bool:
        return all(operation.reduces_to_sql for operation in self.operations)

    def deconstruct(self):
        return (self.__class__.__name__, [], {"operations": self.operations})

    def state_forwards(self, app_label, state) -> None:
        models = [operation.model_name_lower for operation in self.operations]
        with rendered_once(state, app_label, *models, delay=False):
            for operation in self.operations:
                operation.state_forwards(app_label, state)

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "sqlite":
            for operation in self.operations:
                operation.database_forwards(app_label, schema_editor, from_state, to_state)
            return
        for operation, before, after in step_states(self.operations, app_label, from_state):
            operation.database_forwards(app_label, schema_editor, before, after)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        for operation, before, after in reversed(step_states(self.operations, app_label, to_state)):
            operation.database_backwards(app_label, schema_editor, after, before)

    def describe(self) -> str:
        return "; ".join(operation.describe() for operation in self.operations)

    @property
    def migration_name_fragment(self) -> str:
        return "_".join(operation.model_name_lower for operation in self.operations)

    def references_model(self, name, app_label) -> bool:
        return any(op.references_model(name, app_label) for op in self.operations)


def each_operation(operations) -> Iterator[Operation]:
    """`operations`, with those of each AlterModels in its place."""
    for operation in operations:
        if isinstance(operation, AlterModels):
            yield from operation.operations
        else:
            yield operation


@dataclass(frozen=True)
class KnownValues:
    """What a read of a table's own rows (not an index's copy of a column) found of some of its
    columns, with nothing written to the table since: columns holding no NULL, and columns
    holding nothing but text and NULL. alter_constraints_in_place reads the table for the
    others only (adoption passes what the preflight read: legacy.preflight.values_read)."""

    without_null: frozenset[str] = frozenset()
    text_only: frozenset[str] = frozenset()


# SQL conditions met by a value that is not text or NULL, by kind, over a quoted column: SQLite
# orders numbers before every text and blobs after, and the empty text first among texts in
# each of its collations.
NOT_TEXT = {"number": "{} < ''", "blob": "{} >= X''"}


def alter_constraints_in_place(editor, model, known: KnownValues | None = None) -> bool:
    """On SQLite, give `model`'s table the definition of `model` without copying its rows, when
    the two differ only in what SQLite checks rather than stores: NOT NULL, CHECK and foreign
    keys. Return False, having changed nothing, when they differ in anything else.

    This is the procedure of SQLite's documentation ("Making Other Kinds Of Table Schema
    Changes", https://www.sqlite.org/lang_altertable.html#otheralter): the new definition is
    written into sqlite_schema, with the schema version raised, inside the migration's
    transaction. That page warns that a constraint added this way is not checked against the
    rows already there, so they are checked here: one read of the table finds a NULL in a
    column made NOT NULL and a row failing a new CHECK (`replace_definition`; `PRAGMA
    quick_check` of the table where a CHECK cannot be searched that way), an IntegrityError
    that rolls the transaction back, and the schema editor's exit runs `PRAGMA
    foreign_key_check` as it does after a rebuild. At a million metric values the read takes
    0.13 s where the rebuild took 6. What `known` says of a column is not read again.

    Same storage means: the same columns (the definition keeps the table's order of them,
    whatever the model's) with the same defaults where a row may read one (`_read_otherwise`),
    the same primary key and inline UNIQUE constraints (the indexes SQLite makes with the table),
    no collation named on either side (an index's order follows its columns' collations), and
    declared types of the same affinity, or of text affinity where the column holds nothing but
    text (a legacy `STRING` column: what a copy into a text column would store is then what is
    stored). The table's other indexes must be among those the model declares (its indexes,
    and its unique constraints made as indexes: goals.roots' keys), by name and statement; the
    declared ones it lacks are built here, as the rebuild would build them, a duplicate refused
    by a unique one (an IntegrityError). A statement left for later that names the table (an
    index of a field added earlier in the migration) leaves the table to the rebuild, which
    drops such statements.
    """
    connection = editor.connection
    if connection.Database.sqlite_version_info < (3, 37):  # PRAGMA table_list
        return False
    table = model._meta.db_table
    quote = editor.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA table_xinfo({quote(table)})")
        position = {row[1]: row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = %s", [table])
        (current,) = cursor.fetchone()
    fields = model._meta.local_fields
    if sorted(position) != sorted(field.column for field in fields if field.concrete):
        return False
    # The columns in the table's order: Django's rebuild moves a model's foreign keys to itself
    # after its other fields, so a table it rebuilt is not in the model's order. The model's
    # cached lists of fields are dropped before and after, so none keeps the order given here.
    deferred, in_model_order = list(editor.deferred_sql), list(fields)
    if any(_names_table(statement, table, quote) for statement in deferred):
        return False
    model._meta._expire_cache()
    fields.sort(key=lambda field: position.get(field.column, -1))  # -1: no column of its own
    try:
        definition, params = editor.table_sql(model)
        # What the table's definition leaves to statements of their own: unique indexes.
        declared = {str(statement) for statement in editor.deferred_sql[len(deferred) :]}
        if params or editor.deferred_sql[: len(deferred)] != deferred:
            return False
        declared.update(str(statement) for statement in editor._model_indexes_sql(model))
        if not all(sql.startswith(("CREATE INDEX ", "CREATE UNIQUE INDEX ")) for sql in declared):
            return False
    finally:
        fields[:] = in_model_order
        model._meta._expire_cache()
        editor.deferred_sql = deferred
    probe = f"new__{table}"
    created = f"CREATE TABLE {quote(table)} "
    if not definition.startswith(created) or any(
        "COLLATE" in sql.upper() for sql in (current, definition)
    ):  # an index's order follows its columns' collations
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {quote(probe)} " + definition[len(created) :])
        old, old_types, old_defaults, old_not_null = _storage(cursor, table)
        new, new_types, new_defaults, new_not_null = _storage(cursor, probe)
        known = known or KnownValues()
        not_null = sorted(new_not_null - old_not_null - known.without_null)
        cursor.execute(f"DROP TABLE {quote(probe)}")
        existing = set(_created_indexes(cursor, table))
        if old != new or not existing <= declared or _read_otherwise(old_defaults, new_defaults):
            return False
        if not _same_values(cursor, table, old_types, new_types, known.text_only):
            return False
        before, after = _check_clauses(current), _check_clauses(definition)
        checks = [_inside(after[clause]) for clause in sorted(set(after) - set(before))]
        if checks and old_types != new_types:  # read under the old affinities, it could differ
            not_null = None
        problems = replace_definition(cursor, table, definition, not_null=not_null, checks=checks)
        if problems != ["ok"]:
            raise IntegrityError(f"{table} breaks its new constraints: {'; '.join(problems[:5])}")
        for statement in sorted(declared - existing):
            cursor.execute(statement)
    return True


def replace_definition(
    cursor,
    table: str,
    definition: str,
    *,
    not_null: list[str] | None = None,
    checks: list[str] = (),
) -> list[str]:
    """SQLite: write `definition` into sqlite_schema as `table`'s, with the schema version
    raised, and return what `PRAGMA quick_check` of the table reports (["ok"] when every row
    holds to it). `cursor` is Django's or the sqlite3 module's: the statements take no
    parameters. The caller has checked that the two definitions store rows alike.

    With `not_null`, the caller has found that what the new definition asks of a row beyond
    the old one is a value in those columns and the truth of the `checks` (the expressions of
    its new CHECK constraints): SQLite held every row written under the old definition to its
    rules. Then the rows are searched for those alone, in one read of the table, and the
    definition is not written when one breaks them (named as quick_check names it). At a
    million metric values quick_check of the table took 0.3 s, the search 0.13 s. An
    expression the search cannot run (a CHECK written in a way it does not read) leaves the
    check to quick_check, after the definition is written."""
    quoted = '"' + table.replace('"', '""') + '"'
    if not_null is not None:
        found = _rows_breaking(cursor, table, quoted, not_null, list(checks))
        if found is None:
            not_null = None
        elif found:
            return found
    literal = "'" + definition.replace("'", "''") + "'"
    name = "'" + table.replace("'", "''") + "'"
    sqlite_schema_written(
        cursor,
        f"UPDATE sqlite_schema SET sql = {literal} WHERE type = 'table' AND name = {name}",  # noqa: S608 - quoted literals
    )
    if not_null is None:
        return [row[0] for row in cursor.execute(f"PRAGMA quick_check({quoted})")]
    return ["ok"]


def sqlite_schema_written(cursor, update: str, params=(), *, reread: bool = False) -> int:
    """SQLite: run `update` on sqlite_schema (writable_schema on for it alone), raise the schema
    version so that every connection reads the schema again, and return how many rows it
    changed. With `reread`, this connection reads it again at once (writable_schema RESET).
    `cursor` is Django's or the sqlite3 module's; an `update` without `params` is sent as it
    is, so a definition's text needs no escaping of %."""
    version = cursor.execute("PRAGMA main.schema_version").fetchone()[0]
    cursor.execute("PRAGMA writable_schema = ON")
    try:
        if params:
            cursor.execute(update, params)
        else:
            cursor.execute(update)
        changed = cursor.rowcount
        cursor.execute(f"PRAGMA main.schema_version = {int(version) + 1}")
    finally:
        cursor.execute(f"PRAGMA writable_schema = {'RESET' if reread else 'OFF'}")
    return changed


def _rows_breaking(
    cursor, table: str, quoted: str, not_null: list[str], checks: list[str]
) -> list[str] | None:
    """What the first row breaking the `not_null` columns or the `checks` breaks, in
    quick_check's words ([] when none does); None when the search cannot run. Run under the old
    definition: under the new one SQLite takes `x IS NULL` of a NOT NULL column to be false
    without reading. The table's own rows are read (NOT INDEXED), never an index's copy of a
    column, which in a damaged file can lack a row (quick_check, which checks the file before
    migrate, does not compare indexes with their tables). A CHECK fails where its expression is
    false, not NULL."""
    terms = [f'"{column.replace(chr(34), chr(34) * 2)}" IS NULL' for column in not_null]
    terms += [f"NOT ({expression})" for expression in checks]
    if not terms:
        return []
    try:
        found = cursor.execute(
            f"SELECT {', '.join(terms)} FROM {quoted} NOT INDEXED "  # noqa: S608 - quoted names, the table's own CHECKs
            f"WHERE {' OR '.join(terms)} LIMIT 1"
        ).fetchone()
    except (sqlite3.Error, DatabaseError):
        return None
    if found is None:
        return []
    broken = dict(zip([*not_null, *checks], found, strict=True))
    return [f"NULL value in {table}.{column}" for column in not_null if broken[column]] + [
        f"CHECK constraint failed in {table}: {expression}"
        for expression in checks
        if broken[expression]
    ]


def _inside(clause: str) -> str:
    """The expression of a `CHECK (...)` clause (_check_clauses)."""
    return clause[clause.index("(") + 1 : clause.rindex(")")]


def _check_clauses(definition: str) -> dict[str, str]:
    """The CHECK constraints of a table's definition, each `CHECK (...)` to its closing
    parenthesis as written, by its text with runs of white space made one space (to compare
    two definitions by). Text that hides one (a quoted parenthesis) only makes two definitions
    differ where they do not, or gives an expression the search cannot run, so the rows are
    checked for nothing or by quick_check."""
    clauses, end = {}, 0
    for found in re.finditer(r"\bCHECK\s*\(", definition, re.IGNORECASE):
        if found.start() < end:  # inside the clause before
            continue
        depth, end = 0, found.end() - 1
        while end < len(definition):
            depth += {"(": 1, ")": -1}.get(definition[end], 0)
            end += 1
            if depth == 0:
                break
        clause = definition[found.start() : end]
        clauses[" ".join(clause.split())] = clause
    return clauses


def _same_values(
    cursor, table: str, old_types: list, new_types: list, text_only: frozenset[str] = frozenset()
) -> bool:
    """Whether a copy of `table`'s rows into columns of `new_types` would store what is stored:
    the same affinity, or text affinity over a column holding only text and NULL (known so, in
    `text_only`, or found so).

    A value that is not text or NULL is found by comparison (NOT_TEXT), not typeof(): over a
    million metric values 0.11 s against 0.16 s."""
    for (name, old), (_name, new) in zip(old_types, new_types, strict=True):
        if old == new:
            continue
        if new != "TEXT":
            return False
        if name in text_only:
            continue
        column = '"' + name.replace('"', '""') + '"'
        found = " OR ".join(term.format(column) for term in NOT_TEXT.values())
        cursor.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}" WHERE {found})')  # noqa: S608 - names from sqlite_schema
        if cursor.fetchone()[0]:
            return False
    return True


def _storage(
    cursor, table: str
) -> tuple[tuple, list[tuple[str, str]], dict[str, str | None], set[str]]:
    """What SQLite stores of `table`'s definition: its columns, the table's kind (rowid or not,
    strict or not, AUTOINCREMENT) and the indexes of its primary key and UNIQUE constraints,
    their names left out; and apart, each column's type affinity and its default, by name, and
    the columns declared NOT NULL. The indexes made by CREATE INDEX are not part of the table's
    definition (`_created_indexes`)."""
    quoted = f'"{table}"'

    def rows(sql: str, params=()) -> list[tuple]:
        return cursor.execute(sql, params).fetchall()

    described = rows(f"PRAGMA table_xinfo({quoted})")
    columns = [(cid, name, pk, hidden) for cid, name, _type, _nn, _default, pk, hidden in described]
    defaults = {name: default for _cid, name, _type, _nn, default, *_rest in described}
    types = [(name, column_affinity(declared)) for _cid, name, declared, *_rest in described]
    not_null = {name for _cid, name, _type, notnull, *_rest in described if notnull}
    kind = [row[2:] for row in rows(f"PRAGMA table_list({quoted})")]
    ((sql,),) = rows("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = %s", [table])
    indexes = sorted(
        (unique, origin, partial, tuple(rows(f'PRAGMA index_xinfo("{name}")')))
        for _seq, name, unique, origin, partial in rows(f"PRAGMA index_list({quoted})")
        if origin != "c"
    )
    return (columns, kind, "AUTOINCREMENT" in sql.upper(), indexes), types, defaults, not_null


# Defaults that SQLite's ALTER TABLE ADD COLUMN refuses (CURRENT_TIMESTAMP included).
ADDED_NEVER = ("CURRENT_TIME", "CURRENT_DATE", "(")


def _read_otherwise(old: dict[str, str | None], new: dict[str, str | None]) -> bool:
    """Whether a row could read another value under the new defaults. A row written before
    `ALTER TABLE ADD COLUMN` is shorter than the table and reads the added column's default
    from the definition; SQLite adds no column whose default is the time or an expression, so
    such a default is never read in place of a stored value."""
    return any(
        default != new[name]
        for name, default in old.items()
        if not (default or "").upper().startswith(ADDED_NEVER)
    )


def _names_table(statement, table: str, quote) -> bool:
    """Whether a deferred statement (Django's Statement, or SQL text) refers to `table`."""
    if hasattr(statement, "references_table"):
        return statement.references_table(table)
    return quote(table) in str(statement)


def _created_indexes(cursor, table: str) -> list[str]:
    """The statements of `table`'s indexes made by CREATE INDEX, as sqlite_schema keeps them."""
    cursor.execute(
        "SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
        [table],
    )
    return sorted(row[0] for row in cursor.fetchall())


# legacy_repairs.reason of the rows naming a column that a migration added (0004 reads them).
COLUMN_ADDED = "column added"


class ColumnsAddedRecord(migrations.RunPython):
    """The RunPython of `columns_added_record`, known by its class: a migration holding one
    names every column it adds in legacy_repairs, so a column of it with no such row is one the
    file already had when it was adopted (going back must not drop what it holds)."""


def columns_added_record(app_label: str, migration: str, operations) -> migrations.RunPython:
    """A step naming, in legacy_repairs, the columns that `operations` add, so that goals.0004
    can tell them from columns a file already had (a script-migrated file adopted at 0003)."""

    def record(apps, schema_editor) -> None:
        repairs = apps.get_model("goals", "LegacyRepair")
        rows = []
        for operation in fields_added(operations):
            model = apps.get_model(app_label, operation.model_name)
            column = model._meta.get_field(operation.name).column
            rows.append(
                repairs(
                    table_name=model._meta.db_table,
                    row_id="",
                    column_name=column,
                    reason=COLUMN_ADDED,
                    migration=migration,
                )
            )
        repairs.objects.using(schema_editor.connection.alias).bulk_create(rows)

    # Going back, the columns and legacy_repairs are dropped with these rows.
    return ColumnsAddedRecord(record, migrations.RunPython.noop)
