"""The two databases the read benchmarks compare: the legacy data as it was, and a migrated copy."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.common import PYTHON, ROOT, django_env, log, migrated_copy, run_measured


@dataclass(frozen=True)
class Pair:
    legacy_url: str
    migrated_url: str


@contextlib.contextmanager
def legacy_and_migrated(backend: str, legacy: Path) -> Iterator[Pair]:
    """The legacy data untouched and a migrated copy of it (SQLite: cached beside the file)."""
    if backend == "sqlite":
        migrated = migrated_copy(legacy, f"migrated_{legacy.stem.removeprefix('legacy_')}.db")
        yield Pair(f"sqlite:///{legacy}", f"sqlite:///{migrated}")
        return
    from bench.postgres import cluster, create_database, load_legacy

    with cluster() as server:
        legacy_url = load_legacy(server, "bench_legacy", legacy)
        migrated_url = create_database(server, "bench_migrated", template="bench_legacy")
        _migrate(migrated_url)
        yield Pair(legacy_url, migrated_url)


def _migrate(url: str) -> None:
    log(f"migrating {url}")
    run_measured(
        [PYTHON, str(ROOT / "manage.py"), "migrate", "--no-backup", "--verbosity", "0"],
        django_env(url),
    )


def django_setup(url: str) -> None:
    """Configure Django in this process for the database at `url`."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "goals_project.settings_dev")
    import django

    django.setup()


def django_alias(alias: str, url: str) -> None:
    """Make the database at `url` reachable as connections[alias] (a SQLite file read-only)."""
    import dj_database_url
    from django.conf import settings
    from django.db import connections

    config = dj_database_url.parse(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["NAME"] = f"file:{config['NAME']}?mode=ro"
        config["OPTIONS"] = {"uri": True}
        config["TIME_ZONE"] = settings.TIME_ZONE
    configured = connections.configure_settings(
        {"default": connections.settings["default"], alias: config}
    )
    connections.settings[alias] = configured[alias]
