"""Copies of the test database at a migration state, taken once and put back in milliseconds.

Migrating the test database from the latest migrations back to the legacy baseline (and forward
again afterwards) takes seconds on either backend; tests that only need the baseline tables, to
load legacy rows into them, get them from a copy instead. On SQLite the in-memory test database is
copied page by page with sqlite3's backup API; on PostgreSQL the test database is dropped and
created again from a template database (`CREATE DATABASE ... TEMPLATE ...`).
"""

from __future__ import annotations

import sqlite3

from django.contrib.contenttypes.models import ContentType
from django.db import connection


class SchemaSnapshots:
    """Named copies of the default test database, whole (schema, rows, applied migrations)."""

    def __init__(self) -> None:
        self._sqlite: dict[str, sqlite3.Connection] = {}
        self._postgresql: dict[str, str] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._sqlite or name in self._postgresql

    def take(self, name: str) -> None:
        self._outside_transactions()
        if connection.vendor == "sqlite":
            copy = sqlite3.connect(":memory:")
            connection.ensure_connection()
            connection.connection.backup(copy)
            self._sqlite[name] = copy
        else:
            template = f"{connection.settings_dict['NAME']}_{name}"
            self._recreate(template, from_database=connection.settings_dict["NAME"])
            self._postgresql[name] = template

    def restore(self, name: str) -> None:
        self._outside_transactions()
        if connection.vendor == "sqlite":
            connection.ensure_connection()
            self._sqlite[name].backup(connection.connection)
        else:
            self._recreate(connection.settings_dict["NAME"], from_database=self._postgresql[name])
        ContentType.objects.clear_cache()

    def drop(self) -> None:
        for copy in self._sqlite.values():
            copy.close()
        if self._postgresql:
            with self._server() as server:
                for template in self._postgresql.values():
                    server.execute(f'DROP DATABASE IF EXISTS "{template}"')
        self._sqlite.clear()
        self._postgresql.clear()

    @staticmethod
    def _outside_transactions() -> None:
        if connection.in_atomic_block:
            raise RuntimeError(
                "A schema snapshot replaces the whole database; use it in a transactional test "
                "(django_db(transaction=True))."
            )

    def _recreate(self, name: str, *, from_database: str) -> None:
        """Database `name` as a copy of `from_database`; no one may be connected to either."""
        connection.close()
        with self._server() as server:
            server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            server.execute(f'CREATE DATABASE "{name}" TEMPLATE "{from_database}"')

    @staticmethod
    def _server():
        """An autocommit connection to the server's `postgres` database."""
        return postgres_connect("postgres", autocommit=True)


def postgres_connect(dbname: str, **options):
    """A psycopg connection to database `dbname` on the test run's server, as the test
    database's settings reach it."""
    import psycopg

    settings = connection.settings_dict
    parameters = {
        "dbname": dbname,
        "user": settings["USER"],
        "password": settings["PASSWORD"],
        "host": settings["HOST"],
        "port": settings["PORT"],
    }
    return psycopg.connect(**{key: value for key, value in parameters.items() if value}, **options)
