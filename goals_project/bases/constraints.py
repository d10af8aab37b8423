"""A composite foreign key as a model constraint, so that it lives in the model state.

Django 5.2 has no composite foreign key. Declared in `Meta.constraints`, this one is part of the
table definition that Django's SQLite schema editor writes whenever it rebuilds a table (every
`AlterField` on SQLite re-creates the table from the model state): a constraint added by raw SQL
alone would be dropped silently by the next rebuild. On PostgreSQL it is added and removed with
`ALTER TABLE`, like any other constraint.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS
from django.db.models import BaseConstraint

ON_UPDATE = ("CASCADE", "NO ACTION")


class CompositeForeignKey(BaseConstraint):
    """`FOREIGN KEY (columns) REFERENCES to_table (to_columns) [ON UPDATE CASCADE]`.

    The referenced columns must carry a unique constraint of their own. Checked when the
    transaction commits, like Django's own foreign keys (so that Django's flush and fixture
    loading work): a write that breaks it is refused by the statement in autocommit mode and by the
    commit inside a transaction, on SQLite and PostgreSQL alike. The cascade on update is not
    deferred: it happens with the statement.
    """

    def __init__(
        self,
        *,
        name: str,
        columns: tuple[str, ...],
        to_table: str,
        to_columns: tuple[str, ...],
        on_update: str = "NO ACTION",
        violation_error_code=None,
        violation_error_message=None,
    ) -> None:
        if len(columns) != len(to_columns) or not columns:
            raise ValueError("A composite foreign key names as many columns on both sides.")
        if on_update not in ON_UPDATE:
            raise ValueError(f"on_update must be one of {', '.join(ON_UPDATE)}.")
        super().__init__(
            name=name,
            violation_error_code=violation_error_code,
            violation_error_message=violation_error_message,
        )
        self.columns = tuple(columns)
        self.to_table = to_table
        self.to_columns = tuple(to_columns)
        self.on_update = on_update

    def _body(self, schema_editor) -> str:
        quote = schema_editor.quote_name
        columns = ", ".join(quote(column) for column in self.columns)
        to_columns = ", ".join(quote(column) for column in self.to_columns)
        return (
            f"FOREIGN KEY ({columns}) REFERENCES {quote(self.to_table)} ({to_columns}) "
            f"ON UPDATE {self.on_update} DEFERRABLE INITIALLY DEFERRED"
        )

    def constraint_sql(self, model, schema_editor) -> str:
        return f"CONSTRAINT {schema_editor.quote_name(self.name)} {self._body(schema_editor)}"

    def create_sql(self, model, schema_editor) -> str:
        table = schema_editor.quote_name(model._meta.db_table)
        return f"ALTER TABLE {table} ADD {self.constraint_sql(model, schema_editor)}"

    def remove_sql(self, model, schema_editor) -> str:
        table = schema_editor.quote_name(model._meta.db_table)
        return f"ALTER TABLE {table} DROP CONSTRAINT {schema_editor.quote_name(self.name)}"

    def validate(self, model, instance, exclude=None, using=DEFAULT_DB_ALIAS) -> None:
        """Nothing to check in Python: the columns it spans are derived in `save()` (RootedModel)
        and the database refuses any write that breaks it."""

    def __eq__(self, other) -> bool:
        if isinstance(other, CompositeForeignKey):
            return self.deconstruct() == other.deconstruct()
        return super().__eq__(other)

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__qualname__}: {self.name} {self.columns} -> "
            f"{self.to_table}{self.to_columns} ON UPDATE {self.on_update}>"
        )

    def deconstruct(self):
        path, args, kwargs = super().deconstruct()
        kwargs.update(
            columns=self.columns,
            to_table=self.to_table,
            to_columns=self.to_columns,
            on_update=self.on_update,
        )
        return path, args, kwargs
