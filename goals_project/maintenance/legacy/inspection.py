"""Read-only inspection of a database file before anything touches it.

Everything here opens the file with SQLite's read-only URI mode, so inspecting a file, and refusing
it, never changes a byte of it.
"""

from __future__ import annotations

import enum
import errno
import os
import sqlite3
import stat
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path

from goals_project.bases.exit_codes import Exit
from goals_project.maintenance.legacy.schemas import (
    LEGACY_TABLES,
    VARIANTS,
    table_columns,
    variant_columns,
)
from goals_project.maintenance.threads import on_a_thread_of_its_own

BASELINE_MIGRATION = ("goals", "0001_legacy_baseline")
SQLITE_HEADER = b"SQLite format 3\x00"


class LegacyDbProblem(enum.IntEnum):
    """Why a file cannot be adopted; the value is the command's exit status
    (goals_project.bases.exit_codes)."""

    MISSING = Exit.USAGE
    NOT_SQLITE = Exit.NOT_SQLITE
    EMPTY = Exit.EMPTY
    FOREIGN = Exit.FOREIGN
    UNSUPPORTED_SCHEMA = Exit.UNSUPPORTED_SCHEMA
    READ_ONLY = Exit.READ_ONLY
    LOCKED = Exit.LOCKED
    CORRUPT = Exit.DAMAGED
    NOT_SQLITE_BACKEND = Exit.NOT_SQLITE_BACKEND
    BAD_KEYS = Exit.BAD_KEYS
    USER_SCHEMA = Exit.USER_SCHEMA
    NO_SPACE = Exit.NO_SPACE
    INTERRUPTED = Exit.INTERRUPTED
    HOT_JOURNAL = Exit.HOT_JOURNAL
    FAILED = Exit.DATABASE_ERROR


class LegacyDbError(Exception):
    """A database that cannot be adopted, with what was found and what to do."""

    def __init__(self, problem: LegacyDbProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


class DbState(enum.StrEnum):
    MISSING = "missing"  # no file yet: Django creates a new database
    NEW = "new"  # no tables, or only Django's own: a new database
    LEGACY = "legacy"  # a legacy Fractal Goals file that Django does not own yet
    ADOPTED = "adopted"  # Django owns it (the baseline migration is recorded)


@dataclass(frozen=True)
class LegacyDbInspection:
    """What a database file holds, as far as adoption is concerned."""

    path: Path
    state: DbState
    variant: str | None = None
    row_counts: dict[str, int] = field(default_factory=dict)
    other_tables: tuple[str, ...] = ()
    # Columns of legacy tables that no variant has (added by hand or by another tool): adoption
    # keeps their values in legacy_extra_<table> side tables instead of dropping them.
    extra_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # SQLite's schema cookie, read before the tables: any later change to the schema moves it.
    schema_version: int | None = None


def is_file_database(name: str | os.PathLike) -> bool:
    """False for SQLite's in-memory databases, which have no file to inspect."""
    text = str(name)
    return bool(text) and text != ":memory:" and "mode=memory" not in text


def legacy_db_inspect(
    path: Path, *, timeout: float = 2.0, integrity: bool = True
) -> LegacyDbInspection:
    """Classify the SQLite file at `path` without modifying it; raise LegacyDbError if refused.
    Without `integrity` the caller checks the file's integrity itself (legacy_db_integrity_begin)
    before it changes anything: the check is begun here, on a thread of its own, and
    legacy_db_integrity_begin hands that one over, so that it runs while the caller goes on
    (`migrate` begins its backup meanwhile, whose sqlite_file_state does not check the file
    again)."""
    if (state := _state_by_header(path)) is not None:
        return LegacyDbInspection(path=path, state=state)
    connection = _connect_read_only(path, timeout=timeout)
    checking = None
    try:
        version, tables = _read_tables(connection, path)
        if integrity:
            _check_integrity(connection, path)
        else:
            checking = legacy_db_integrity_begin(path, timeout=timeout)
        return replace(_classify(connection, path, tables), schema_version=version)
    except sqlite3.DatabaseError as error:
        # The row counts read every table: a damaged page is met here as well (the damage is
        # the news, in the check's words where it is being checked).
        if checking is not None and isinstance(checking.exception(), LegacyDbError):
            raise checking.exception() from error
        raise _read_refusal(path, error) from error
    finally:
        connection.close()


def sqlite_file_state(
    path: Path, *, timeout: float = 2.0, integrity: bool = True, supported: bool = False
) -> DbState | None:
    """MISSING (no file) or NEW (an empty one) where `path` holds no database yet, None where it
    is a sound SQLite file; else raise legacy_db_inspect's refusal (a folder, a file that is not
    SQLite, a damaged or locked one, a write cut off). Reads through a read-only connection: a
    missing file is not created.

    The schema alone reads even where a data page is damaged, so with `integrity` the file's
    pages are checked too (legacy_db_inspect's quick_check), unless a check begun in this process
    (legacy_db_integrity_begin) is checking the file as it is now, or found it sound: `migrate`
    takes its backup (backup_begin, whose first step this is) while its own check runs, and
    refuses a damaged file on that check. Without `integrity` the caller checks it itself, or
    meets the damage in its reads. With `supported`, a legacy file of a schema no variant
    supported (pre_sti, a table missing a column) is refused as inspection refuses it."""
    if (state := _state_by_header(path)) is not None:
        return state
    connection = _connect_read_only(path, timeout=timeout)
    try:
        _version, tables = _read_tables(connection, path)
        if supported:
            _refuse_an_unsupported_schema(connection, path, tables)
        if integrity and not _checked_in_this_process(path):
            _check_integrity(connection, path)
    finally:
        connection.close()
    return None


def _state_by_header(path: Path) -> DbState | None:
    """MISSING or NEW for a path without a database yet, None for a file starting as an SQLite
    database does; a folder or another file is refused, and so is a loop of symlinks."""
    if not path.exists():
        refuse_a_link_loop(path)
        return DbState.MISSING
    if path.is_dir():
        raise LegacyDbError(
            LegacyDbProblem.NOT_SQLITE,
            f"{path} is a directory, not a database file. Point DATABASE_URL at the .db file.",
        )
    with path.open("rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if not header:
        return DbState.NEW
    if header != SQLITE_HEADER:
        raise LegacyDbError(
            LegacyDbProblem.NOT_SQLITE,
            f"{path} is not a SQLite database (its first bytes are {header[:16]!r}). "
            "Point DATABASE_URL at a Fractal Goals database file (goals.db or goals_dev.db).",
        )
    return None


def refuse_a_link_loop(path: Path) -> None:
    """Refuse a path that is a loop of symlinks (a link to a link back to it): it names no file,
    and SQLite, asked to open or create it, only says 'unable to open database file'."""
    try:
        os.stat(path)
    except OSError as error:
        if error.errno != errno.ELOOP:
            return
        raise LegacyDbError(
            LegacyDbProblem.MISSING,
            f"{path} is a symbolic link that leads back to itself through other links (a loop: "
            f"{error.strerror}), so it names no database file. Point DATABASE_URL at the "
            f"database file itself, or make the link point to it (ls -l {path}); nothing was "
            "changed.",
        ) from error


def legacy_db_integrity_begin(path: Path, *, timeout: float = 2.0) -> Future[None] | None:
    """legacy_db_inspect's integrity check of the SQLite file at `path` (PRAGMA quick_check, which
    reads every page: 0.4 s at a million metric values) on a thread of its own, so that the
    caller reads the file meanwhile (SQLite and its check release the GIL); the future's result
    raises the refusal. None where there is no file content to check. A check this process has
    begun on the file as it is now (legacy_db_inspect without `integrity`) is handed over rather
    than begun again."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    state = _file_state(path)
    with _checks_lock:
        begun = _checks_begun.get(state[0])
        if begun is not None and begun[0] == state:
            return begun[1]
        checking = on_a_thread_of_its_own("integrity-check", _integrity_checked, path, timeout)
        _checks_begun[state[0]] = (state, checking)
    return checking


# The last integrity check begun in this process on each file (by its real path), with the
# file's state when it began: sqlite_file_state leaves a file to that check while the file is
# as the check found it (a write moves its size or time of change, or its -wal's).
_checks_begun: dict[str, tuple[tuple, Future[None]]] = {}
_checks_lock = threading.Lock()


def _file_state(path: Path) -> tuple:
    """The file at `path` and its -wal (SQLite's log of writes not yet in the file): which
    files they are, their sizes and times of change."""
    real = os.path.realpath(path)
    found = []
    for name in (real, f"{real}-wal"):
        try:
            info = os.stat(name)
        except FileNotFoundError:
            info = None
        if info is None or (name != real and info.st_size == 0):
            found.append(None)  # an empty -wal (made by a connection opening the file) is none
            continue
        found.append((info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns))
    return (real, *found)


def _checked_in_this_process(path: Path) -> bool:
    """Whether a check begun in this process is checking the file as it is now, or found it
    sound; a check that found it damaged raises its refusal."""
    state = _file_state(path)
    with _checks_lock:
        begun = _checks_begun.get(state[0])
    if begun is None or begun[0] != state:
        return False
    checking = begun[1]
    if not checking.done():
        return True
    if isinstance(checking.exception(), LegacyDbError):
        raise checking.exception()
    return checking.exception() is None


def _integrity_checked(path: Path, timeout: float) -> None:
    connection = _connect_read_only(path, timeout=timeout)
    try:
        _read_tables(connection, path)  # a lock or a hot journal said as such, as inspection does
        _check_integrity(connection, path)
    finally:
        connection.close()


def check_writable(path: Path) -> None:
    """Refuse a file or folder marked read-only, even for root, who could write it anyway, and
    one the kernel would not let this user write: on a file system mounted read-only (where
    root too is refused, whatever the marks say), or not this user's to write. Without this,
    adoption would meet SQLite's 'attempt to write a readonly database' half way."""
    for target, what in ((path, "file"), (path.parent, "folder")):
        if _marked_read_only(target):
            raise LegacyDbError(
                LegacyDbProblem.READ_ONLY,
                f"The database {what} {target} is read-only. Make it writable "
                f"(chmod u+w {target}) or work on a copy; nothing was changed.",
            )
        if (why := _unwritable(target)) is not None:
            raise LegacyDbError(
                LegacyDbProblem.READ_ONLY,
                f"The database {what} {target} cannot be written: {why}. Make it writable "
                "(remount the file system read-write, or change the owner or permissions) or "
                "work on a copy in a writable folder; nothing was changed.",
            )


def _marked_read_only(target: Path) -> bool:
    """Whether no one may write `target` by its mode bits (root may, but we do not)."""
    return not os.stat(target).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def _unwritable(target: Path) -> str | None:
    """Why the kernel would not let this process write `target`, or None: a file system mounted
    read-only, or permissions that do not allow this user."""
    if os.statvfs(target).f_flag & os.ST_RDONLY:
        return "it is on a file system mounted read-only"
    if not os.access(target, os.W_OK):
        return "its permissions do not allow this user to write it"
    return None


def check_not_locked(path: Path, *, timeout: float = 2.0) -> None:
    """Refuse a file that another process is writing to (it holds SQLite's write lock)."""
    connection = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
    except sqlite3.OperationalError as error:
        raise locked_error(path, error) from error
    finally:
        connection.close()


def _connect_read_only(path: Path, *, timeout: float) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        return sqlite3.connect(uri, uri=True, timeout=timeout)
    except sqlite3.Error as error:
        raise LegacyDbError(
            LegacyDbProblem.NOT_SQLITE, f"{path} cannot be opened as SQLite ({error})."
        ) from error


def hot_journal_path(path: Path) -> Path | None:
    """`<path>-journal` when it holds a write that a killed program left unfinished, else None.

    Such a hot journal is not damage: the main file may hold half of the write, and the journal
    the pages to undo it with. Only a connection that may write can roll it back, so read-only
    connections (inspection, readiness) are refused until one has. SQLite itself tells a hot
    journal from a live transaction (whose writer still holds its lock) and from a leftover.
    """
    journal = path.with_name(f"{path.name}-journal")
    if not journal.exists() or not path.is_file():
        return None
    connection = _connect_read_only(path, timeout=0)
    try:
        connection.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.DatabaseError as error:
        return journal if _is_hot_journal(error) else None
    finally:
        connection.close()
    return None


def recover_hot_journal(path: Path, *, timeout: float = 2.0) -> Path | None:
    """Let SQLite roll back a hot journal of `path`; return the journal's path if there was one.

    This is SQLite's own recovery, run by the first connection that may write: the file goes back
    to its last committed state, which is what every program using it sees from then on.
    """
    journal = hot_journal_path(path)
    if journal is None:
        return None
    check_writable(path)
    connection = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as error:
        raise _read_refusal(path, error) from error
    finally:
        connection.close()
    if hot_journal_path(path) is not None:
        raise LegacyDbError(
            LegacyDbProblem.HOT_JOURNAL,
            f"{journal} holds a write to {path} that was cut off, and SQLite did not roll it "
            "back when the file was opened for writing. Keep both files as they are and open "
            "the database once with the program that wrote it; nothing was changed.",
        )
    return journal


def _is_hot_journal(error: sqlite3.Error) -> bool:
    return getattr(error, "sqlite_errorname", "") == "SQLITE_READONLY_ROLLBACK"


def _read_tables(
    connection: sqlite3.Connection, path: Path
) -> tuple[int, dict[str, tuple[str, ...]]]:
    """SQLite's schema cookie (PRAGMA schema_version, which every change to the schema moves:
    adoption compares it inside its transaction), then each table's columns."""
    try:
        version = connection.execute("PRAGMA schema_version").fetchone()[0]
        return version, table_columns(connection)
    except sqlite3.DatabaseError as error:
        raise _read_refusal(path, error) from error


def _check_integrity(connection: sqlite3.Connection, path: Path) -> None:
    try:
        rows = [row[0] for row in connection.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as error:
        raise _read_refusal(path, error) from error
    if rows != ["ok"]:
        raise _corrupt_error(path, "; ".join(rows))


def _read_refusal(path: Path, error: sqlite3.DatabaseError) -> LegacyDbError:
    """What SQLite's error on reading the file means. Only SQLite's own word for damage
    (SQLITE_CORRUPT, SQLITE_NOTADB) is called damage, whose advice (restore a backup) throws
    the file's newest data away: a file that cannot be opened (SQLITE_CANTOPEN), or another
    error, says so instead."""
    name = getattr(error, "sqlite_errorname", "")
    if _is_hot_journal(error):
        return _hot_journal_error(path, path.with_name(f"{path.name}-journal"))
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(error):
        return locked_error(path, error)
    if _is_damage(error):
        return _corrupt_error(path, str(error))
    if name.startswith("SQLITE_CANTOPEN"):
        return _cannot_open_error(path, error)
    return LegacyDbError(
        LegacyDbProblem.FAILED,
        f"SQLite cannot read {path}: it reports '{error}' ({name or 'no error code'}). This is "
        "not known to be damage: do not restore a backup over the file for it. Look at the "
        "file, its folder and its disk, and run again; nothing was changed.",
    )


def damage_refusal(path: Path, error: BaseException) -> LegacyDbError | None:
    """The refusal of a damaged file where `error` (SQLite's, or Django's wrapping it) is
    SQLite's word for damage met while reading the file; else None."""
    driver = error if isinstance(error, sqlite3.Error) else error.__cause__
    if _is_damage(driver):
        return _corrupt_error(path, str(driver))
    return None


def _is_damage(error: BaseException | None) -> bool:
    """Whether `error` is SQLite's own word for a damaged file (SQLITE_CORRUPT, SQLITE_NOTADB)."""
    name = getattr(error, "sqlite_errorname", "")
    return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))


def _cannot_open_error(path: Path, error: sqlite3.Error) -> LegacyDbError:
    """SQLite cannot open the file's content: in WAL mode (which `migrate` leaves a file in) a
    reader needs `-shm` beside the file, which a folder that cannot be written does not allow
    SQLite to make; that is the folder's refusal (7), as `migrate`'s. Else the file cannot be
    opened (its -wal or -shm, or the folder's permissions): said as such."""
    shm = path.with_name(f"{path.name}-shm")
    folder = path.parent
    why = "it is marked read-only" if _marked_read_only(folder) else _unwritable(folder)
    if why is not None and not os.path.lexists(shm):
        return LegacyDbError(
            LegacyDbProblem.READ_ONLY,
            f"{path} cannot be opened, and is not damaged: it is in WAL mode, so SQLite must "
            f"make {shm.name} beside it to read it, and its folder {folder} cannot be written "
            f"({why}; SQLite reports '{error}'). Do not restore a backup over it. Make the "
            "folder writable, or copy the file (with its -wal, if there is one) into a writable "
            "folder and point DATABASE_URL at the copy; nothing was changed.",
        )
    return LegacyDbError(
        LegacyDbProblem.FAILED,
        f"{path} cannot be opened: SQLite reports '{error}'. This is not known to be damage: "
        "do not restore a backup over the file for it. Check that this user may read the file "
        f"and write its folder {folder}, and that the {path.name}-wal and {shm.name} beside "
        "it, if there are any, are plain files it may read and write; nothing was changed.",
    )


def _refuse_an_unsupported_schema(
    connection: sqlite3.Connection, path: Path, tables: dict[str, tuple[str, ...]]
) -> None:
    """Refuse a file not adopted that holds no supported Fractal Goals schema, as _classify
    does, without counting its rows: a legacy file of a schema no supported variant has, and a
    database of someone else's tables (5)."""
    if "django_migrations" in tables and _baseline_recorded(connection):
        return
    _classify(connection, path, tables, count=False)


def _classify(
    connection: sqlite3.Connection,
    path: Path,
    tables: dict[str, tuple[str, ...]],
    *,
    count: bool = True,
) -> LegacyDbInspection:
    legacy_present = [name for name in LEGACY_TABLES if name in tables]
    if "django_migrations" in tables and _baseline_recorded(connection):
        return LegacyDbInspection(
            path=path,
            state=DbState.ADOPTED,
            row_counts=_row_counts(connection, legacy_present),
        )
    if "practice_sessions" in tables and "goals" in tables:
        raise _unsupported(path, "pre_sti")
    if not legacy_present:
        if not tables or all(name.startswith(("django_", "auth_")) for name in tables):
            return LegacyDbInspection(path=path, state=DbState.NEW)
        raise LegacyDbError(
            LegacyDbProblem.FOREIGN,
            f"{path} is a SQLite database without Fractal Goals tables "
            f"(found: {', '.join(sorted(tables)[:10])}). Point DATABASE_URL at a Fractal "
            "Goals database (goals.db or goals_dev.db), or at a new file to start empty.",
        )
    found = {name: frozenset(tables[name]) for name in legacy_present}
    matched = _match_variant(found)
    if matched is None:
        raise LegacyDbError(
            LegacyDbProblem.UNSUPPORTED_SCHEMA,
            f"{path} has Fractal Goals tables but matches no supported schema: "
            f"{_describe_difference(found)}. Supported: "
            f"{', '.join(f'{v.name} ({v.description})' for v in VARIANTS.values() if v.supported)}"
            ". Nothing was changed.",
        )
    variant, extra = matched
    if not VARIANTS[variant].supported:
        raise _unsupported(path, variant)
    return LegacyDbInspection(
        path=path,
        state=DbState.LEGACY,
        variant=variant,
        row_counts=_row_counts(connection, legacy_present) if count else {},
        other_tables=tuple(sorted(set(tables) - set(LEGACY_TABLES))),
        extra_columns=extra,
    )


def _match_variant(
    found: dict[str, frozenset[str]],
) -> tuple[str, dict[str, tuple[str, ...]]] | None:
    """The variant whose tables the file has with every column, and the columns left over.

    An exact match wins; otherwise the variant leaving the fewest extra columns. A table missing
    a column of the variant never matches: adoption cannot invent its values.
    """
    best: tuple[int, str, dict[str, tuple[str, ...]]] | None = None
    for variant in VARIANTS.values():
        expected = {
            name: cols
            for name, cols in variant_columns(variant.name).items()
            if name in LEGACY_TABLES
        }
        if set(found) != set(expected) or any(not expected[t] <= found[t] for t in found):
            continue
        extra = {t: tuple(sorted(found[t] - expected[t])) for t in found if found[t] - expected[t]}
        count = sum(len(columns) for columns in extra.values())
        if best is None or count < best[0]:
            best = (count, variant.name, extra)
    return None if best is None else (best[1], best[2])


def _describe_difference(found: dict[str, frozenset[str]]) -> str:
    expected = variant_columns("dev")
    parts: list[str] = []
    missing_tables = [name for name in LEGACY_TABLES if name not in found]
    if missing_tables:
        parts.append(f"missing tables {', '.join(missing_tables)}")
    for name, columns in found.items():
        unknown = sorted(columns - expected[name])
        absent = sorted(expected[name] - columns)
        if unknown:
            parts.append("unknown columns " + ", ".join(f"{name}.{col}" for col in unknown))
        if absent:
            parts.append("missing columns " + ", ".join(f"{name}.{col}" for col in absent))
    return "; ".join(parts) or "unrecognised table layout"


def _baseline_recorded(connection: sqlite3.Connection) -> bool:
    row = connection.execute(
        "SELECT 1 FROM django_migrations WHERE app = ? AND name = ?", BASELINE_MIGRATION
    ).fetchone()
    return row is not None


def _row_counts(connection: sqlite3.Connection, tables: list[str]) -> dict[str, int]:
    return {
        name: connection.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]  # noqa: S608
        for name in tables
    }


def _unsupported(path: Path, variant: str) -> LegacyDbError:
    supported = ", ".join(v.name for v in VARIANTS.values() if v.supported)
    return LegacyDbError(
        LegacyDbProblem.UNSUPPORTED_SCHEMA,
        f"{path} uses the unsupported '{variant}' legacy schema "
        f"({VARIANTS[variant].description}). Supported schemas: {supported}. "
        "Nothing was changed.",
    )


def locked_error(path: Path, error: Exception) -> LegacyDbError:
    return LegacyDbError(
        LegacyDbProblem.LOCKED,
        f"{path} is locked by another process ({error}). Stop the program that is using it "
        "(the old app, another migrate) and try again; nothing was changed.",
    )


def _hot_journal_error(path: Path, journal: Path) -> LegacyDbError:
    return LegacyDbError(
        LegacyDbProblem.HOT_JOURNAL,
        f"{path} is not damaged, but a write to it was cut off: {journal} holds what is needed "
        "to undo it (a program using the file was killed in the middle of a transaction). Do "
        "not restore an older backup, which would lose the newest data. The next connection "
        "that may write rolls it back: run `manage.py adopt_legacy_db --recover` (only that), "
        "or `manage.py migrate`, which does it first; this command changes nothing, so it stops "
        "here.",
    )


def _corrupt_error(path: Path, detail: str) -> LegacyDbError:
    return LegacyDbError(
        LegacyDbProblem.CORRUPT,
        f"{path} is damaged: SQLite reports '{detail}'. Restore it from a backup "
        "(manage.py restore_db, or your own copy); nothing was changed.",
    )
