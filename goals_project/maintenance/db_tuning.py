"""Database settings for the length of a bulk job (`migrate`), and what to do after one."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.signals import connection_created

# Table rebuilds and index builds over a million rows thrash SQLite's default 2 MB page cache.
# 32 MB: SQLite's sorter for CREATE INDEX may use as much again, and migrate stays under 200 MB.
BULK_CACHE_KIB = 32768


# The settings a bulk job gives a SQLite connection; afterwards they return to SQLite's defaults.
BULK_PRAGMAS = {
    "cache_size": f"-{BULK_CACHE_KIB}",
    # Debian's SQLite zeroes every page it frees (secure_delete on): a table rebuild then writes
    # the old table's pages once more, through the journal, to drop it (0.6 s for a million
    # metric values). The pages a rebuild frees hold copies of rows the new table keeps, so FAST
    # (zero freed cells only where that costs no extra write) protects as much here.
    "secure_delete": "FAST",
}


@contextlib.contextmanager
def sqlite_bulk_cache(*, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """While inside, every SQLite connection of `using` gets the settings of BULK_PRAGMAS: a
    page cache large enough for table rebuilds and index builds, and freed pages left as they
    are (adoption reopens its connection, so the open one is not enough).

    Durability is unchanged: the journal and synchronous settings stay as they are.
    """
    connection = connections[using]
    if connection.vendor != "sqlite":
        yield
        return

    def tune(sender, connection, **kwargs) -> None:
        if connection.alias == using:
            with connection.cursor() as cursor:
                for pragma, value in BULK_PRAGMAS.items():
                    cursor.execute(f"PRAGMA {pragma} = {value}")

    connection_created.connect(tune, weak=False)
    try:
        if connection.connection is not None:
            tune(None, connection)
        yield
    finally:
        connection_created.disconnect(tune)
        if connection.connection is not None:
            with connection.cursor() as cursor:
                for pragma, value in _sqlite_defaults().items():
                    cursor.execute(f"PRAGMA {pragma} = {value}")


def _sqlite_defaults() -> dict[str, object]:
    """The values of BULK_PRAGMAS a new connection has (this SQLite's build decides them)."""
    with contextlib.closing(sqlite3.connect(":memory:")) as fresh:
        return {pragma: fresh.execute(f"PRAGMA {pragma}").fetchone()[0] for pragma in BULK_PRAGMAS}


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
