"""Verified backups and safe restores of the database, SQLite or PostgreSQL.

A backup is `<db name>.backup_YYYYMMDD_HHMMSS_ffffff` plus a manifest `<backup>.json` beside it
(sha256, size, row counts at the moment of the copy, applied migrations, source, time). A backup
is verified only when its manifest exists and matches the file: the manifest is written last, so
a backup that was interrupted never looks verified. Names are claimed with O_EXCL, so backups
started at the same instant never share one (the later gets `-2`, `-3`, ...), and backups are
ordered by the time in their manifests, never by their names.

An SQLite backup is one self-contained file in rollback-journal mode: a `-wal` or `-journal`
beside it would hold pages its sha256 does not cover, so such a backup is not verified. A
restore copies the backup's bytes once, checks that copy (sha256, integrity_check, row counts)
and writes it into the live database through SQLite's backup API, in one transaction under the
database's write lock: the database file stays the same file, so a process that has it open
sees the restored rows afterwards instead of writing on into a replaced file.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import hashlib
import itertools
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from goals_project.bases.exit_codes import Exit
from goals_project.bases.progress import Step, silent
from goals_project.maintenance.legacy.inspection import (
    SQLITE_HEADER,
    LegacyDbError,
    LegacyDbProblem,
    check_writable,
    refuse_a_link_loop,
    sqlite_file_state,
)
from goals_project.maintenance.locking import database_file
from goals_project.maintenance.threads import on_a_thread_of_its_own

MANIFEST_SUFFIX = ".json"
MANIFEST_VERSION = 1
# Files SQLite reads together with a database: a backup must have none beside it.
SQLITE_COMPANIONS = ("-wal", "-journal")
# Bytes 18 and 19 of an SQLite file: 1 for the rollback journal, 2 for WAL (file format docs).
ROLLBACK_JOURNAL_FORMAT = b"\x01\x01"
# Pages a restore copies per step of SQLite's backup API; the write lock and the transaction are
# held across steps, so this sets only how often the busy check runs.
RESTORE_STEP_PAGES = 1024
# The page cache of each of the two connections that check a copy (_sqlite_check): with SQLite's
# default 2 MB the integrity_check rereads index pages it has just read (1.9 s at a million
# metric values; 1.7 s with 20 MB, the two connections' sum).
CHECK_CACHE_KIB = 10240


class BackupError(Exception):
    """A backup or restore that could not be done; nothing changed. `code` is the exit status."""

    def __init__(self, message: str, code: Exit) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Backup:
    """A backup file and what its manifest says."""

    path: Path
    created_at: str | None = None
    size: int = 0
    sha256: str | None = None
    row_counts: dict[str, int] = field(default_factory=dict)
    migrations: list[str] = field(default_factory=list)
    source: str | None = None
    engine: str | None = None
    verified: bool = False
    problem: str | None = None

    @property
    def manifest_path(self) -> Path:
        return manifest_path(self.path)


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST_SUFFIX)


def backup_dir(*, using: str = DEFAULT_DB_ALIAS, directory: Path | None = None) -> Path:
    """Where backups go: the argument, FRACTAL_BACKUP_DIR, or `backups/` beside the database."""
    if directory is not None:
        return Path(directory)
    configured = getattr(settings, "FRACTAL_BACKUP_DIR", None)
    if configured:
        return Path(configured)
    connection = connections[using]
    if connection.vendor == "sqlite":
        database = database_file(using) or Path(connection.settings_dict["NAME"]).resolve()
        return database.parent / "backups"
    return Path(settings.BASE_DIR) / "var" / "backups"


def database_label(using: str = DEFAULT_DB_ALIAS) -> str:
    """The base of backup names: the SQLite file's real name (a symlink resolved), or the
    PostgreSQL database name, a `/` in it written `%2F` (and a leading `.` as `%2E`), so that
    the backup stays in the backup folder and is listed there."""
    connection = connections[using]
    name = connection.settings_dict["NAME"]
    if connection.vendor != "sqlite":
        safe = name.replace("%", "%25").replace("/", "%2F")
        if safe.startswith("."):
            safe = f"%2E{safe[1:]}"
        return f"{safe}.pgdump"
    return (database_file(using) or Path(name)).name


def _busy_timeout(using: str) -> float:
    """Seconds an SQLite connection of `using` waits for another process's lock."""
    return float(connections[using].settings_dict.get("OPTIONS", {}).get("timeout", 5.0))


# -- creating -----------------------------------------------------------------------------------


def backup_create(**options) -> Backup:
    """Take a consistent backup, verify it, write its manifest; then apply `keep` retention.
    The options are backup_begin's; its `step` is told each step as it starts."""
    return backup_begin(**options).finish()


def backup_begin(
    *,
    using: str = DEFAULT_DB_ALIAS,
    directory: Path | None = None,
    keep: int | None = None,
    min_free_bytes: int | None = None,
    step: Step = silent,
    behind: bool = False,
    meanwhile: bool = False,
) -> PendingBackup:
    """backup_create up to the consistent copy. An SQLite copy's check (integrity_check, row
    counts, sha256) then runs on a thread of its own while the caller goes on: `migrate` adopts
    and migrates the file meanwhile, in a transaction it commits only after `finish()` (which
    waits for the check, then names the copy and writes its manifest). Until then the copy is a
    hidden `.partial` file, never a backup.

    `behind`: the caller has more work than the check, so the check runs its parts one after
    another on that one thread, at the lowest CPU priority, leaving the caller a core (on two
    cores the check's three parallel parts slowed `migrate` by more than they saved).

    `meanwhile` (SQLite in rollback-journal mode only, in_rollback_journal_mode): the copy too
    is taken on a thread of its own, while the caller reads the file (`migrate`'s preflight
    checks), and its read transaction is held open after it, so that no other connection
    commits a write the copy lacks, until the caller holds the write lock and calls `locked()`;
    `copied()` (which `finish()` calls) then waits for the copy and raises what it failed with.
    The caller calls `discard()` instead if it stops before `locked()`."""
    if keep is not None:
        _check_keep(keep)  # before the copy: a bad --keep must not leave a backup behind
    connection = connections[using]
    # A database that is not there, or not SQLite, is refused before the folder is made.
    source = _sqlite_source(using) if connection.vendor == "sqlite" else None
    folder = backup_dir(using=using, directory=directory)
    made = not folder.exists()
    _prepare_folder(folder)
    reserve = min_free_bytes
    if reserve is None:
        reserve = int(getattr(settings, "FRACTAL_BACKUP_MIN_FREE_BYTES", 0))
    pending = PendingBackup(using=using, folder=folder, keep=keep, step=step)
    pending.made_folder = made
    for left in _abandoned_partials_removed(folder, pending.label):
        step(f"removed {left.name}, the partial copy of a backup that was killed")
    with pending.failing():
        pending.partial, pending.claim = _new_claimed_file(
            folder, f".{pending.label}.backup_", PARTIAL_SUFFIX
        )
        announce = f"copying the '{using}' database into {folder}"
        if connection.vendor == "sqlite" and meanwhile:
            pending.source = source
            pending.announce = announce
            pending.held = threading.Event()
            pending.copying = on_a_thread_of_its_own(
                "backup-copy", pending.copy_held, reserve, _busy_timeout(using), behind
            )
        elif connection.vendor == "sqlite":
            step(announce)
            pending.source = source
            pending.copy_held(reserve, _busy_timeout(using), behind)
        elif connection.vendor == "postgresql":
            step(announce)
            _check_space(folder, postgres_dump_size(using), reserve)
            pending.counts = _postgres_dump(using, pending.partial)
            pending.migrations = _applied_migrations(using)
            pending.source = Path(connection.settings_dict["NAME"])
            _fsync_file(pending.partial)
            pending.digest = _sha256(pending.partial)
        else:
            raise BackupError(
                f"Backups of {connection.vendor} databases are not supported.", Exit.USAGE
            )
    return pending


class PendingBackup:
    """A backup whose copy is taken; `finish()` completes it (see backup_begin)."""

    def __init__(self, *, using: str, folder: Path, keep: int | None, step: Step) -> None:
        self.using, self.folder, self.keep, self.step = using, folder, keep, step
        self.engine = connections[using].vendor
        self.label = database_label(using)
        self.taken_at = timezone.now()
        self.partial: Path | None = None
        # An flock on the partial copy while this process may still write or name it: a later
        # backup removes a partial copy nobody holds (its process was killed).
        self.claim: int | None = None
        self.source: Path | None = None
        self.counts: dict[str, int] = {}
        self.migrations: list[str] = []
        self.checking: Future[str] | None = None
        self.digest: str | None = None
        self._outcome: Backup | BackupError | None = None
        # backup_begin(meanwhile=True): the copy on its thread, and what releases its snapshot.
        self.copying: Future[None] | None = None
        self.held: threading.Event | None = None
        self.announce = ""
        self.made_folder = False  # backup_begin made the folder (discard removes it, empty)

    def copy_held(self, reserve: int, timeout: float, behind: bool) -> None:
        """The copy, then its check begun on a thread of its own. Taken meanwhile (on
        backup_begin(meanwhile=True)'s thread), its read transaction is held until `held` is
        set (locked, copied, discard)."""
        with self.failing():
            self.counts, self.migrations = _sqlite_copy(
                self.source,
                self.partial,
                folder=self.folder,
                reserve=reserve,
                timeout=timeout,
                held=self.held,
            )
            self.checking = _check_on_a_thread(self.partial, self.counts, behind=behind)

    @property
    def released(self) -> bool:
        """Whether the caller reached its write lock (`locked`), or the copy was not taken
        meanwhile: from then on the copy is the file as the caller's transaction found it."""
        return self.held is None or self.held.is_set()

    def locked(self) -> None:
        """The caller holds the file's write lock: the copy's snapshot is released once the
        copy is done, while the caller goes on (a page its transaction must write to the file
        meanwhile waits for SQLite's lock, that is for the copy). No-op when not taken meanwhile."""
        if self.held is not None and not self.held.is_set():
            self.held.set()
            self.step(self.announce)

    def copied(self) -> None:
        """Release the copy's snapshot (`locked`), wait for the copy, and raise its BackupError
        if it failed. A no-op after the first call, and for a backup not taken meanwhile."""
        if self.copying is None:
            return
        self.locked()
        copying, self.copying = self.copying, None
        try:
            copying.result()
        except BackupError as error:
            self._outcome = error
            raise

    def discard(self) -> None:
        """The caller stopped before its write lock: the copy is released, waited for and
        removed, never named a backup. Only for a backup taken meanwhile not yet `copied()`."""
        if self.copying is None:
            return
        copying, self.copying = self.copying, None
        self.held.set()
        with contextlib.suppress(BackupError):
            copying.result()
        if self.checking is not None:
            with contextlib.suppress(BackupError):
                self.checking.result()  # it reads the copy removed below
        self._remove_partial()
        if self.made_folder:  # the folder made for it goes too, if nothing else came into it
            with contextlib.suppress(OSError):
                self.folder.rmdir()
        self._outcome = BackupError("The copy was discarded.", Exit.USAGE)

    def _remove_partial(self) -> None:
        if self.partial is not None:
            for suffix in PARTIAL_COMPANIONS:
                self.partial.with_name(self.partial.name + suffix).unlink(missing_ok=True)
        self._release()

    def _release(self) -> None:
        if self.claim is not None:
            os.close(self.claim)
            self.claim = None

    @property
    def finished(self) -> bool:
        return self._outcome is not None

    def finish(self) -> Backup:
        """Wait for the check, then name the copy and write its manifest; raise BackupError,
        with the copy removed, if it failed. Later calls give the same outcome."""
        if self._outcome is None:
            self.copied()
            try:
                self._outcome = self._finish()
            except BackupError as error:
                self._outcome = error
        if isinstance(self._outcome, BackupError):
            raise self._outcome
        return self._outcome

    def raise_if_failed(self) -> None:
        """Raise finish()'s BackupError now if the copy taken meanwhile, or the check, is over
        and failed."""
        copying = self.copying
        if copying is not None and copying.done():
            self.copied()
        checking = self.checking
        if checking is not None and checking.done() and checking.exception() is not None:
            self.finish()

    def _finish(self) -> Backup:
        target = None
        try:
            with self.failing(last=True):
                if self.checking is not None:
                    self.digest = self.checking.result()
                self.step(
                    f"copied and verified {sum(self.counts.values())} rows in "
                    f"{len(self.counts)} tables"
                )
                size = self.partial.stat().st_size
                target = _publish(
                    self.partial,
                    self.folder,
                    f"{self.label}.backup_{self.taken_at:%Y%m%d_%H%M%S_%f}",
                )
            backup = Backup(
                path=target,
                created_at=self.taken_at.isoformat(),
                size=size,
                sha256=self.digest,
                row_counts=self.counts,
                migrations=self.migrations,
                source=str(self.source),
                engine=self.engine,
                verified=True,
            )
            _write_manifest(backup)
        except BaseException as error:  # a full disk, or Ctrl-C after the rename
            if target is not None:
                target.unlink(missing_ok=True)  # without its manifest it is no backup
            if isinstance(error, OSError):
                raise _unwritable(self.folder, error) from error
            raise
        self.step(f"wrote {backup.manifest_path.name}")
        if self.keep is not None:
            for removed in backups_prune(using=self.using, directory=self.folder, keep=self.keep):
                self.step(f"removed the older backup {removed.name} (--keep {self.keep})")
        return backup

    @contextlib.contextmanager
    def failing(self, *, last: bool = False) -> Iterator[None]:
        """Errors as BackupError, and the copy removed when one happens; at the `last` step
        whatever is left of it is removed anyway (after the rename, only companions a reader
        may have left beside it)."""
        failed = True
        try:
            try:
                yield
            except OSError as error:
                raise _unwritable(self.folder, error) from error
            except sqlite3.Error as error:
                raise _sqlite_failure(error, self.using, self.folder) from error
            failed = False
        finally:
            if failed or last:
                self._remove_partial()


def _check_on_a_thread(path: Path, counts: dict[str, int], *, behind: bool) -> Future[str]:
    """_sqlite_verify of the copy at `path` on a thread of its own, so the caller goes on."""
    return on_a_thread_of_its_own("backup-check", _sqlite_verify, path, counts, behind=behind)


def _unwritable(folder: Path, error: OSError) -> BackupError:
    return BackupError(
        f"Could not write the backup in {folder} ({error.strerror or error}). Free space or "
        "choose another folder (--dir, FRACTAL_BACKUP_DIR); nothing was changed.",
        Exit.NO_SPACE if error.errno == errno.ENOSPC else Exit.READ_ONLY,
    )


def _sqlite_failure(error: sqlite3.Error, using: str, folder: Path) -> BackupError:
    """What an SQLite error during a backup means, as an error with its exit status."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    name = connections[using].settings_dict["NAME"]
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return BackupError(
            f"{name} stayed locked by another process for longer than the busy timeout "
            f"({_busy_timeout(using)} s), so it could not be read. Let that process finish, "
            "then back up again; nothing was changed.",
            Exit.LOCKED,
        )
    if code == sqlite3.SQLITE_FULL:
        return _unwritable(folder, OSError(errno.ENOSPC, str(error)))
    return BackupError(
        f"{name} could not be copied ({error}); nothing was changed.", Exit.DATABASE_ERROR
    )


# A partial copy's name, and the files SQLite may make beside it.
PARTIAL_SUFFIX = ".partial"
CLAIMING_SUFFIX = ".claiming"
PARTIAL_COMPANIONS = ("", "-journal", "-wal", "-shm")


def _new_claimed_file(folder: Path, prefix: str, suffix: str) -> tuple[Path, int]:
    """A new empty file of this process alone (_new_file), and a descriptor holding an
    exclusive flock on it, released when the descriptor is closed or the process ends (killed
    included). The file is made under another name and takes its own (ending in `suffix`)
    only once the flock is held, so that no other backup, looking for copies nobody holds,
    meets it between the two."""
    claiming, descriptor = _new_file(folder, prefix, CLAIMING_SUFFIX)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        path = claiming.with_name(claiming.name.removesuffix(CLAIMING_SUFFIX) + suffix)
        os.rename(claiming, path)
    except BaseException:
        os.close(descriptor)
        claiming.unlink(missing_ok=True)
        raise
    return path, descriptor


def _abandoned_partials_removed(folder: Path, label: str) -> list[Path]:
    """Remove the partial copies of this database's backups in `folder` that no process holds
    (their backup was killed: a pg_dump it started may even have finished writing one), with
    what SQLite left beside them; the removed paths. One a running backup holds is left."""
    prefix = f".{label}.backup_"
    removed = []
    for path in sorted(folder.iterdir()):
        if not (path.name.startswith(prefix) and path.name.endswith(PARTIAL_SUFFIX)):
            continue
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except OSError:
            continue  # gone meanwhile, or not ours to read
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a backup running now
        finally:
            os.close(descriptor)
        for suffix in PARTIAL_COMPANIONS:
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        removed.append(path)
    return removed


def _new_hidden_file(folder: Path, prefix: str, suffix: str) -> Path:
    """A new empty file of this process alone (_new_file), closed."""
    path, descriptor = _new_file(folder, prefix, suffix)
    os.close(descriptor)
    return path


def _new_file(folder: Path, prefix: str, suffix: str) -> tuple[Path, int]:
    """A new empty file of this process alone, so two processes never write the same one, and
    a descriptor of it: its name made with a random part and claimed with O_EXCL."""
    while True:
        path = folder / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue


def _publish(partial: Path, folder: Path, name: str) -> Path:
    """Give the verified copy its name, never one that another backup (or a manifest left
    without its file) already has: the name is claimed with O_EXCL, then the copy renamed
    over that empty claim."""
    for counter in itertools.count(1):
        target = folder / (name if counter == 1 else f"{name}-{counter}")
        if manifest_path(target).exists():
            continue
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            continue
        try:
            os.replace(partial, target)
            _fsync_dir(folder)
        except BaseException:  # a failure, or Ctrl-C: no copy is left without its manifest
            target.unlink(missing_ok=True)
            raise
        return target
    raise AssertionError("unreachable")  # pragma: no cover - itertools.count never ends


def backup_folder_problem(folder: Path) -> BackupError | None:
    """Why a backup could not be written into `folder`, found without making it: a symbolic link
    to nothing or in a loop (2), something other than a folder there, or a folder (or the
    nearest one above a folder still to be made) that cannot be written (7)."""
    if folder.is_symlink() and not folder.exists():
        try:
            os.stat(folder)
        except OSError as error:
            found, fix = "leads back to itself through other links (a loop)", "Point it"
            if error.errno != errno.ELOOP:
                found = f"points to {os.readlink(folder)}, which does not exist"
                fix = "Create the folder it points to, or point it"
        return BackupError(
            f"The backup folder {folder} is a symbolic link that {found}. {fix} at a folder, or "
            "choose another (--dir, FRACTAL_BACKUP_DIR); nothing was changed.",
            Exit.USAGE,
        )
    nearest = folder.absolute()
    while not nearest.exists() and nearest != nearest.parent:
        nearest = nearest.parent
    if not nearest.is_dir():
        return BackupError(
            f"Cannot create the backup folder {folder}: {nearest} is not a folder. Choose a "
            "writable folder (--dir, FRACTAL_BACKUP_DIR); nothing was changed.",
            Exit.READ_ONLY,
        )
    if not os.access(nearest, os.W_OK) or not (nearest.stat().st_mode & 0o222):
        where = "" if nearest == folder.absolute() else f", where {folder} would be made,"
        return BackupError(
            f"The folder {nearest}{where} is not writable. Make it writable or choose another "
            "backup folder (--dir, FRACTAL_BACKUP_DIR); nothing was changed.",
            Exit.READ_ONLY,
        )
    return None


def _prepare_folder(folder: Path) -> None:
    problem = backup_folder_problem(folder)
    if problem is not None and problem.code == Exit.USAGE:
        raise problem
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BackupError(
            f"Cannot create the backup folder {folder} ({error.strerror or error}). Choose a "
            "writable folder (--dir, FRACTAL_BACKUP_DIR); nothing was changed.",
            Exit.NO_SPACE if error.errno == errno.ENOSPC else Exit.READ_ONLY,
        ) from error
    if not os.access(folder, os.W_OK) or not (folder.stat().st_mode & 0o222):
        raise BackupError(
            f"The backup folder {folder} is not writable. Make it writable or choose another "
            "(--dir, FRACTAL_BACKUP_DIR); nothing was changed.",
            Exit.READ_ONLY,
        )


def _check_space(folder: Path, needed: int, reserve: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed + reserve:
        raise BackupError(
            f"Not enough free space in {folder}: {free} bytes free, {needed + reserve} needed "
            f"(backup {needed} + reserve {reserve}). Free space or choose another folder "
            "(--dir, FRACTAL_BACKUP_DIR); nothing was changed.",
            Exit.NO_SPACE,
        )


def _sqlite_source(using: str) -> Path:
    name = connections[using].settings_dict["NAME"]
    path = database_file(using)
    # A folder goes on to inspection, which says it is a directory (3), as migrate says.
    if path is None or not (path.is_file() or path.is_dir()):
        problem = database_path_problem(using)  # a loop of links, said as such
        if problem is not None:
            raise problem
        raise BackupError(
            f"The database {name} does not exist, so there is nothing to back up. Check "
            "DATABASE_URL.",
            Exit.USAGE,
        )
    try:
        sqlite_file_state(path, timeout=0)
    except LegacyDbError as error:
        # A file that is not SQLite, or is damaged, as inspection says; a lock or a write cut
        # off is the copy's to meet, within the busy timeout (exit 8) or by rolling it back.
        if error.problem in (LegacyDbProblem.NOT_SQLITE, LegacyDbProblem.CORRUPT):
            raise BackupError(str(error), Exit(int(error.problem))) from error
    return path


def _sqlite_copy(
    source: Path,
    target: Path,
    *,
    folder: Path,
    reserve: int,
    timeout: float,
    held: threading.Event | None = None,
) -> tuple[dict[str, int], list[str]]:
    """Copy inside one read transaction, so the row counts, the applied migrations and the copy
    are one snapshot while other processes keep writing. The space check counts the pages of
    that snapshot, -wal included, not the main file's size. The copy is written without syncs
    of its own: it is fsynced once, whole, before its sha256 is taken and it is named.

    With a rollback journal the file is the snapshot: no writer writes to it while the read
    transaction lasts (SQLite's locks), so its bytes are copied as they are (0.2 s at a million
    metric values, against 0.4 to 0.7 s page by page). With a write-ahead log, whose pages are
    the snapshot's too, by SQLite's online backup API.

    With `held`, the read transaction stays open after the copy until `held` is set, whatever
    happens: no other connection commits meanwhile (a commit needs every reader gone), so the
    copy is the file as the caller finds it once it holds the write lock."""
    reader = sqlite3.connect(source, timeout=timeout, isolation_level=None)
    try:
        reader.execute("BEGIN")
        try:
            counts = _sqlite_counts(reader)  # the first read fixes the snapshot
            pages = reader.execute("PRAGMA page_count").fetchone()[0]
            _check_space(folder, pages * reader.execute("PRAGMA page_size").fetchone()[0], reserve)
            migrations = _sqlite_migrations(reader)
            if reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                _sqlite_backup_api(reader, target)
            else:
                shutil.copyfile(source, target)
        finally:
            if held is not None:
                held.wait()
        reader.execute("COMMIT")
    finally:
        reader.close()
    return counts, migrations


def in_rollback_journal_mode(path: Path) -> bool:
    """Whether the SQLite file at `path` says it is in rollback-journal mode (its header), where
    a read transaction keeps every other connection from committing; in WAL mode it does not."""
    try:
        return _journal_format(path) == ROLLBACK_JOURNAL_FORMAT
    except OSError:
        return False


def _journal_format(path: Path) -> bytes | None:
    """Bytes 18 and 19 of the SQLite file at `path` (its journal format), None for a file too
    short or without SQLite's header."""
    with path.open("rb") as handle:
        header = handle.read(20)
    if len(header) == 20 and header.startswith(b"SQLite format 3"):
        return header[18:20]
    return None


def _sqlite_backup_api(reader: sqlite3.Connection, target: Path) -> None:
    copy = sqlite3.connect(target, isolation_level=None)
    try:
        copy.execute("PRAGMA synchronous = OFF")
        reader.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # a backup is one self-contained file
    finally:
        copy.close()


def _sqlite_verify(path: Path, counts: dict[str, int], *, behind: bool = False) -> str:
    """Check the copy at `path` against the source's row counts, whole (`PRAGMA
    integrity_check`), and return its sha256, computed meanwhile on the other core (SQLite and
    hashlib both release the GIL), or with `behind` one after the other at the lowest CPU
    priority (backup_begin). The digest follows an fsync, so it is of what is on disk; the
    check, which reads what SQLite reads, does not wait for the fsync.

    The fsync and the digest go through a descriptor opened before the check's connection and
    closed after it: closing any descriptor of a file drops every POSIX lock the process holds
    on that file, SQLite's included."""
    with path.open("rb") as handle:
        if behind:
            _lowest_priority()
            digest = _synced_sha256(path, handle)
            problem = _sqlite_check(path, counts, parallel=False)
        else:
            with ThreadPoolExecutor(max_workers=1) as pool:
                digesting = pool.submit(_synced_sha256, path, handle)
                problem = _sqlite_check(path, counts)
                digest = digesting.result()
    problem = problem or _not_self_contained(path)
    if problem:
        raise BackupError(
            f"The copy is not a sound backup: {problem}. It was discarded; nothing was changed.",
            Exit.BACKUP_UNVERIFIED,
        )
    return digest


def _not_self_contained(path: Path) -> str | None:
    """Why SQLite would read more than this one file for the database in it, if it would."""
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if not companion.exists():
            continue
        effect = (
            "read rows from it that the backup's sha256 does not cover"
            if suffix == "-wal"
            else "roll the file back with it on opening, changing bytes the sha256 covers"
        )
        return (
            f"{companion.name} is beside it, so SQLite would {effect} (a backup is one file; "
            "something opened this one and wrote to it)"
        )
    if _journal_format(path) not in (None, ROLLBACK_JOURNAL_FORMAT):
        return "its header says WAL journaling, so SQLite would look for a -wal beside it"
    return None


def _sqlite_migrations(connection: sqlite3.Connection) -> list[str]:
    found = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'django_migrations'"
    ).fetchone()
    if not found:
        return []
    rows = connection.execute("SELECT app, name FROM django_migrations")
    return sorted(f"{app}.{name}" for app, name in rows)


def _sqlite_counts(connection: sqlite3.Connection) -> dict[str, int]:
    tables = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return {
        name: connection.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]  # noqa: S608
        for name in tables
    }


def _postgres_tool(name: str) -> str:
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    found = str(candidates[-1]) if candidates else shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} was not found. Install PostgreSQL's client tools.", Exit.TOOL_MISSING
        )
    return found


# Django's own OPTIONS of its PostgreSQL backend, which are no libpq connection parameters.
DJANGO_ONLY_OPTIONS = frozenset(
    {"isolation_level", "server_side_binding", "assume_role", "pool", "cursor_factory"}
)


def _postgres_env(using: str) -> tuple[list[str], dict[str, str]]:
    """The PostgreSQL tools' `--dbname` and environment for `using`: the database given as a
    connection string, with the URL's connection options (sslmode, …), so that the tools reach
    the database Django reaches, whatever its name holds (a `=` made pg_dump read the name as
    a connection string; options such as sslmode were left out)."""
    import psycopg.conninfo

    config = connections[using].settings_dict
    options = {
        key: value
        for key, value in (config.get("OPTIONS") or {}).items()
        if key not in DJANGO_ONLY_OPTIONS
    }
    conninfo = psycopg.conninfo.make_conninfo(
        host=config.get("HOST") or "localhost",
        port=str(config["PORT"]) if config.get("PORT") else None,
        user=config.get("USER") or None,
        dbname=config["NAME"],
        **options,
    )
    args = ["--dbname", conninfo]
    # English messages, so a full disk can be told from other failures (_postgres_dump).
    env = {**os.environ, "LC_MESSAGES": "C"}
    if config.get("PASSWORD"):
        env["PGPASSWORD"] = config["PASSWORD"]
    return args, env


def postgres_dump_size(using: str) -> int:
    """What a dump of the database behind `using` can take at most: its tables' rows as stored
    in the schema Django uses (TOAST included). A dump holds no index and no system catalog,
    which pg_database_size counts (about 8 MB for an empty database), and compresses the rows,
    so it is smaller still; a disk filled all the same stops the dump with exit 14."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(pg_table_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'm')"
        )
        return int(cursor.fetchone()[0])


def _postgres_dump(using: str, target: Path) -> dict[str, int]:
    """pg_dump in custom format from an exported snapshot, so the counts match the dump."""
    connection = connections[using]
    args, env = _postgres_env(using)
    with connection.cursor() as cursor:
        cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            cursor.execute(  # the schema the tables are made in, as Django's connection sees it
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "ORDER BY tablename"
            )
            tables = [row[0] for row in cursor.fetchall()]
            counts = {}
            for table in tables:
                cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
                counts[table] = cursor.fetchone()[0]
            result = subprocess.run(  # noqa: S603 - fixed tool, arguments from settings
                [
                    _postgres_tool("pg_dump"),
                    *args,
                    "--format=custom",
                    # gzip's fastest level: at a million metric values the dump takes half the
                    # time of pg_dump's default level (3.4 s against 6.9 s) for a 16% larger file.
                    "--compress=1",
                    f"--snapshot={snapshot}",
                    "--file",
                    str(target),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            cursor.execute("COMMIT")
    if result.returncode != 0:
        if "No space left on device" in result.stderr:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}", Exit.DATABASE_ERROR)
    _pg_restore_list(target)
    return counts


def _pg_restore_list(path: Path) -> None:
    result = subprocess.run(  # noqa: S603 - fixed tool
        [_postgres_tool("pg_restore"), "--list", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BackupError(
            f"pg_restore --list cannot read {path}: {result.stderr.strip()}", Exit.BACKUP_UNVERIFIED
        )


def _applied_migrations(using: str) -> list[str]:
    recorder = MigrationRecorder(connections[using])
    if not recorder.has_table():
        return []
    return sorted(f"{app}.{name}" for app, name in recorder.applied_migrations())


def _sha256(path: Path, handle: BinaryIO | None = None) -> str:
    """The sha256 of the file at `path`, read through `handle` when one is given."""
    if handle is None:
        with path.open("rb") as opened:
            return _sha256(path, opened)
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _synced_sha256(path: Path, handle: BinaryIO) -> str:
    """The sha256 of the file at `path` once what was written to it is on disk."""
    os.fsync(handle.fileno())
    return _sha256(path, handle)


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _write_manifest(backup: Backup) -> None:
    data = {"manifest_version": MANIFEST_VERSION, **asdict(backup), "path": backup.path.name}
    data.pop("verified")
    data.pop("problem")
    partial = backup.manifest_path.with_name(f".{backup.manifest_path.name}.partial")
    try:
        partial.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        _fsync_file(partial)
        os.replace(partial, backup.manifest_path)
    except BaseException:
        # A manifest that could not be written whole (a full disk) leaves nothing behind: the
        # hidden file would stay in the backup folder for good, as no later run removes it.
        # The error the caller reports is the write's, not one of this removal.
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise
    _fsync_dir(backup.path.parent)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# -- reading ------------------------------------------------------------------------------------


def backup_read(path: Path, *, deep: bool = False) -> Backup:
    """A backup and whether its manifest matches it (size and sha256; `deep` also opens it)."""
    path = Path(path)
    if not path.is_file():
        return Backup(path=path, problem="the backup file does not exist")
    manifest = manifest_path(path)
    if not manifest.is_file():
        return Backup(path=path, size=path.stat().st_size, problem="no manifest: not verified")
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        fields = {
            key: data[key]
            for key in (
                "created_at",
                "size",
                "sha256",
                "row_counts",
                "migrations",
                "source",
                "engine",
            )
        }
    except (ValueError, KeyError, TypeError) as error:  # TypeError: JSON, but not an object
        return Backup(path=path, problem=f"unreadable manifest ({error})")
    wrong = _wrong_manifest_fields(fields)
    if wrong:
        return Backup(path=path, problem=f"unreadable manifest ({wrong})")
    backup = Backup(path=path, **fields)
    problem = _mismatch(backup, deep=deep)
    return Backup(
        **{**asdict(backup), "path": path, "verified": problem is None, "problem": problem}
    )


def _aware_time(value) -> bool:
    """Whether `value` is a time as backup_db writes it: ISO 8601 text with its offset."""
    try:
        return datetime.datetime.fromisoformat(value).tzinfo is not None
    except (TypeError, ValueError):
        return False


def _wrong_manifest_fields(fields: dict) -> str | None:
    """What in a manifest's fields is not of the kind backup_db writes, if anything."""

    def whole(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    kinds = {
        "created_at": lambda value: value is None or _aware_time(value),
        "size": lambda value: whole(value) and value >= 0,
        "sha256": lambda value: isinstance(value, str),
        "row_counts": lambda value: (
            isinstance(value, dict)
            and all(isinstance(key, str) and whole(count) for key, count in value.items())
        ),
        "migrations": lambda value: (
            isinstance(value, list) and all(isinstance(name, str) for name in value)
        ),
        "source": lambda value: value is None or isinstance(value, str),
        "engine": lambda value: value in ("sqlite", "postgresql"),
    }
    wrong = [f"{key} is {fields[key]!r}" for key, fits in kinds.items() if not fits(fields[key])]
    return "; ".join(wrong) or None


def _mismatch(backup: Backup, *, deep: bool) -> str | None:
    """How the file differs from what its manifest says, if it does."""
    path = backup.path
    if backup.engine == "sqlite":
        problem = _not_self_contained(path)
        if problem:
            return problem
    if path.stat().st_size != backup.size:
        return f"size {path.stat().st_size} differs from the manifest's {backup.size}"
    if _sha256(path) != backup.sha256:
        return "sha256 differs from the manifest's: the file was changed"
    return _deep_check(backup) if deep else None


def _deep_check(backup: Backup) -> str | None:
    if backup.engine == "postgresql":
        with backup.path.open("rb") as handle:
            if handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER:
                return "its manifest says a PostgreSQL dump, but the file is an SQLite database"
        try:
            _pg_restore_list(backup.path)
        except BackupError as error:
            return str(error)
        return None
    return _sqlite_check(backup.path, backup.row_counts)


def _lowest_priority() -> None:
    """The calling thread's CPU priority at its lowest (Linux gives each thread its own nice
    value); elsewhere, or where refused, it stays as it is."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def _sqlite_check(path: Path, row_counts: dict[str, int], *, parallel: bool = True) -> str | None:
    """What is wrong with the SQLite file at `path` as a copy with these row counts, if any.

    The check is `PRAGMA integrity_check` of the whole file, made in two parts that run at once
    on two read-only connections (SQLite releases the GIL): the integrity_check of the table
    with the most rows and its indexes; and the quick_check of the whole file (every page, the
    freelist, every b-tree and row), then the integrity_check of each other table and its
    indexes. Together they check what the whole file's integrity_check does: a table's own
    check adds to quick_check that its indexes hold its rows exactly and its unique ones no
    repeats. At a million metric values the whole check took 2.8 s, the larger part 1.9 s.
    Without `parallel`, the same checks one after the other on one connection."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True)
        try:
            tables = [
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            largest = max(
                (name for name in tables if name in row_counts and parallel),
                key=lambda name: row_counts[name],
                default=None,
            )
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="backup-check") as pool:
                apart = pool.submit(_integrity_of, uri, [largest]) if largest else None
                found = _integrity_of(
                    uri, [name for name in tables if name != largest], connection=connection
                )
                if apart is not None:
                    found += apart.result()
            counts = _sqlite_counts(connection)
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        return f"not a readable SQLite database ({error})"
    if found:
        return f"integrity_check failed: {'; '.join(found[:3])}"
    if counts != row_counts:
        return "its row counts differ from the ones recorded when it was taken"
    return None


def _integrity_of(
    uri: str, tables: list[str], *, connection: sqlite3.Connection | None = None
) -> list[str]:
    """The problems `PRAGMA integrity_check` finds in `tables` and their indexes; with a
    `connection` given, first those `PRAGMA quick_check` finds in the whole file. On a
    connection of its own otherwise, closed after."""
    own = connection is None
    if own:
        connection = sqlite3.connect(uri, uri=True)
    try:
        connection.execute(f"PRAGMA cache_size = -{CHECK_CACHE_KIB}")
        checks = [] if own else ["PRAGMA quick_check"]
        checks += [
            f"PRAGMA integrity_check('{name.replace(chr(39), chr(39) * 2)}')" for name in tables
        ]
        return [row[0] for check in checks for row in connection.execute(check) if row[0] != "ok"]
    finally:
        if own:
            connection.close()


def backup_to_restore(
    backup: Path, *, using: str = DEFAULT_DB_ALIAS, directory: Path | None = None
) -> Path:
    """The backup file restore_db is given: the path as written, or a bare name (what
    list_backups prints) that is no file here, found in the backup folder (`directory`, else as
    backup_dir says). BackupError for a folder (3, in inspection's words for a folder given as
    the database) or a path with no file (2)."""
    path = Path(backup)
    where = ""
    if len(path.parts) == 1 and not path.exists():
        folder = backup_dir(using=using, directory=directory)
        path = folder / path
        where = f" (nor in the backup folder {folder})"
    if path.is_dir():
        raise BackupError(
            f"{path} is a directory, not a backup file. Choose a verified backup (manage.py "
            "list_backups).",
            Exit.NOT_SQLITE,
        )
    if not path.is_file():
        raise BackupError(
            f"{backup} cannot be restored: the backup file does not exist{where}. Choose a "
            "verified backup (manage.py list_backups).",
            Exit.USAGE,
        )
    return path


def database_path_problem(using: str = DEFAULT_DB_ALIAS) -> BackupError | None:
    """What makes the SQLite path behind `using` name no database file, found before a lock file
    is made beside it: a loop of symbolic links (2), or a folder (3), into which no restore can
    write."""
    target = database_file(using)
    if target is None:
        return None  # in memory, or not SQLite: backup_restore says what it finds
    try:
        refuse_a_link_loop(target)
    except LegacyDbError as error:
        return BackupError(str(error), Exit(int(error.problem)))
    if target.is_dir():
        name = connections[using].settings_dict["NAME"]
        shown = name if Path(name) == target else f"{name} (a link to {target})"
        return BackupError(
            f"{shown} is a directory, not a database file, so there is no database to "
            "restore into. Point DATABASE_URL at the database file (or where it is to be); "
            "nothing was changed.",
            Exit.NOT_SQLITE,
        )
    return None


def backups_list(*, using: str = DEFAULT_DB_ALIAS, directory: Path | None = None) -> list[Backup]:
    """Backups of this database in the folder, newest first by the time in their manifests (the
    file's modification time for one without)."""
    folder = backup_dir(using=using, directory=directory)
    if not folder.is_dir():
        return []
    prefix = f"{database_label(using)}.backup_"
    found = []
    for path in folder.iterdir():
        if not path.name.startswith(prefix) or path.name.endswith(
            (MANIFEST_SUFFIX, "-shm", *SQLITE_COMPANIONS)
        ):
            continue
        try:
            backup = backup_read(path)
            found.append((_taken(backup), backup))
        except FileNotFoundError:
            continue  # pruned by a backup_db running at the same time
    return [backup for _, backup in sorted(found, key=lambda pair: pair[0], reverse=True)]


def _taken(backup: Backup) -> tuple[datetime.datetime, int]:
    """When a backup was taken, then the `-N` its name got when another had the same time."""
    if backup.created_at:  # an aware ISO time: backup_read refuses a manifest holding another
        when = datetime.datetime.fromisoformat(backup.created_at)
    else:
        when = datetime.datetime.fromtimestamp(backup.path.stat().st_mtime, tz=datetime.UTC)
    counter = re.search(r"-(\d+)$", backup.path.name)
    return when, int(counter.group(1)) if counter else 1


def _check_keep(keep: int) -> None:
    if keep < 1:
        raise BackupError(
            "--keep must be 1 or more: the newest verified backup always stays.", Exit.USAGE
        )


def backups_prune(
    *, using: str = DEFAULT_DB_ALIAS, directory: Path | None = None, keep: int
) -> list[Path]:
    """Delete verified backups beyond the newest `keep`; the newest verified one always stays."""
    _check_keep(keep)
    verified = [
        backup for backup in backups_list(using=using, directory=directory) if backup.verified
    ]
    removed = []
    for backup in verified[keep:]:
        # missing_ok: a backup_db running at the same time may have pruned it already.
        backup.path.unlink(missing_ok=True)
        backup.manifest_path.unlink(missing_ok=True)
        removed.append(backup.path)
    return removed


# -- restoring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreResult:
    restored: Backup
    safety_backup: Backup | None
    removed_leftovers: list[Path] = field(default_factory=list)


def backup_restore(
    *,
    path: Path,
    using: str = DEFAULT_DB_ALIAS,
    directory: Path | None = None,
    step: Step = silent,
) -> RestoreResult:
    """Restore a verified backup into the database, after a safety backup of the current one.

    Runs under the maintenance lock (restore_db takes it), so a staged copy found beside an
    SQLite database is one an interrupted restore left behind, and is removed. `step` is told
    each step as it starts.
    """
    backup = backup_read(Path(path), deep=True)
    if not backup.verified:
        raise BackupError(
            f"{path} cannot be restored: {backup.problem}. Choose a verified backup "
            "(manage.py list_backups).",
            Exit.BACKUP_UNVERIFIED,
        )
    connection = connections[using]
    if backup.engine != connection.vendor:
        raise BackupError(
            f"{path} is a {backup.engine} backup; the '{using}' database is {connection.vendor}.",
            Exit.USAGE,
        )
    safety = None
    removed: list[Path] = []
    if connection.vendor == "sqlite":
        target = database_file(using)
        if target is None:
            raise BackupError(
                f"The '{using}' database is in memory: there is no file to restore.", Exit.USAGE
            )
        try:
            if target.exists():
                check_writable(target)  # marked read-only: refused even for root, as by migrate
        except LegacyDbError as error:
            raise BackupError(str(error), Exit.READ_ONLY) from error
        removed = _remove_staged_leftovers(target)
        if target.exists():
            step("taking a safety backup of the database")
            try:
                safety = backup_create(using=using, directory=directory, step=step)
            except BackupError as error:
                if error.code not in (Exit.DAMAGED, Exit.NOT_SQLITE):
                    raise
                raise BackupError(
                    f"{error} No verified safety copy of {target} can be taken, and restore_db "
                    "writes over nothing it has not kept. Move the file aside yourself (mv "
                    f"{target} {target}.damaged), then run restore_db again: it restores into "
                    "the free path.",
                    error.code,
                ) from error
        connection.close()
        step(f"writing {backup.path.name} into {target}")
        _sqlite_restore(backup, target, timeout=_busy_timeout(using), safety=safety)
    else:
        step("taking a safety backup of the database")
        safety = backup_create(using=using, directory=directory, step=step)
        connection.close()
        step(f"restoring {backup.path.name} with pg_restore")
        _postgres_restore(using, backup.path)
    return RestoreResult(restored=backup, safety_backup=safety, removed_leftovers=removed)


def _staged_prefix(target: Path) -> str:
    return f".{target.name}.restoring-"


def _remove_staged_leftovers(target: Path) -> list[Path]:
    """Remove the staged copies an interrupted restore left beside `target` (only a restore,
    under the maintenance lock, writes them) and return their paths."""
    if not target.parent.is_dir():
        return []
    removed = []
    for path in sorted(target.parent.iterdir()):
        if path.name.startswith(_staged_prefix(target)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _sqlite_restore(backup: Backup, target: Path, *, timeout: float, safety: Backup | None) -> None:
    """Copy the backup's bytes once beside the database, check exactly that copy, then write it
    into the database in place (SQLite's backup API: one transaction under its write lock)."""
    kept = f" (the safety backup taken first stays: {safety.path})" if safety else ""
    staged = None
    try:
        staged = _new_hidden_file(target.parent, _staged_prefix(target), "")
        size, digest = _stage(backup.path, staged)
        if (size, digest) != (backup.size, backup.sha256):
            problem = "the bytes read from it differ from its manifest: it changed while read"
        else:
            problem = _sqlite_check(staged, backup.row_counts)
        if problem:
            raise BackupError(
                f"{backup.path} cannot be restored: {problem}. Choose a verified backup "
                f"(manage.py list_backups); the database is unchanged{kept}.",
                Exit.BACKUP_UNVERIFIED,
            )
        _sqlite_write_into(staged, target, timeout)
    except _DatabaseBusy as error:
        raise BackupError(
            f"{target} is in use by another process, which kept it locked for longer than the "
            f"busy timeout ({timeout} s). Let it finish or stop it, then restore again; the "
            f"database is unchanged{kept}.",
            Exit.LOCKED,
        ) from error
    except (OSError, sqlite3.Error) as error:
        raise _restore_failure(error, f"{backup.path} into {target}", kept) from error
    finally:
        if staged is not None:
            staged.unlink(missing_ok=True)


def _restore_failure(error: OSError | sqlite3.Error, what: str, kept: str) -> BackupError:
    """What a failed write of a restore means; SQLite rolled its transaction back."""
    full = _is_full(error) if isinstance(error, sqlite3.Error) else error.errno == errno.ENOSPC
    reason = error.strerror if isinstance(error, OSError) else str(error)
    if full:
        return BackupError(
            f"Not enough space to restore {what} ({reason}). Free space on that disk, then "
            f"restore again; the database is unchanged{kept}.",
            Exit.NO_SPACE,
        )
    if isinstance(error, OSError):
        return BackupError(
            f"Could not restore {what} ({reason}). Make the database's folder writable, then "
            f"restore again; the database is unchanged{kept}.",
            Exit.READ_ONLY,
        )
    return BackupError(
        f"SQLite could not restore {what} ({reason}); the database is unchanged{kept}.",
        Exit.DATABASE_ERROR,
    )


def _is_full(error: sqlite3.Error) -> bool:
    return getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL


def _stage(source: Path, staged: Path) -> tuple[int, str]:
    """Copy `source` to `staged`, returning the size and sha256 of the very bytes written."""
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as reader, staged.open("wb") as writer:
        for chunk in iter(lambda: reader.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
            writer.write(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    return size, digest.hexdigest()


class _DatabaseBusy(Exception):
    """Another process kept the database locked past the busy timeout."""


def _restore_step(status: int, remaining: int, total: int) -> None:
    """Called after each step of the backup API's copy into the database. Python would retry a
    busy step forever, so a step that waited the whole busy timeout for the lock ends the
    restore instead."""
    if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        raise _DatabaseBusy


def _sqlite_write_into(staged: Path, target: Path, timeout: float) -> None:
    """Write the staged copy into the database file itself. Readers of a WAL database go on
    reading their snapshot and see the restored rows in their next transaction; a write
    begun on the old snapshot fails (SQLITE_BUSY_SNAPSHOT) instead of being lost."""
    live = sqlite3.connect(target, timeout=timeout, isolation_level=None)
    try:
        try:
            wal = live.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            page_size = live.execute("PRAGMA page_size").fetchone()[0]
        except sqlite3.OperationalError as error:
            if getattr(error, "sqlite_errorcode", 0) & 0xFF in (
                sqlite3.SQLITE_BUSY,
                sqlite3.SQLITE_LOCKED,
            ):
                raise _DatabaseBusy from error
            raise
        if wal:
            _match_page_size(staged, page_size)
        source = sqlite3.connect(f"{staged.resolve().as_uri()}?mode=ro", uri=True)
        try:
            source.backup(live, pages=RESTORE_STEP_PAGES, progress=_restore_step)
        except sqlite3.Error:
            if wal:  # give back the space the uncommitted pages took in the -wal
                with contextlib.suppress(sqlite3.Error):
                    live.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            raise
        finally:
            source.close()
    finally:
        live.close()


def _match_page_size(staged: Path, page_size: int) -> None:
    """SQLite copies into a WAL database only pages of its own size: rebuild the staged copy
    (rollback journal, this process's alone) with that page size when it differs."""
    connection = sqlite3.connect(staged, isolation_level=None)
    try:
        if connection.execute("PRAGMA page_size").fetchone()[0] != page_size:
            connection.execute(f"PRAGMA page_size={int(page_size)}")
            connection.execute("VACUUM")
    finally:
        connection.close()


def _postgres_restore(using: str, path: Path) -> None:
    """Make the database's tables the backup's, in one transaction that is committed only once
    all of the dump was applied.

    pg_restore writes the dump as SQL, which psql runs after dropping the tables of this
    project's models and the migration records: `pg_restore --clean` drops only what the dump
    holds, so a table or key made by a later migration (a backup taken before migrating, the way
    back) blocked it, and a backup of an empty database left every table as it was. A table of
    someone else's pointing to ours stops the drop, and nothing changes. The COMMIT is written
    last, by this process: a restore killed or failing before it leaves psql's transaction
    open, which the server rolls back. Waiting for another session's lock stops after the busy
    timeout (exit 8), as on SQLite."""
    args, env = _postgres_env(using)
    name = connections[using].settings_dict["NAME"]
    # FRACTAL_SQLITE_TIMEOUT, which the README gives as restore_db's wait on either database.
    timeout = float(settings.SQLITE_OPTIONS["timeout"])
    tables = _our_tables(using)
    prelude = f"BEGIN;\nSET LOCAL lock_timeout = '{int(timeout * 1000)}ms';\n"
    if tables:  # one statement: the keys between them do not stop it
        prelude += f"DROP TABLE IF EXISTS {', '.join(tables)};\n"
    with tempfile.TemporaryFile() as dump_errors, tempfile.TemporaryFile() as psql_errors:
        dump = subprocess.Popen(  # noqa: S603 - fixed tool
            [
                _postgres_tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--file",
                "-",
                str(path),
            ],
            stdout=subprocess.PIPE,
            stderr=dump_errors,
            env=env,
        )
        psql = subprocess.Popen(  # noqa: S603 - fixed tool
            [
                _postgres_tool("psql"),
                *args,
                "--no-psqlrc",
                "--quiet",
                "--set",
                "ON_ERROR_STOP=1",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=psql_errors,
            env=env,
        )
        try:
            psql.stdin.write(prelude.encode())
            shutil.copyfileobj(dump.stdout, psql.stdin, 1 << 16)
            if dump.wait() == 0:
                psql.stdin.write(b"COMMIT;\n")
            psql.stdin.close()
        except BrokenPipeError:  # psql stopped at an error: what it says is below
            pass
        finally:
            if dump.poll() is None:  # psql stopped first: the rest of the dump is not wanted
                dump.kill()
            dump.wait()
            psql.wait()
        dump_errors.seek(0)
        psql_errors.seek(0)
        said = (psql_errors.read() or dump_errors.read()).decode(errors="replace").strip()
    if psql.returncode == 0 and dump.returncode == 0:
        return
    if "lock timeout" in said:
        raise BackupError(
            f"Another session holds a lock on {name}'s tables for longer than the busy timeout "
            f"({timeout} s). Let it finish or stop it, then restore again; the database is "
            "unchanged.",
            Exit.LOCKED,
        )
    raise BackupError(f"The restore failed, the database is unchanged: {said}", Exit.DATABASE_ERROR)


def _our_tables(using: str) -> list[str]:
    """The tables of this project's models and the migration records that exist in the
    database, schema-qualified and quoted for SQL."""
    connection = connections[using]
    quote = connection.ops.quote_name
    existing = connection.introspection.django_table_names(only_existing=True)
    with connection.cursor() as cursor:
        present = set(connection.introspection.table_names(cursor))
        cursor.execute("SELECT current_schema()")
        (schema,) = cursor.fetchone()
    names = sorted(set(existing) | ({"django_migrations"} & present))
    return [f"{quote(schema)}.{quote(table)}" for table in names]
