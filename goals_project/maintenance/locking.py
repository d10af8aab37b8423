"""One maintenance job at a time per database: `migrate` and `restore_db` take this lock.

Two of them at once would interleave table rebuilds, or swap a file under a running migration.
The second one stops at once with a message naming the first, instead of waiting or mixing.

- SQLite: an exclusive `flock` on `<database>.maintenance.lock` beside the file, the real one:
  symlinks are resolved first, so every name of one file leads to one lock. The lock file holds
  who took the lock, for the message; it is left in place, because deleting a lock file races
  with the next process opening it.
- PostgreSQL: a session-level advisory lock on a connection of its own, scoped to the database.

Either way the operating system or the server releases the lock when the holder dies, so a killed
job never leaves the database locked.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS, connections

from goals_project.bases.exit_codes import Exit
from goals_project.maintenance.legacy.inspection import is_file_database

EXIT_BUSY = Exit.BUSY
# "FRACTAL" in ASCII: the advisory lock key, shared by every maintenance job of a database.
ADVISORY_KEY = 0x4652414354414C


class MaintenanceBusy(Exception):
    """Another maintenance job holds the database, or its lock cannot be made; the value of
    `code` is the exit status."""

    def __init__(self, message: str, code: Exit = EXIT_BUSY) -> None:
        super().__init__(message)
        self.code = code


def lock_path(database: Path) -> Path:
    return database.with_name(f"{database.name}.maintenance.lock")


def database_file(using: str = DEFAULT_DB_ALIAS) -> Path | None:
    """The SQLite file of `using` with symlinks resolved, so every name of one file gets one
    lock and one set of backups, and a restore writes into the file itself rather than over a
    link; None for an in-memory SQLite database or another engine."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return None
    name = connection.settings_dict["NAME"]
    if not is_file_database(name):
        return None
    return Path(os.path.realpath(name))


@contextlib.contextmanager
def maintenance_lock(*, operation: str, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Hold the database's maintenance lock while inside; raise MaintenanceBusy if taken."""
    connection = connections[using]
    if connection.vendor == "sqlite":
        database = database_file(using)
        if database is None:
            yield  # in memory: no other process can reach it
            return
        with _file_lock(database, operation):
            yield
    elif connection.vendor == "postgresql":
        with _advisory_lock(using, operation):
            yield
    else:
        yield


@contextlib.contextmanager
def _file_lock(database: Path, operation: str) -> Iterator[None]:
    path = lock_path(database)
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise MaintenanceBusy(
            f"Cannot create the lock file {path} ({error.strerror}): {operation} writes beside "
            "the database, so its folder must exist and be writable. Nothing was changed.",
            Exit.USAGE if isinstance(error, FileNotFoundError) else Exit.READ_ONLY,
        ) from error
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise MaintenanceBusy(
                f"{database} is busy: {_holder(descriptor)} is running on it. Wait for it to "
                f"finish, then run {operation} again; nothing was changed."
            ) from error
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, _stamp(operation).encode(), 0)
        yield
    finally:
        os.close(descriptor)  # closing releases the flock


def _stamp(operation: str) -> str:
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return json.dumps({"operation": operation, "pid": os.getpid(), "started": started})


def _holder(descriptor: int) -> str:
    """Who holds the lock, from what it wrote into the lock file."""
    try:
        found = json.loads(os.pread(descriptor, 4096, 0).decode() or "{}")
        return f"{found['operation']} (pid {found['pid']}, since {found['started']})"
    except (ValueError, KeyError, UnicodeDecodeError):
        return "another migrate or restore_db"


@contextlib.contextmanager
def _advisory_lock(using: str, operation: str) -> Iterator[None]:
    wrapper = connections[using]
    # A connection of its own: the job's connection is closed and reopened along the way.
    holder = wrapper.get_new_connection(wrapper.get_connection_params())
    try:
        holder.autocommit = True
        with holder.cursor() as cursor:
            cursor.execute("SET application_name = %s", [f"fractal-goals {operation}"])
            cursor.execute(
                "SELECT pg_try_advisory_lock(%s), "
                "(SELECT application_name || ' pid ' || pid FROM pg_stat_activity "
                " WHERE pid = (SELECT pid FROM pg_locks WHERE locktype = 'advisory' "
                "  AND granted AND database = (SELECT oid FROM pg_database "
                "  WHERE datname = current_database()) AND objid = %s LIMIT 1))",
                [ADVISORY_KEY, ADVISORY_KEY & 0xFFFFFFFF],
            )
            taken, holder_name = cursor.fetchone()
            if not taken:
                raise MaintenanceBusy(
                    f"Database {wrapper.settings_dict['NAME']} is busy: another migrate or "
                    f"restore_db is running on it ({holder_name or 'advisory lock held'}). Wait "
                    f"for it to finish, then run {operation} again; nothing was changed."
                )
        yield
    finally:
        holder.close()
