"""Database settings for the length of a bulk job (`migrate`), and what to do after one."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sqlite3
import threading
from collections.abc import Iterator

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.signals import connection_created

# Table rebuilds over a million rows thrash SQLite's default 2 MB page cache: their inserts into
# the new primary key come in random order. 32 MB keeps migrate under 200 MB.
BULK_CACHE_KIB = 32768
# Sorts are the other way round. SQLite's sorter sorts in runs as large as the page cache, each
# as a list in memory, then merges the runs. A run of 32 MB leaves the CPU's caches at every
# step; runs of SQLite's default 2 MB do not. With 32 MB the four indexes of a million metric
# values took 2.7 to 3.5 s, with 2 MB 1.7 to 2.1 s (and 1.4 s with a worker thread, below); the
# GROUP BY of half a million values whose metric definition is gone (the backfill's
# placeholders) 1.4 to 1.6 s against 0.8 to 1.3 s. So each statement that sorts many rows
# and writes few runs with this cache, the rest with the large one: CREATE INDEX, and an INSERT
# of one row per group of a GROUP BY.
SORT_CACHE_KIB = 2000
# SQLite's sorter can sort runs on worker threads while it reads the next: as many as there are
# cores (up to 4), none on one core. At 1m, with two cores, two threads build the four indexes
# in 1.33 s, one in 1.5 s.
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
SORT_THREADS = min(4, _CORES or 1) if (_CORES or 1) > 1 else 0
SORTING = re.compile(
    r"\s*(CREATE\s+(UNIQUE\s+)?INDEX\b|INSERT\b.*\bGROUP\s+BY\b)", re.IGNORECASE | re.DOTALL
)


# The settings a bulk job gives a SQLite connection; afterwards they return to SQLite's defaults.
BULK_PRAGMAS = {
    "cache_size": f"-{BULK_CACHE_KIB}",
    # The temporary tables the backfill builds (a goal's top, its fractal) have a cache of
    # their own, SQLite's 2 MB unless set, which they outgrow: each lookup into them read its
    # page from the temporary file again (121,000 reads for the goal tree at a million metric
    # values, 8,700 with this).
    "temp.cache_size": f"-{BULK_CACHE_KIB}",
    # Debian's SQLite zeroes every page it frees (secure_delete on): a table rebuild then writes
    # the old table's pages once more, through the journal, to drop it (0.6 s for a million
    # metric values). The pages a rebuild frees hold copies of rows the new table keeps, so FAST
    # (zero freed cells only where that costs no extra write) protects as much here.
    "secure_delete": "FAST",
    "threads": SORT_THREADS,
}


@contextlib.contextmanager
def sqlite_bulk_cache(*, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """While inside, every SQLite connection of `using` gets the settings of BULK_PRAGMAS: a
    page cache large enough for table rebuilds, freed pages left as they are, worker threads for
    sorting (adoption reopens its connection, so the open one is not enough). Each statement of
    SORTING sent through Django runs with the page cache of SORT_CACHE_KIB, which sorts faster.

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
        with connection.execute_wrapper(_sorts_with_small_cache):
            yield
    finally:
        connection_created.disconnect(tune)
        if connection.connection is not None:
            with connection.cursor() as cursor:
                for pragma, value in _sqlite_defaults().items():
                    cursor.execute(f"PRAGMA {pragma} = {value}")


def _sorts_with_small_cache(execute, sql, params, many, context):
    """An execute wrapper: a statement of SORTING runs with SORT_CACHE_KIB of page cache, and
    the cache is set back to what it was after it, whatever the outcome."""
    if many or not SORTING.match(sql):
        return execute(sql, params, many, context)
    sqlite = context["connection"].connection
    before = sqlite.execute("PRAGMA cache_size").fetchone()[0]
    sqlite.execute(f"PRAGMA cache_size = -{SORT_CACHE_KIB}")
    try:
        return execute(sql, params, many, context)
    finally:
        sqlite.execute(f"PRAGMA cache_size = {before}")


def _sqlite_defaults() -> dict[str, object]:
    """The values of BULK_PRAGMAS a new connection has (this SQLite's build decides them)."""
    with contextlib.closing(sqlite3.connect(":memory:")) as fresh:
        return {pragma: fresh.execute(f"PRAGMA {pragma}").fetchone()[0] for pragma in BULK_PRAGMAS}


# How often the pages written to the file are put on the disk meanwhile (sqlite_writeback).
WRITEBACK_SECONDS = 0.25
_OPEN_FILES = "/proc/self/fd"


class WritebackFailed(OSError):
    """An fdatasync of sqlite_writeback's failed: pages written to the file may not be on the
    disk (its errno and message are the system's)."""


@contextlib.contextmanager
def sqlite_writeback(*, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """While inside, a thread puts the pages written to the SQLite file behind `using` on the
    disk every WRITEBACK_SECONDS (fdatasync), so that a commit after the block waits for the
    last ones only. Leaving the block stops the thread; when one of its fdatasync calls failed
    (a disk error, a full disk), leaving it raises WritebackFailed, so that the caller does not
    commit: the kernel reports a failed write back once per open file, and it was reported to
    the thread, not to SQLite's own fsync to come. The caller keeps its commit out of the block.

    A commit is durable once SQLite's fsync of the file returns, and that fsync writes every
    page written since the last one. Linux writes dirty pages back on its own only after 30 s,
    or past a tenth of the memory: migrate writes 700 MB at a million metric values in 16 s,
    so its commit waited 1.3 to 2.0 s for the disk while the processor idled. Put on the disk
    meanwhile, the pages are written while migrate computes, and the commit took 0.1 s.

    Nothing SQLite relies on changes: it writes a page of the file only once the journal holding
    the page's old content is on the disk, so a page put there early is one the kernel could
    have written back itself at any moment. The descriptors are SQLite's own, found in
    /proc/self/fd: none is opened or closed here, since closing one would release the POSIX
    locks SQLite holds on the file (they belong to the process, not to a descriptor). Without
    /proc/self/fd (not Linux) nothing is done."""
    connection = connections[using]
    if connection.vendor != "sqlite" or not os.path.isdir(_OPEN_FILES):
        yield
        return
    target = os.path.realpath(connection.settings_dict["NAME"])
    stop, failed = threading.Event(), []
    thread = threading.Thread(
        target=_write_back, args=(target, stop, failed), name="sqlite-writeback", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        last_pages_written(stop, thread)
    if failed:
        error = failed[0]
        raise WritebackFailed(error.errno, error.strerror, target) from error


def last_pages_written(stop: threading.Event, thread: threading.Thread) -> None:
    """Stop sqlite_writeback's thread, once the fdatasync it may be in has returned: the wait
    for the pages it is putting on the disk, which the commit would wait for otherwise."""
    stop.set()
    thread.join()


def _write_back(target: str, stop: threading.Event, failed: list[OSError]) -> None:
    """sqlite_writeback's thread: until `stop`, every WRITEBACK_SECONDS, fdatasync of one
    descriptor this process holds open on the file `target` (one is enough: the pages are the
    file's). A descriptor closed or given to something else meanwhile is skipped; any other
    error goes into `failed` and ends the thread."""
    while not stop.wait(WRITEBACK_SECONDS):
        for descriptor in open_descriptors(target):
            try:
                os.fdatasync(descriptor)
            except OSError as error:
                if error.errno in (errno.EBADF, errno.EINVAL):
                    continue
                failed.append(error)
                return
            break


def open_descriptors(target: str) -> list[int]:
    """The descriptors this process holds open on the file at the real path `target`."""
    found = []
    with contextlib.suppress(OSError):
        for name in os.listdir(_OPEN_FILES):
            with contextlib.suppress(OSError):
                if os.readlink(f"{_OPEN_FILES}/{name}") == target:
                    found.append(int(name))
    return found


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
