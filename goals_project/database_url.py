"""DATABASE_URL read into a Django DATABASES entry, refusing URLs that name no database, or
another SQLite file than the one written.

In a URL, '#' starts a fragment and '?' a query: `sqlite:////data/a#b.db` names `/data/a`, and
dj-database-url reads what follows '?' as connection options, silently dropping a part without
'='. A file name with those characters must be written with %23 and %3F.

dj-database-url also reads `sqlite://` and `sqlite:///` (a URL cut short) as an in-memory
database, which `migrate` would migrate and lose, and `sqlite://home/x.db` as the relative path
`x.db` (the host dropped); it hands the options' text on to sqlite3.connect() unchecked, which
fails with a TypeError on the first connection (`?timeout=abc`, `?timeout=2.5`), and raises its
own errors for a URL of an unknown scheme or a bare path. Every one of these is refused here with
ImproperlyConfigured, which manage.py reports as a usage error (exit 2) before any command runs;
an in-memory database is still what `sqlite:///:memory:` asks for (the test suite uses it).
"""

from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

SQLITE_ENGINE = "django.db.backends.sqlite3"
SQLITE_MEMORY_URL = "sqlite://:memory:"  # dj-database-url's own spelling of an in-memory database
TRANSACTION_MODES = ("DEFERRED", "IMMEDIATE", "EXCLUSIVE")


def _whole_number(text: str) -> int:
    if not text.isdigit():
        raise ValueError("a whole number")
    return int(text)


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("a number of seconds, 0 or more, such as 20 or 2.5")
    return seconds


def _true_or_false(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise ValueError("true or false")
    return text.lower() == "true"


def _isolation_level(text: str) -> str:
    if text.upper() not in ("", *TRANSACTION_MODES):
        raise ValueError(f"empty or one of {', '.join(TRANSACTION_MODES)}")
    return text.upper()


def _transaction_mode(text: str) -> str:
    if text.upper() not in TRANSACTION_MODES:
        raise ValueError(f"one of {', '.join(TRANSACTION_MODES)}")
    return text.upper()


# What Django's SQLite backend accepts in OPTIONS: sqlite3.connect()'s keywords that a URL can
# carry, plus the backend's own `init_command` and `transaction_mode`; each with what turns the
# URL's text into the value they take (ValueError saying what they take).
SQLITE_OPTIONS = {
    "cached_statements": _whole_number,
    "check_same_thread": _true_or_false,
    "detect_types": _whole_number,
    "init_command": str,
    "isolation_level": _isolation_level,
    "timeout": _seconds,
    "transaction_mode": _transaction_mode,
}


def sqlite_url(path: Path) -> str:
    """The DATABASE_URL of an SQLite file, whatever characters its path holds."""
    return f"sqlite:///{quote(str(path))}"


def postgres_shown(config: dict) -> str:
    """A PostgreSQL database of Django's `config` as a URL without its password, for
    messages."""
    user = f"{config['USER']}@" if config.get("USER") else ""
    port = f":{config['PORT']}" if config.get("PORT") else ""
    return f"postgres://{user}{config.get('HOST') or 'localhost'}{port}/{config.get('NAME')}"


def database_from_url(url: str) -> dict:
    """Django's settings for the database at `url`; ImproperlyConfigured for a URL that names no
    database (cut short, of an unknown scheme, a bare path), for an SQLite URL that would open
    another file than the one written ('#', '?', a host), and for an SQLite option whose value
    SQLite cannot take."""
    try:
        config = dj_database_url.parse(url, conn_max_age=0)
    except dj_database_url.UnknownSchemeError as error:
        raise ImproperlyConfigured(_unknown_scheme(url)) from error
    except dj_database_url.ParseError as error:
        raise ImproperlyConfigured(
            f"DATABASE_URL cannot be read as a URL ({str(error).rstrip('.')}). Write it as "
            "postgres://user:password@host:5432/name, or sqlite:/// and the file's path."
        ) from error
    if config["ENGINE"] == SQLITE_ENGINE and url != SQLITE_MEMORY_URL:
        _check_sqlite_url(url, config["NAME"])
        options = _sqlite_options(url)
        config.pop("OPTIONS", None)
        if options:
            config["OPTIONS"] = options
    return config


def _unknown_scheme(url: str) -> str:
    if not url.strip():
        return (
            "DATABASE_URL is set but empty. Set it to sqlite:/// and the file's path "
            "(sqlite:////home/me/goals.db), or unset it for the default file."
        )
    if "://" not in url:
        return (
            f"DATABASE_URL {url} is not a database URL: it has no scheme such as sqlite:/// or "
            f"postgres://. For the SQLite file {url} write {sqlite_url(Path(url))}."
        )
    scheme = url.split("://", 1)[0]  # only the scheme: the rest may hold a password
    return (
        f"DATABASE_URL starts with '{scheme}://', which is no database's scheme. Write "
        "sqlite:/// and the file's path for an SQLite file (sqlite:////home/me/goals.db), or "
        "postgres://user:password@host:5432/name for PostgreSQL."
    )


def _check_sqlite_url(url: str, name: str) -> None:
    parts = urlsplit(url)
    if not parts.netloc and parts.path in ("", "/"):
        raise ImproperlyConfigured(
            f"DATABASE_URL {url} is cut short: it names no SQLite file, so it would open a "
            "database in memory that is gone when the command ends. Write the file's path after "
            "sqlite:/// (sqlite:////home/me/goals.db for /home/me/goals.db), or sqlite:///:memory: "
            "if a database in memory is what you mean."
        )
    if parts.netloc or not url[len(parts.scheme) :].startswith(":///"):
        raise ImproperlyConfigured(
            f"DATABASE_URL {url} does not start with sqlite:/// (three slashes, then the path), "
            f"so it would open the SQLite file {name} instead. Write sqlite:/// and the file's "
            "path: sqlite:////home/me/goals.db for /home/me/goals.db, sqlite:///goals.db for "
            "goals.db in the current folder."
        )
    intended = url.split("://", 1)[1][1:]  # all after 'sqlite:///', as written
    fix = (
        "Write '#' in a file name as %23 and '?' as %3F: "
        f"sqlite:///{intended.replace('#', '%23').replace('?', '%3F')}."
    )
    if "#" in url:
        raise ImproperlyConfigured(
            f"DATABASE_URL {url} has a '#' in it: a URL ends there, so it would open the SQLite "
            f"file {name} instead. {fix}"
        )
    if parts.query and not _are_options(parts.query):
        raise ImproperlyConfigured(
            f"DATABASE_URL {url} has a '?' in it: a URL's path ends there and '{parts.query}' is "
            "not a list of SQLite connection options (name=value: "
            f"{', '.join(SQLITE_OPTIONS)}), so it would open the SQLite file {name} instead. "
            f"{fix}"
        )


def _sqlite_options(url: str) -> dict:
    """The connection options the URL's query gives, each as the value SQLite takes (read from
    the text as written: dj-database-url drops an empty value and turns a repeated one into a
    list)."""
    options = {}
    for key, text in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key in options:
            raise ImproperlyConfigured(
                f"DATABASE_URL {url} gives the SQLite option {key} more than once. Give it once."
            )
        try:
            options[key] = SQLITE_OPTIONS[key](text)
        except ValueError as error:
            raise ImproperlyConfigured(
                f"DATABASE_URL {url} gives the SQLite option {key} the value '{text}', which "
                f"SQLite cannot take: it takes {error}. Correct it, or leave {key} out of the URL."
            ) from error
    return options


def _are_options(query: str) -> bool:
    try:
        fields = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return False
    return all(key in SQLITE_OPTIONS for key, _ in fields)
