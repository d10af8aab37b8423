"""PostgreSQL for the benchmarks: a throw-away cluster (scripts/postgres) and legacy data in it.

A legacy file reaches PostgreSQL the way the test suite puts it there: the baseline migrations
(`0001_legacy_baseline`) create the legacy tables, then every row is copied in unchanged (COPY,
streamed, never the whole table in memory). Copies for each measurement are made with
`CREATE DATABASE ... TEMPLATE`, so every run starts from the same bytes.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench.common import PYTHON, ROOT, django_env, log

BATCH = 5_000


@contextlib.contextmanager
def cluster() -> Iterator[str]:
    """A running throw-away cluster; yields the URL of its `postgres` database."""
    directory = tempfile.mkdtemp(prefix="fractal-bench-pg.")
    url = subprocess.run(  # noqa: S603 - our own script
        [str(ROOT / "scripts" / "postgres"), "start", directory],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    try:
        yield database_url(url, "postgres")
    finally:
        subprocess.run(  # noqa: S603 - our own script
            [str(ROOT / "scripts" / "postgres"), "stop", directory], check=False
        )


def database_url(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    """(Re)create database `name`, empty or as a copy of `template`; returns its URL."""
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        suffix = f' TEMPLATE "{template}"' if template else ""
        connection.execute(f'CREATE DATABASE "{name}"{suffix}')
    return database_url(server_url, name)


def load_legacy(server_url: str, name: str, legacy: Path) -> str:
    """A database at the baseline migrations holding every row of the legacy file."""
    from goals_project.maintenance.legacy.schemas import LEGACY_TABLES

    url = create_database(server_url, name)
    log(f"loading {legacy.name} into PostgreSQL database {name}")
    for target in ("goals", "practice_sessions"):
        subprocess.run(  # noqa: S603 - our own manage.py
            [
                PYTHON,
                str(ROOT / "manage.py"),
                "migrate",
                target,
                "0001_legacy_baseline",
                "--no-backup",
                "--verbosity",
                "0",
            ],
            check=True,
            cwd=ROOT,
            env=django_env(url),
        )
    source = sqlite3.connect(f"file:{legacy}?mode=ro", uri=True)
    try:
        with psycopg.connect(url) as connection:
            for table in LEGACY_TABLES:
                _copy_table(source, connection, table)
            connection.execute("ANALYZE")
    finally:
        source.close()
    return url


def _copy_table(source: sqlite3.Connection, connection: psycopg.Connection, table: str) -> None:
    boolean = {
        name
        for (name,) in connection.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = %s AND data_type = 'boolean'",
            (table,),
        )
    }
    cursor = source.execute(f'SELECT * FROM "{table}"')
    columns = [description[0] for description in cursor.description]
    flags = [name in boolean for name in columns]
    names = ", ".join(f'"{name}"' for name in columns)
    with connection.cursor() as target, target.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        while rows := cursor.fetchmany(BATCH):
            for row in rows:
                copy.write_row(
                    [
                        bool(value) if flag and value is not None else value
                        for flag, value in zip(flags, row, strict=True)
                    ]
                )
