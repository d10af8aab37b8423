"""A migration executor that records each atomic migration in the transaction that applies it,
and on SQLite checks foreign keys only where the migration could have broken one.

Django records a migration after its schema editor has committed whenever deferred SQL (indexes,
foreign keys) ran at the editor's exit. A crash between that commit and the record leaves a
migration applied but not recorded, and the next `migrate` fails on "table already exists".
Found by killing `migrate` at every step (tests/reliability); one transaction closes the window.

SQLite's schema editor turns foreign keys off while it works and, at its exit, runs `PRAGMA
foreign_key_check` over the whole database: a second or more at a million metric values, after
every migration, including those that only build indexes. `foreign_key_check_scope` names the
tables a migration changes, and the check covers those and the tables whose foreign keys point to
them (a parent's changed definition can break a child's key: "foreign key mismatch").

The constraints of the root rule are also its check: a migration that adds them and finds a row
they refuse is rolled back, and the rows that break the rule are listed (exit 19). Checking the
rows first as well would read the biggest tables once more (2 s at a million metric values).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from django.core.management.commands import migrate as django_migrate
from django.db import DatabaseError, IntegrityError, transaction
from django.db.migrations import (
    AddConstraint,
    AddField,
    AddIndex,
    CreateModel,
    RemoveIndex,
    RenameIndex,
    RunPython,
)
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.state import ProjectState
from django.db.models import NOT_PROVIDED, CheckConstraint

from goals_project.maintenance.migration_operations import (
    AddIndexes,
    AlterTableInOnePass,
    column_affinity,
)
from goals_project.maintenance.verification import root_id_report, root_rule_tables, roots_broken

# Operations that change neither a row nor a foreign key declaration.
INDEX_OPERATIONS = (AddIndex, AddIndexes, RemoveIndex, RenameIndex)
# Operations that change one model's table and no row of another.
TABLE_OPERATIONS = (AlterTableInOnePass, AddField)


def _added_null(field) -> bool:
    """Whether `field` is added NULL in every row: nullable, not unique, without a default.
    Django's SQLite schema editor adds such a column with ALTER TABLE ADD COLUMN (a rebuild
    where the field's effective default is set at save, as with `auto_now`, which copies every
    other column as it was): a key in it holds for every row, and no other key changes."""
    return (
        field.null
        and not (field.primary_key or field.unique or field.many_to_many)
        and not field.has_default()
        and field.db_default is NOT_PROVIDED
    )


def reads_only(function):
    """Mark the code of a RunPython operation as changing no row, so that no foreign key is
    checked for it (a check before any change, such as goals.0005's)."""
    function.reads_only = True
    return function


def foreign_key_check_scope(migration, state: ProjectState | None = None) -> list[str] | None:
    """The tables `migration` changes, whose foreign keys it can have broken (those pointing to
    them are added at the check): none for index builds, proxy or unmanaged models, code
    marked `reads_only`, a column added NULL in every row and CHECK constraints added (a row
    one refuses stops the migration); the new (empty) table of a model it creates; the table of
    a model whose definition it otherwise alters or adds a column to (the models of `state`,
    the project before the migration); and None (every table) for anything else, such as data
    migrations."""
    tables: list[str] = []
    for operation in migration.operations:
        if isinstance(operation, INDEX_OPERATIONS):
            continue
        if isinstance(operation, RunPython) and getattr(operation.code, "reads_only", False):
            continue
        if isinstance(operation, CreateModel):
            options = operation.options
            if options.get("proxy") or options.get("managed") is False:
                continue
            if "db_table" not in options:
                return None
            tables.append(options["db_table"])
            continue
        if isinstance(operation, AddField) and _added_null(operation.field):
            continue
        if (
            isinstance(operation, AlterTableInOnePass)
            and operation.operations
            and all(
                isinstance(inner, AddConstraint) and isinstance(inner.constraint, CheckConstraint)
                for inner in operation.operations
            )
        ):  # a row refused by the CHECK stops the migration; no key or unique index changes
            continue
        if isinstance(operation, TABLE_OPERATIONS) and state is not None:
            model = state.models.get((migration.app_label, operation.model_name.lower()))
            if model is None or "db_table" not in model.options:
                return None
            tables.append(model.options["db_table"])
            continue
        return None
    return sorted(set(tables))


class RecordingExecutor(MigrationExecutor):
    # Called after each migration applied (recording_executor's `between`).
    between: Callable[[], None] | None = None

    def apply_migration(self, state, migration, fake=False, fake_initial=False):
        state = self._apply_migration(state, migration, fake, fake_initial)
        if self.between is not None:
            self.between()
        return state

    def _apply_migration(self, state, migration, fake, fake_initial):
        connection = self.connection
        if fake or not migration.atomic or not connection.features.can_rollback_ddl:
            return super().apply_migration(state, migration, fake, fake_initial)
        sqlite = connection.vendor == "sqlite"
        # SQLite's schema editor needs foreign keys off, which only works outside a transaction.
        if sqlite and not connection.disable_constraint_checking():
            return super().apply_migration(state, migration, fake, fake_initial)
        try:
            with (
                transaction.atomic(using=connection.alias),
                _checking_only(self, migration, state),
            ):
                return super().apply_migration(state, migration, fake, fake_initial)
        except IntegrityError as error:
            _refused_for_the_root_rule(connection, migration, error)
            raise
        finally:
            # Inside migrate's one transaction it can do nothing, and after SQLite rolled that
            # transaction back (a full disk) it would raise in place of the real error.
            if sqlite and not connection.in_atomic_block:
                connection.enable_constraint_checking()


def _refused_for_the_root_rule(connection, migration, error: IntegrityError) -> None:
    """The constraints of the root rule are its check on migrate: when `migration`, rolled
    back, was refused a row, raise the rows of the tables it enforces the rule on that break
    it, if any (a refusal for another rule keeps its own error)."""
    tables = root_rule_tables(migration)
    if not tables:
        return
    report = root_id_report(using=connection.alias, data_only=True, only=tables)
    if not report.ok:
        raise roots_broken(report, migration=str(migration), refused=str(error)) from error


@contextlib.contextmanager
def _checking_only(executor: MigrationExecutor, migration, state: ProjectState) -> Iterator[None]:
    """While inside, the SQLite schema editor's exit checks the foreign keys of the migration's
    scope only, and what the check raises is raised once the editor has left its atomic block,
    before the migration is reported applied. Django's raises before, which leaves the
    connection inside that block for good; after a failed step (a row refused by a CHECK in a
    table's copy) it checks the half-built tables, and its error ("foreign key mismatch") would
    replace the step's own; and it names a composite key's first column only, whatever column
    is wrong. No migration calls check_constraints itself: only the editor's exit does."""
    connection = executor.connection
    if connection.vendor != "sqlite":
        yield
        return
    scope = foreign_key_check_scope(migration, state)
    refused: list[DatabaseError] = []

    def check_constraints(table_names=None) -> None:
        try:
            if scope is None:
                foreign_keys_check(connection, table_names)
            else:
                foreign_keys_check(connection, with_referencing_tables(connection, scope))
        except DatabaseError as error:
            refused.append(error)

    report = executor.progress_callback

    def progress(action, *args) -> None:
        if refused:  # the editor has left its atomic block: stop before "OK"
            raise refused[0]
        if report:
            report(action, *args)

    connection.check_constraints = check_constraints
    executor.progress_callback = progress
    try:
        yield
    finally:
        del connection.check_constraints
        executor.progress_callback = report
    if refused:  # reached only when the migration itself raised nothing
        raise refused[0]


def with_referencing_tables(connection, tables: list[str]) -> list[str]:
    """SQLite: `tables` and every table with a foreign key to one of them, in table order."""
    if not tables:
        return []
    quote = connection.ops.quote_name
    wanted = {table.lower() for table in tables}
    with connection.cursor() as cursor:
        names = connection.introspection.table_names(cursor)
        found = []
        for name in names:
            cursor.execute(f"PRAGMA foreign_key_list({quote(name)})")
            if name.lower() in wanted or any(row[2].lower() in wanted for row in cursor.fetchall()):
                found.append(name)
    return found


def foreign_keys_check(connection, table_names: list[str] | None) -> None:
    """SQLite: raise an IntegrityError naming the first row whose foreign key points nowhere,
    with every column of the key (PRAGMA foreign_key_check), in `table_names` or everywhere.

    A table whose keys `violation_probe` can read is first searched by its query; the pragma
    runs on it only to name a row the query found."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if table_names is None:
            table_names = connection.introspection.table_names(cursor)
        violation = None
        for table in table_names:
            probe = violation_probe(connection, cursor, table)
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
        key = connection.introspection.get_primary_key_column(cursor, table)
        columns = ", ".join(quote(column) for column in (key, *(c for c, _ in pairs)))
        cursor.execute(
            f"SELECT {columns} FROM {quote(table)} WHERE rowid = %s",  # noqa: S608 - names from the schema
            [rowid],
        )
        row_id, *values = cursor.fetchone()
    to_columns = ", ".join(t or "its primary key" for _, t in pairs)
    raise IntegrityError(
        f"The row in table '{table}' with primary key '{row_id}' has an invalid foreign "
        f"key: {table}.({', '.join(c for c, _ in pairs)}) contains {tuple(values)!r}, "
        f"which no row of {parent} has in ({to_columns})."
    )


def violation_probe(connection, cursor, table: str) -> str | None:
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
    missing parent, a key the pragma calls a mismatch) is left to the pragma."""
    quote = connection.ops.quote_name
    cursor.execute(f"PRAGMA foreign_key_list({quote(table)})")
    keys: dict[int, tuple[str, list[tuple[str, str | None]]]] = {}
    for key_id, _seq, parent, column, to, *_rest in cursor.fetchall():
        keys.setdefault(key_id, (parent, []))[1].append((column, to))
    if not keys:
        return None
    types = _affinities(cursor, quote, table)
    resolved: dict[int, tuple[str, frozenset[tuple[str, str]]]] = {}
    for key_id, (parent, pairs) in keys.items():
        parent_types = _affinities(cursor, quote, parent)
        if any(to is None for _column, to in pairs):  # the parent's primary key
            primary = _primary_key(cursor, quote, parent)
            if len(primary) != len(pairs) or any(to is not None for _column, to in pairs):
                return None
            pairs = [(column, to) for (column, _none), to in zip(pairs, primary, strict=True)]
        if not parent_types or not _unique_key(cursor, quote, parent, {to for _c, to in pairs}):
            return None
        if any(types.get(column, "?") != parent_types.get(to, "!") for column, to in pairs):
            return None
        resolved[key_id] = (parent, frozenset(pairs))
    broken = []
    for key_id, (parent, pairs) in sorted(resolved.items()):
        ordered = sorted(pairs)
        looked_up = [f"c.{quote(column)} IS NOT NULL" for column, _to in ordered]
        for other_id, (other_parent, wider) in resolved.items():
            if other_id != key_id and other_parent == parent and pairs < wider:
                unset = " OR ".join(f"c.{quote(c)} IS NULL" for c, _to in sorted(wider - pairs))
                looked_up.append(f"({unset})")
        found = " AND ".join(f"p.{quote(to)} = c.{quote(column)}" for column, to in ordered)
        lookup = f"SELECT 1 FROM {quote(parent)} p WHERE {found}"  # noqa: S608 - schema names
        broken.append(f"({' AND '.join(looked_up)} AND NOT EXISTS ({lookup}))")
    return f"SELECT 1 FROM {quote(table)} c WHERE {' OR '.join(broken)} LIMIT 1"  # noqa: S608


def _affinities(cursor, quote, table: str) -> dict[str, str]:
    """`table`'s columns and their affinity; empty for a table that does not exist, and for one
    that declares a collation anywhere (the probe leaves those to the pragma)."""
    cursor.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = %s COLLATE NOCASE", [table]
    )
    row = cursor.fetchone()
    if row is None or "COLLATE" in (row[0] or "").upper():
        return {}
    cursor.execute(f"PRAGMA table_info({quote(table)})")
    described = cursor.fetchall()
    return {name: column_affinity(declared or "") for _cid, name, declared, *_r in described}


def _primary_key(cursor, quote, table: str) -> list[str]:
    cursor.execute(f"PRAGMA table_info({quote(table)})")
    ranked = sorted((pk, name) for _cid, name, _type, _nn, _default, pk in cursor.fetchall() if pk)
    return [name for _pk, name in ranked]


def _unique_key(cursor, quote, table: str, columns: set[str]) -> bool:
    """Whether `columns` are `table`'s INTEGER PRIMARY KEY, or the key columns of a unique,
    whole-table index of binary collation (what the pragma needs of a parent key, and more)."""
    cursor.execute(f"PRAGMA index_list({quote(table)})")
    for _seq, name, unique, _origin, partial in cursor.fetchall():
        if not unique or partial:
            continue
        cursor.execute(f"PRAGMA index_xinfo({quote(name)})")
        described = [row for row in cursor.fetchall() if row[5]]  # key columns
        if (
            {row[2] for row in described} == columns
            and len(described) == len(columns)
            and all((row[4] or "").upper() == "BINARY" for row in described)
        ):
            return True
    cursor.execute(f"PRAGMA table_info({quote(table)})")
    integer_key = [
        (name, declared) for _cid, name, declared, _nn, _d, pk in cursor.fetchall() if pk
    ]
    return (
        len(integer_key) == 1
        and integer_key[0][1].upper() == "INTEGER"
        and {integer_key[0][0]} == columns
    )


@contextlib.contextmanager
def recording_executor(*, between: Callable[[], None] | None = None) -> Iterator[None]:
    """While inside, Django's migrate command applies migrations with RecordingExecutor, which
    calls `between` after each one (what it raises stops the run)."""
    original = django_migrate.MigrationExecutor
    django_migrate.MigrationExecutor = (
        RecordingExecutor
        if between is None
        else type("RecordingExecutor", (RecordingExecutor,), {"between": staticmethod(between)})
    )
    try:
        yield
    finally:
        django_migrate.MigrationExecutor = original
