"""Every exit status of the project's commands, one meaning each (README, "Exit statuses").

A command that stops for a reason in this table exits with its number, whichever command it is:
scripts can tell a damaged file from a busy one without reading the message. 0 is success.
"""

from __future__ import annotations

import enum
import textwrap


@enum.unique
class Exit(enum.IntEnum):
    # What the command found.
    NOT_PASSED = 1, "a check did not pass (verify_root_ids, migration_readiness: NOT READY)"
    USAGE = (
        2,
        "an argument or setting names nothing usable: an unknown --database alias, a "
        "database path that does not exist, a DATABASE_URL cut short, a bad option value, an "
        "unknown user or fractal id",
    )
    # The SQLite file (inspection and adoption, before anything changes).
    NOT_SQLITE = 3, "the file is not an SQLite database"
    EMPTY = 4, "the file is empty"
    FOREIGN = 5, "an SQLite database without Fractal Goals tables"
    UNSUPPORTED_SCHEMA = 6, "an unsupported schema, or a table missing a column of its variant"
    READ_ONLY = 7, "a file or folder that cannot be written"
    LOCKED = 8, "the database is locked or held by another process"
    DAMAGED = 9, "the file is damaged"
    NOT_SQLITE_BACKEND = 10, "the command works on SQLite files and the database is not one"
    BUSY = (
        11,
        "another maintenance job (migrate, restore_db, move_to_postgres) holds the database's lock",
    )
    BAD_KEYS = 12, "rows with a NULL, repeated or blob primary key, or a blob reference"
    USER_SCHEMA = 13, "views, triggers or indexes of the user's own on the legacy tables"
    NO_SPACE = 14, "the disk is full, or has too little room for the job"
    INTERRUPTED = 15, "interrupted (Ctrl-C); rolled back"
    HOT_JOURNAL = 16, "a write cut off by a crash waits to be rolled back"
    DATABASE_ERROR = 17, "the database refused the job for another reason (its message says)"
    # The data, when migrating.
    CHECKS_VIOLATED = 18, "rows that the new checks would reject"
    ROOTS_BROKEN = 19, "rows that break the root rule when its constraints are to be added"
    # Backups.
    CANCELLED = 20, "the question was answered no (or could not be asked); nothing changed"
    BACKUP_UNVERIFIED = 21, "a backup does not match its manifest or failed verification"
    OWNED_ELSEWHERE = 22, "a fractal belongs to someone else (assign_fractal_owner --reassign)"
    TOOL_MISSING = 23, "a program the job needs (pg_dump, pg_restore) is not installed"
    # Going back.
    WOULD_DISCARD = (
        24,
        ("going back would discard data written since the migration (listed); nothing changed"),
    )
    # Moving to PostgreSQL.
    TARGET_NOT_EMPTY = 25, "the target database is not empty; nothing was written"
    UNREACHABLE = 26, "the database server cannot be reached or refused the connection"
    NO_PRIVILEGE = 27, "the database user lacks a privilege the job needs; nothing was written"
    SOURCE_NOT_READY = (
        28,
        "the database to move fails verify_root_ids or has migrations to apply; nothing was "
        "written",
    )
    COPY_DIFFERS = (
        29,
        "the copy would differ from the source (the table, row and column named); rolled back",
    )

    def __new__(cls, value: int, meaning: str) -> Exit:
        member = int.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member


# Groups of statuses that several commands share.
ADOPTION = (
    Exit.USAGE,
    Exit.NOT_SQLITE,
    Exit.EMPTY,
    Exit.FOREIGN,
    Exit.UNSUPPORTED_SCHEMA,
    Exit.READ_ONLY,
    Exit.LOCKED,
    Exit.DAMAGED,
    Exit.NOT_SQLITE_BACKEND,
    Exit.BAD_KEYS,
    Exit.USER_SCHEMA,
    Exit.NO_SPACE,
    Exit.INTERRUPTED,
    Exit.HOT_JOURNAL,
    Exit.DATABASE_ERROR,
)
BACKUP = (
    Exit.USAGE,
    Exit.NOT_SQLITE,
    Exit.READ_ONLY,
    Exit.LOCKED,
    Exit.DAMAGED,
    Exit.NO_SPACE,
    Exit.DATABASE_ERROR,
    Exit.BACKUP_UNVERIFIED,
    Exit.TOOL_MISSING,
)


def exit_statuses_help(*codes: Exit) -> str:
    """The exit statuses a command uses, for its --help (argparse epilog)."""
    lines = ["exit statuses:", "  0   done"]
    lines += [
        textwrap.fill(
            code.meaning, width=78, initial_indent=f"  {int(code):<4}", subsequent_indent=" " * 6
        )
        for code in sorted(codes)
    ]
    return "\n".join(lines)
