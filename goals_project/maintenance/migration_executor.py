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
from django.db.models import CheckConstraint
from django.db.transaction import TransactionManagementError

from goals_project.bases.foreign_keys import foreign_keys_check
from goals_project.maintenance.migration_operations import (
    AddFields,
    AddIndexes,
    AlterTableInOnePass,
    added_null,
    each_operation,
)
from goals_project.maintenance.verification import root_id_report, root_rule_tables, roots_broken

# Operations that change neither a row nor a foreign key declaration.
INDEX_OPERATIONS = (AddIndex, AddIndexes, RemoveIndex, RenameIndex)
# Operations that change one model's table and no row of another.
TABLE_OPERATIONS = (AlterTableInOnePass, AddField)


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
    for operation in each_operation(migration.operations):
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
        if isinstance(operation, AddFields) or (
            isinstance(operation, AddField) and added_null(operation.field)
        ):
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


# The attribute of a connection inside held_transaction: the migrations applied since.
_HELD = "fractal_applied_while_held"


@contextlib.contextmanager
def held_transaction(connection) -> Iterator[None]:
    """While inside, the connection is in a transaction that holds the database's write lock
    from its start (migrate's one transaction on SQLite), so that no other connection writes
    to it: the migrations RecordingExecutor applies meanwhile are noted (applied_while_held)."""
    setattr(connection, _HELD, set())
    try:
        yield
    finally:
        delattr(connection, _HELD)


def applied_while_held(connection) -> frozenset[str]:
    """The migrations ("app.name") applied inside the held_transaction the connection is in,
    none outside one. A column such a migration added holds what this run wrote there and
    nothing else: no other program could write to the database since."""
    return frozenset(getattr(connection, _HELD, ()))


class RecordingExecutor(MigrationExecutor):
    # Called after each migration applied (recording_executor's `between`).
    between: Callable[[], None] | None = None

    def apply_migration(self, state, migration, fake=False, fake_initial=False):
        try:
            state = self._apply_migration(state, migration, fake, fake_initial)
        except DatabaseError as error:
            _tag(error, migration, backwards=False)
            raise
        held = getattr(self.connection, _HELD, None)
        if held is not None and not fake:
            held.add(f"{migration.app_label}.{migration.name}")
        if self.between is not None:
            self.between()
        return state

    def unapply_migration(self, state, migration, fake=False):
        try:
            return super().unapply_migration(state, migration, fake)
        except DatabaseError as error:
            _tag(error, migration, backwards=True)
            raise

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
        except TransactionManagementError as error:
            # SQLite rolls a whole transaction back on some errors (a full disk), and Django's
            # schema editor, leaving, runs a statement inside it: that statement's error would
            # replace the one that stopped the migration, which migrate's refusal names.
            stopped = error.__context__
            while isinstance(stopped, TransactionManagementError):
                stopped = stopped.__context__
            if isinstance(stopped, DatabaseError):
                raise stopped from stopped.__cause__  # the error SQLite named
            raise
        finally:
            # Inside migrate's one transaction it can do nothing, and after SQLite rolled that
            # transaction back (a full disk) it would raise in place of the real error.
            if sqlite and not connection.in_atomic_block:
                connection.enable_constraint_checking()


def _tag(error: DatabaseError, migration, *, backwards: bool) -> None:
    """Mark `error` with the migration it stopped and the direction, for migrate's refusal
    (`migrate_service._migration_failed`)."""
    error.failed_migration = f"{migration.app_label}.{migration.name}"
    error.failed_backwards = backwards


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
