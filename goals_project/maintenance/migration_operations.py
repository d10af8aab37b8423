"""Migration operations shared by both apps."""

from __future__ import annotations

from django.db import migrations
from django.db.migrations.operations.base import Operation


class AlterTableInOnePass(Operation):
    """Several alterations of one model, applied with a single table rebuild on SQLite.

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

    def deconstruct(self):
        return (
            self.__class__.__name__,
            [],
            {"model_name": self.model_name, "operations": self.operations},
        )

    def state_forwards(self, app_label, state) -> None:
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
        schema_editor._remake_table(model)  # Django's own SQLite rebuild, into `state`'s shape

    def _steps(self, app_label, start_state):
        steps = []
        state = start_state
        for operation in self.operations:
            after = state.clone()
            operation.state_forwards(app_label, after)
            steps.append((operation, state, after))
            state = after
        return steps


# legacy_repairs.reason of the rows naming a column that a migration added (0004 reads them).
COLUMN_ADDED = "column added"


def columns_added_record(app_label: str, migration: str, operations) -> migrations.RunPython:
    """A step naming, in legacy_repairs, the columns that `operations` add, so that goals.0004
    can tell them from columns a file already had (a script-migrated file adopted at 0003)."""

    def record(apps, schema_editor) -> None:
        repairs = apps.get_model("goals", "LegacyRepair")
        rows = []
        for operation in operations:
            if isinstance(operation, migrations.AddField):
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
    return migrations.RunPython(record, migrations.RunPython.noop)
