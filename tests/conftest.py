"""Suite-wide fixtures and guards."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis.database import DirectoryBasedExampleDatabase

# Property-based tests: a sample of examples per test, chosen by FRACTAL_HYPOTHESIS_PROFILE:
# "quick" for the everyday `scripts/test`, "default" (plain pytest, and `scripts/test --full` as
# CI runs it), "thorough" for a long run. Examples write to databases whose speed varies on shared
# machines, so there is no deadline; failing examples are kept under .pytest_cache and replayed
# first on the next run. (Tests whose examples cost seconds each take a fraction of max_examples.)
HYPOTHESIS_PROFILES = {"quick": (15, 6), "default": (30, 6), "thorough": (300, 25)}
for _name, (_examples, _steps) in HYPOTHESIS_PROFILES.items():
    hypothesis_settings.register_profile(
        _name,
        max_examples=_examples,
        stateful_step_count=_steps,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=DirectoryBasedExampleDatabase(".pytest_cache/hypothesis"),
        print_blob=True,
    )

VENDORS = {"django.db.backends.sqlite3": "sqlite", "django.db.backends.postgresql": "postgresql"}


def pytest_configure(config: pytest.Config) -> None:
    profile = os.environ.get("FRACTAL_HYPOTHESIS_PROFILE", "default")
    if profile not in HYPOTHESIS_PROFILES:
        raise pytest.UsageError(
            f"FRACTAL_HYPOTHESIS_PROFILE={profile} is not a profile; choose one of: "
            f"{', '.join(HYPOTHESIS_PROFILES)}."
        )
    hypothesis_settings.load_profile(profile)
    expected = os.environ.get("FRACTAL_EXPECT_VENDOR")
    actual = VENDORS.get(settings.DATABASES["default"]["ENGINE"])
    if expected and expected != actual:
        raise pytest.UsageError(
            f"This run must test {expected}, but DATABASE_URL selects {actual}. "
            "Set DATABASE_URL for the database under test."
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("FRACTAL_FAIL_ON_SKIP") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and exitstatus == 0:
        reporter.write_line(f"{skipped} test(s) skipped: a skipped test does not pass here.")
        session.exitstatus = 1


def manage_process(url: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`manage.py` with `args` in a process of its own, on the database at `url` and with no
    backup folder set, its output captured as text; still running after `timeout` seconds, it
    is killed and the test fails."""
    root = Path(__file__).resolve().parents[1]
    return subprocess.run(  # noqa: S603 - the project's manage.py
        [sys.executable, str(root / "manage.py"), *args],
        cwd=root,
        env={**os.environ, "DATABASE_URL": url, "FRACTAL_BACKUP_DIR": ""},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def file_sha256(path: Path) -> str:
    """The hash of a file's bytes, to prove it was left unchanged."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def postgres_url(database: str | None = None, *, user: str | None = None, query: str = "") -> str:
    """A URL on the test run's PostgreSQL server: of `database` (the test database unless
    given, its name quoted), as `user` (without a password) or as the run's own login, with a
    `query` of connection options."""
    from django.db import connection

    config = connection.settings_dict
    credentials = quote(user or config["USER"] or "")
    if config["PASSWORD"] and user is None:
        credentials += f":{quote(config['PASSWORD'])}"
    host = config["HOST"] or "localhost"
    port = f":{config['PORT']}" if config["PORT"] else ""
    name = quote(database or config["NAME"], safe="")
    return f"postgres://{credentials}@{host}{port}/{name}{query}"


def postgres_objects(url: str) -> list[str]:
    """What the PostgreSQL database at `url` holds outside PostgreSQL's own schemas, as
    `schema.name`, to prove a refused or killed move left nothing behind."""
    import psycopg

    with psycopg.connect(url) as connection:
        return [
            row[0]
            for row in connection.execute(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', "
                "'information_schema') AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1"
            )
        ]


LEGACY_ALIAS = "legacy"


@contextlib.contextmanager
def legacy_alias(path: Path, django_db_blocker, **options: object) -> Iterator[str]:
    """Registers the SQLite file at a path as the `legacy` database alias for the block;
    keyword arguments are added to the alias's OPTIONS (e.g. an `init_command`)."""
    config = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": dict(settings.SQLITE_OPTIONS, timeout=1.0, **options),
        "TIME_ZONE": settings.TIME_ZONE,
    }
    configured = connections.configure_settings(
        {"default": connections.settings["default"], LEGACY_ALIAS: config}
    )
    connections.settings[LEGACY_ALIAS] = configured[LEGACY_ALIAS]
    try:
        with django_db_blocker.unblock():
            yield LEGACY_ALIAS
    finally:
        connections[LEGACY_ALIAS].close()
        del connections[LEGACY_ALIAS]
        connections.settings.pop(LEGACY_ALIAS, None)


@pytest.fixture
def legacy_database(django_db_blocker) -> Callable[[Path], contextlib.AbstractContextManager[str]]:
    """`legacy_alias` for a test: `with legacy_database(path) as alias: ...`."""
    return functools.partial(legacy_alias, django_db_blocker=django_db_blocker)


# Generated legacy files, and the same files migrated, are made once per session for each set of
# generator arguments and copied into each test's tmp_path: generating is quick, but migrating a
# file takes seconds. A test about generating or migrating runs the generator or `migrate` itself.
LEGACY_SIZES = {"fractals": 2, "sessions_per_fractal": 12, "seed": 7}


@pytest.fixture(scope="session")
def legacy_files(tmp_path_factory, django_db_blocker) -> Callable[..., Path]:
    """The session's generated legacy file of a variant, migrated or not, for the generator's
    arguments (LEGACY_SIZES unless given); shared by the session, so tests work on copies."""
    made: dict[tuple, Path] = {}

    def get(variant: str = "dev", *, migrated: bool = False, **sizes: int) -> Path:
        sizes = {**LEGACY_SIZES, **sizes}
        key = (variant, migrated, tuple(sorted(sizes.items())))
        if key not in made:
            path = tmp_path_factory.mktemp("legacy") / f"goals_{variant}.db"
            call_command("make_legacy_db", str(path), variant=variant, **sizes, verbosity=0)
            if migrated:
                with legacy_alias(path, django_db_blocker) as alias:
                    call_command("migrate", database=alias, no_backup=True, stdout=StringIO())
                # Closing the last connection folded the write-ahead log into the file.
                assert not Path(f"{path}-wal").exists()
            made[key] = path
        return made[key]

    return get


def _legacy_copy(legacy_files, tmp_path: Path, *, migrated: bool) -> Callable[..., Path]:
    def make(variant: str = "dev", name: str | None = None, **sizes: int) -> Path:
        path = tmp_path / (name or f"goals_{variant}.db")
        shutil.copyfile(legacy_files(variant, migrated=migrated, **sizes), path)
        return path

    return make


@pytest.fixture
def make_legacy_db(legacy_files, tmp_path: Path) -> Callable[..., Path]:
    """Writes a generated legacy database of a variant into tmp_path and returns its path."""
    return _legacy_copy(legacy_files, tmp_path, migrated=False)


@pytest.fixture
def make_migrated_db(legacy_files, tmp_path: Path) -> Callable[..., Path]:
    """Like make_legacy_db, with the file adopted and migrated (`migrate --no-backup`), so in
    WAL mode; for tests of what comes after migrating."""
    return _legacy_copy(legacy_files, tmp_path, migrated=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """Mounts a tmpfs of the given size in bytes, so a test meets a real full disk (ENOSPC).

    Mounting needs root, which the suite has in CI (scripts/test runs as root); a test using it
    fails rather than skips without it. Unmounted lazily after the test, so a file still open
    cannot keep the mount behind.
    """
    mounted: list[Path] = []

    def mount(size: int) -> Path:
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        subprocess.run(  # noqa: S603 - fixed arguments
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(point)],  # noqa: S607
            check=True,
            capture_output=True,
        )
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "--lazy", str(point)], check=True)  # noqa: S603, S607
