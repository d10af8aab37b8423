"""DATABASE_URL read into a Django DATABASES entry, refusing SQLite URLs that name another file.

In a URL, '#' starts a fragment and '?' a query: `sqlite:////data/a#b.db` names `/data/a`, and
dj-database-url reads what follows '?' as connection options, silently dropping a part without
'='. A file name with those characters must be written with %23 and %3F.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

SQLITE_ENGINE = "django.db.backends.sqlite3"
# What Django's SQLite backend accepts in OPTIONS: sqlite3.connect()'s keywords that a URL can
# carry, plus the backend's own `init_command` and `transaction_mode`.
SQLITE_OPTIONS = (
    "cached_statements",
    "check_same_thread",
    "detect_types",
    "init_command",
    "isolation_level",
    "timeout",
    "transaction_mode",
)


def sqlite_url(path: Path) -> str:
    """The DATABASE_URL of an SQLite file, whatever characters its path holds."""
    return f"sqlite:///{quote(str(path))}"


def database_from_url(url: str) -> dict:
    """Django's settings for the database at `url`; ImproperlyConfigured for an SQLite URL whose
    '#' or '?' would make it open another file than the one written."""
    config = dj_database_url.parse(url, conn_max_age=0)
    if config["ENGINE"] == SQLITE_ENGINE:
        _check_sqlite_url(url, config["NAME"])
    return config


def _check_sqlite_url(url: str, name: str) -> None:
    parts = urlsplit(url)
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


def _are_options(query: str) -> bool:
    try:
        fields = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return False
    return all(key in SQLITE_OPTIONS for key, _ in fields)
