"""Writing rows that break the root rule, which the database otherwise refuses (goals.roots).

For tests of what `verify_root_ids` reports on a database whose enforcement is gone (a copy made
by another tool, a constraint dropped by hand): inside the block the enforcement is suspended,
and on leaving it everything written there, the suspension included, is rolled back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connection, transaction

from goals.roots import ROOT_TABLES
from goals_project.maintenance.verification import expected_enforcement


@contextlib.contextmanager
def root_enforcement_suspended() -> Iterator[None]:
    sqlite = connection.vendor == "sqlite"
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if sqlite:
                cursor.execute("PRAGMA defer_foreign_keys = ON")
                cursor.execute("PRAGMA ignore_check_constraints = ON")
            else:
                # Checks still pending from the test's own writes must run before ALTER TABLE.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                for table in ROOT_TABLES:
                    for constraint in reversed(expected_enforcement(table)):
                        cursor.execute(
                            f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS '
                            f'"{constraint.name}" CASCADE'
                        )
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            try:
                yield
            finally:
                transaction.set_rollback(True)
    finally:
        if sqlite:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA ignore_check_constraints = OFF")
                cursor.execute("PRAGMA defer_foreign_keys = OFF")
