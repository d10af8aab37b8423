"""Suite-wide fixtures and guards."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis.database import DirectoryBasedExampleDatabase

# Property-based tests: a quick sample by default; FRACTAL_HYPOTHESIS_PROFILE=thorough for a long
# run. Examples write to databases whose speed varies on shared machines, so there is no deadline;
# failing examples are kept under .pytest_cache and replayed first on the next run. (Tests whose
# examples cost seconds each take a fraction of max_examples.)
HYPOTHESIS_PROFILES = {"default": (30, 6), "thorough": (300, 25)}
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
