"""What manage.py says when a PostgreSQL server cannot be reached or refuses a privilege."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections
from django.db.utils import OperationalError, ProgrammingError

from goals_project.bases.exit_codes import Exit
from goals_project.database_url import postgres_shown


@dataclass(frozen=True)
class ServerRefusal:
    message: str
    code: Exit


def server_refusal(error: BaseException) -> ServerRefusal | None:
    """The refusal for `error` when it is PostgreSQL's: the server or database not reached
    (26), a privilege this user lacks (27), a connection option libpq does not know (2); None
    for anything else, which keeps its traceback."""
    import psycopg

    cause = error.__cause__ if isinstance(error, OperationalError | ProgrammingError) else error
    if not isinstance(cause, psycopg.Error):
        return None
    detail = " ".join(str(cause).split()).rstrip(".")
    where = postgres_shown(connections.settings["default"])
    if isinstance(cause, psycopg.errors.InsufficientPrivilege):
        return ServerRefusal(
            f"The database user may not do what this command needs on {where}: {detail}. Grant "
            "the privilege (or run it as the database's owner), then run it again; what it had "
            "not committed was rolled back.",
            Exit.NO_PRIVILEGE,
        )
    if bad_connection_option(detail):
        return ServerRefusal(
            f"DATABASE_URL holds a connection option PostgreSQL does not take: {detail}. "
            "Correct or remove it; nothing was changed.",
            Exit.USAGE,
        )
    if isinstance(cause, psycopg.OperationalError):
        return ServerRefusal(
            f"Cannot connect to {where}: {detail}. Check that the server runs and accepts this "
            "user, and that the database exists (CREATE DATABASE); what the command had not "
            "committed was rolled back.",
            Exit.UNREACHABLE,
        )
    return None


def bad_connection_option(detail: str) -> bool:
    """Whether libpq's `detail` is about the URL's options rather than the server: an option it
    does not know, or a value it (or psycopg) cannot take (`invalid sslmode value: "bogus"`,
    `bad value for connect_timeout: 'abc'`)."""
    return (
        "invalid connection option" in detail
        or detail.startswith("bad value for ")
        or (detail.startswith(("invalid ", "connection is bad: invalid ")) and " value" in detail)
    )
