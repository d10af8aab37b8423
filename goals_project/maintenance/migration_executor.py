"""A migration executor that records each atomic migration in the transaction that applies it.

Django records a migration after its schema editor has committed whenever deferred SQL (indexes,
foreign keys) ran at the editor's exit. A crash between that commit and the record leaves a
migration applied but not recorded, and the next `migrate` fails on "table already exists".
Found by killing `migrate` at every step (tests/reliability); one transaction closes the window.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.core.management.commands import migrate as django_migrate
from django.db import transaction
from django.db.migrations.executor import MigrationExecutor


class RecordingExecutor(MigrationExecutor):
    def apply_migration(self, state, migration, fake=False, fake_initial=False):
        connection = self.connection
        if fake or not migration.atomic or not connection.features.can_rollback_ddl:
            return super().apply_migration(state, migration, fake, fake_initial)
        sqlite = connection.vendor == "sqlite"
        # SQLite's schema editor needs foreign keys off, which only works outside a transaction.
        if sqlite and not connection.disable_constraint_checking():
            return super().apply_migration(state, migration, fake, fake_initial)
        try:
            with transaction.atomic(using=connection.alias):
                return super().apply_migration(state, migration, fake, fake_initial)
        finally:
            if sqlite:
                connection.enable_constraint_checking()


@contextlib.contextmanager
def recording_executor() -> Iterator[None]:
    """While inside, Django's migrate command applies migrations with RecordingExecutor."""
    original = django_migrate.MigrationExecutor
    django_migrate.MigrationExecutor = RecordingExecutor
    try:
        yield
    finally:
        django_migrate.MigrationExecutor = original
