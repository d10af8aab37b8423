"""Suite-wide fixtures and guards."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections

VENDORS = {"django.db.backends.sqlite3": "sqlite", "django.db.backends.postgresql": "postgresql"}


def pytest_configure(config: pytest.Config) -> None:
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


def file_sha256(path: Path) -> str:
    """The hash of a file's bytes, to prove it was left unchanged."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


LEGACY_ALIAS = "legacy"


@pytest.fixture
def legacy_database(django_db_blocker) -> Callable[[Path], contextlib.AbstractContextManager[str]]:
    """Registers the SQLite file at a path as the `legacy` database alias for the block;
    keyword arguments are added to the alias's OPTIONS (e.g. an `init_command`)."""

    @contextlib.contextmanager
    def use(path: Path, **options: object) -> Iterator[str]:
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

    return use


@pytest.fixture
def make_legacy_db(tmp_path: Path) -> Callable[..., Path]:
    """Writes a generated legacy database of a variant and returns its path."""

    def make(variant: str = "dev", name: str | None = None, **sizes: int) -> Path:
        path = tmp_path / (name or f"goals_{variant}.db")
        arguments = {"fractals": 2, "sessions_per_fractal": 12, "seed": 7, **sizes}
        call_command(
            "make_legacy_db",
            str(path),
            variant=variant,
            **arguments,
            verbosity=0,
        )
        return path

    return make
