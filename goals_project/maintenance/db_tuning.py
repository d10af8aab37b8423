"""Database settings for the length of a bulk job (`migrate`), and what to do after one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.signals import connection_created

# Table rebuilds and index builds over a million rows thrash SQLite's default 2 MB page cache.
# 32 MB: SQLite's sorter for CREATE INDEX may use as much again, and migrate stays under 200 MB.
BULK_CACHE_KIB = 32768


@contextlib.contextmanager
def sqlite_bulk_cache(*, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """While inside, every SQLite connection of `using` gets a page cache large enough for table
    rebuilds and index builds (adoption reopens its connection, so the open one is not enough).

    Durability is unchanged: the journal and synchronous settings stay as they are.
    """
    connection = connections[using]
    if connection.vendor != "sqlite":
        yield
        return

    def tune(sender, connection, **kwargs) -> None:
        if connection.alias == using:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")

    connection_created.connect(tune, weak=False)
    try:
        if connection.connection is not None:
            tune(None, connection)
        yield
    finally:
        connection_created.disconnect(tune)
        if connection.connection is not None:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA cache_size = -2000")  # SQLite's default


def planner_statistics_refresh(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """PostgreSQL, after migrations rewrote rows: VACUUM ANALYZE, so the first queries plan with
    statistics of the new columns and indexes, and the backfill's dead row versions are reclaimed
    now rather than whenever autovacuum gets there. SQLite plans well without statistics.

    VACUUM cannot run inside a transaction; inside one (a caller's atomic block) only ANALYZE.
    """
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE")
