"""DATABASE_URL: an SQLite path with '#' or '?' in it is refused unless written as %23 / %3F; a
URL that names no database (cut short, an unknown scheme, a bare path) or an SQLite option that
SQLite cannot take is refused with exit 2 before any command runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from goals_project.bases.exit_codes import Exit
from goals_project.database_url import database_from_url, sqlite_url
from tests.conftest import manage_process

SQLITE = "django.db.backends.sqlite3"


def test_sqlite_url_cut_at_a_hash_is_refused():
    """A '#' ends a URL: the rest of the path would be dropped, so the URL is refused."""
    url = "sqlite:////data/fractal#2/goals.db"
    with pytest.raises(ImproperlyConfigured) as raised:
        database_from_url(url)
    assert str(raised.value) == (
        "DATABASE_URL sqlite:////data/fractal#2/goals.db has a '#' in it: a URL ends there, so "
        "it would open the SQLite file /data/fractal instead. Write '#' in a file name as %23 "
        "and '?' as %3F: sqlite:////data/fractal%232/goals.db."
    )


def test_sqlite_url_with_a_question_mark_in_the_file_name_is_refused():
    """A '?' ends a URL's path; what follows must be connection options, or it is refused."""
    url = "sqlite:////data/what?.db"
    with pytest.raises(ImproperlyConfigured) as raised:
        database_from_url(url)
    assert str(raised.value) == (
        "DATABASE_URL sqlite:////data/what?.db has a '?' in it: a URL's path ends there and "
        "'.db' is not a list of SQLite connection options (name=value: cached_statements, "
        "check_same_thread, detect_types, init_command, isolation_level, timeout, "
        "transaction_mode), so it would open the SQLite file /data/what instead. Write '#' in "
        "a file name as %23 and '?' as %3F: sqlite:////data/what%3F.db."
    )
    with pytest.raises(ImproperlyConfigured, match=r"'size=2\.db' is not a list of SQLite"):
        database_from_url("sqlite:////data/what?size=2.db")


def test_percent_encoded_hash_and_question_mark_name_the_file():
    """%23 and %3F stand for '#' and '?' in the file name; real options still work."""
    assert database_from_url("sqlite:////data/a%23b%3F.db")["NAME"] == "/data/a#b?.db"
    config = database_from_url("sqlite:////data/goals.db?timeout=5")
    assert (config["NAME"], config["OPTIONS"]) == ("/data/goals.db", {"timeout": 5})
    assert database_from_url(sqlite_url(Path("/data/x#1?/goals.db")))["NAME"] == (
        "/data/x#1?/goals.db"
    )
    memory = database_from_url("sqlite:///:memory:")
    assert (memory["ENGINE"], memory["NAME"]) == (SQLITE, ":memory:")


def test_migrate_refuses_a_database_url_cut_at_a_hash(tmp_path):
    """migrate with '#' in an SQLite path stops before creating any file, with exit 2."""
    url = f"sqlite:///{tmp_path}/fractal#2.db"
    result = manage_process(url, "migrate", "--no-backup")
    assert result.returncode == Exit.USAGE, result.stderr
    assert result.stderr == (
        f"DATABASE_URL {url} has a '#' in it: a URL ends there, so it would open the SQLite "
        f"file {tmp_path}/fractal instead. Write '#' in a file name as %23 and '?' as %3F: "
        f"sqlite:///{tmp_path}/fractal%232.db.\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_migrate_creates_the_database_at_a_percent_encoded_path(tmp_path):
    """Written as %23 and %3F, the path is the file migrate creates and migrates."""
    folder = tmp_path / "fractal#2?"
    folder.mkdir()
    result = manage_process(
        sqlite_url(folder / "goals.db"), "migrate", "--no-backup", "--verbosity", "0"
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fractal#2?"]
    assert "goals.db" in [p.name for p in folder.iterdir()]


CUT_SHORT = (
    "is cut short: it names no SQLite file, so it would open a database in memory that is gone "
    "when the command ends. Write the file's path after sqlite:/// (sqlite:////home/me/goals.db "
    "for /home/me/goals.db), or sqlite:///:memory: if a database in memory is what you mean."
)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///?timeout=5"])
def test_sqlite_url_cut_short_is_refused(url):
    """dj-database-url reads an SQLite URL without a path as a database in memory, which migrate
    would migrate and lose: refused; sqlite:///:memory: still asks for one."""
    with pytest.raises(ImproperlyConfigured) as raised:
        database_from_url(url)
    assert str(raised.value) == f"DATABASE_URL {url} {CUT_SHORT}"
    for memory in ("sqlite:///:memory:", "sqlite://:memory:"):
        assert database_from_url(memory)["NAME"] == ":memory:"


@pytest.mark.parametrize("url", ["sqlite://home/me/goals.db", "sqlite:/home/me/goals.db"])
def test_sqlite_url_without_three_slashes_is_refused(url):
    """`sqlite://home/me/goals.db` would open the relative path me/goals.db (the host dropped),
    `sqlite:/home/me/goals.db` home/me/goals.db: refused, naming that file."""
    opened = "me/goals.db" if url.startswith("sqlite://") else "home/me/goals.db"
    with pytest.raises(ImproperlyConfigured) as raised:
        database_from_url(url)
    assert str(raised.value) == (
        f"DATABASE_URL {url} does not start with sqlite:/// (three slashes, then the path), so "
        f"it would open the SQLite file {opened} instead. Write sqlite:/// and the file's path: "
        "sqlite:////home/me/goals.db for /home/me/goals.db, sqlite:///goals.db for goals.db in "
        "the current folder."
    )


def test_sqlite_options_are_read_as_sqlite_takes_them():
    """The options' text becomes the values sqlite3.connect() and Django's backend take; one
    that SQLite cannot take, or given twice, is refused, not left to fail on connecting."""
    config = database_from_url(
        "sqlite:////data/goals.db?timeout=2.5&transaction_mode=immediate&check_same_thread=false"
        "&init_command=PRAGMA%20cache_size%3D10&cached_statements=0&isolation_level="
    )
    assert config["OPTIONS"] == {
        "timeout": 2.5,
        "transaction_mode": "IMMEDIATE",
        "check_same_thread": False,
        "init_command": "PRAGMA cache_size=10",
        "cached_statements": 0,
        "isolation_level": "",
    }
    assert "OPTIONS" not in database_from_url("sqlite:////data/goals.db")
    with pytest.raises(ImproperlyConfigured) as raised:
        database_from_url("sqlite:////data/goals.db?timeout=abc")
    assert str(raised.value) == (
        "DATABASE_URL sqlite:////data/goals.db?timeout=abc gives the SQLite option timeout the "
        "value 'abc', which SQLite cannot take: it takes a number of seconds, 0 or more, such "
        "as 20 or 2.5. Correct it, or leave timeout out of the URL."
    )
    for option, takes in (
        ("detect_types=x", "a whole number"),
        ("check_same_thread=maybe", "true or false"),
        ("isolation_level=serial", "empty or one of DEFERRED, IMMEDIATE, EXCLUSIVE"),
        ("transaction_mode=", "one of DEFERRED, IMMEDIATE, EXCLUSIVE"),
        ("timeout=-1", "a number of seconds, 0 or more"),
    ):
        with pytest.raises(ImproperlyConfigured, match=f"it takes {takes}"):
            database_from_url(f"sqlite:////data/goals.db?{option}")
    with pytest.raises(ImproperlyConfigured) as raised:
        database_from_url("sqlite:////data/goals.db?timeout=1&timeout=2")
    assert str(raised.value) == (
        "DATABASE_URL sqlite:////data/goals.db?timeout=1&timeout=2 gives the SQLite option "
        "timeout more than once. Give it once."
    )


@pytest.mark.parametrize(
    "written",
    [
        "cut short",
        "an unknown scheme",
        "a bare path",
        "empty",
        "a bad timeout",
        "a bad port",
    ],
)
def test_migrate_refuses_a_database_url_that_names_no_database(written, tmp_path):
    """A DATABASE_URL that names no database, or an option SQLite cannot take, stops migrate
    with its message and exit 2 before anything is made: no traceback, no database migrated in
    memory, no file created."""
    path = tmp_path / "goals.db"
    url, message = {
        "cut short": ("sqlite://", f"DATABASE_URL sqlite:// {CUT_SHORT}"),
        "an unknown scheme": (
            f"sqllite:///{path}",
            "DATABASE_URL starts with 'sqllite://', which is no database's scheme. Write "
            "sqlite:/// and the file's path for an SQLite file (sqlite:////home/me/goals.db), "
            "or postgres://user:password@host:5432/name for PostgreSQL.",
        ),
        "a bare path": (
            str(path),
            f"DATABASE_URL {path} is not a database URL: it has no scheme such as sqlite:/// or "
            f"postgres://. For the SQLite file {path} write sqlite:///{path}.",
        ),
        "empty": (
            "",
            "DATABASE_URL is set but empty. Set it to sqlite:/// and the file's path "
            "(sqlite:////home/me/goals.db), or unset it for the default file.",
        ),
        "a bad timeout": (
            f"sqlite:///{path}?timeout=abc",
            f"DATABASE_URL sqlite:///{path}?timeout=abc gives the SQLite option timeout the "
            "value 'abc', which SQLite cannot take: it takes a number of seconds, 0 or more, "
            "such as 20 or 2.5. Correct it, or leave timeout out of the URL.",
        ),
        "a bad port": (
            "postgres://fractal:secret@localhost:port/goals",
            "DATABASE_URL cannot be read as a URL (This string is not a valid url, possibly "
            "because some of its parts is not properly urllib.parse.quote()'ed). Write it as "
            "postgres://user:password@host:5432/name, or sqlite:/// and the file's path.",
        ),
    }[written]
    result = manage_process(url, "migrate", "--no-backup")
    assert result.returncode == Exit.USAGE, result.stderr
    assert result.stderr == f"{message}\n"
    assert "secret" not in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "FRACTAL_SQLITE_TIMEOUT",
            "abc",
            "FRACTAL_SQLITE_TIMEOUT='abc' is not a number of seconds, 0 or more; unset it for 20.",
        ),
        (
            "FRACTAL_BACKUP_MIN_FREE_BYTES",
            "-3",
            "FRACTAL_BACKUP_MIN_FREE_BYTES='-3' is not a whole number of bytes, 0 or more; unset "
            "it for 0.",
        ),
        (
            "FRACTAL_BACKUP_BEFORE_MIGRATE",
            "maybe",
            "FRACTAL_BACKUP_BEFORE_MIGRATE='maybe' is neither on (1, true, yes, on) nor off (0, "
            "false, no, off); unset it for on.",
        ),
        (
            "DJANGO_DEBUG",
            "2",
            "DJANGO_DEBUG='2' is neither on (1, true, yes, on) nor off (0, false, no, off); unset "
            "it for off.",
        ),
        (
            "FRACTAL_TIME_ZONE",
            "Mars/Olympus",
            "FRACTAL_TIME_ZONE='Mars/Olympus' is no time zone the zone database knows. Set it to "
            "a name such as Europe/Paris or America/New_York (the zone the legacy app ran in), or "
            "unset it for UTC.",
        ),
    ],
)
def test_a_setting_that_is_no_number_is_refused_before_any_command(
    variable, value, message, tmp_path, monkeypatch
):
    """A number, switch or zone setting that is none stops every command with its message and
    exit 2 (it was a traceback and exit 1, or for a switch, off without a word: a typo in
    FRACTAL_BACKUP_BEFORE_MIGRATE skipped the backup), before anything is made."""
    monkeypatch.setenv(variable, value)
    result = manage_process(f"sqlite:///{tmp_path / 'goals.db'}", "migrate", "--no-backup")
    assert result.returncode == Exit.USAGE, result.stderr
    assert result.stderr == f"{message}\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("value", "backed_up"), [("", True), (" Yes ", True), ("off", False)])
def test_backup_before_migrate_is_on_unless_switched_off(
    value, backed_up, make_legacy_db, monkeypatch
):
    """An empty FRACTAL_BACKUP_BEFORE_MIGRATE (a line of an env file left blank) keeps the
    backup of a legacy file; a word for off turns it off."""
    monkeypatch.setenv("FRACTAL_BACKUP_BEFORE_MIGRATE", value)
    path = make_legacy_db("dev")
    result = manage_process(f"sqlite:///{path}", "migrate")
    assert result.returncode == 0, result.stderr
    assert ("Backing up before migrating" in result.stdout) is backed_up
    assert (path.parent / "backups").is_dir() is backed_up
