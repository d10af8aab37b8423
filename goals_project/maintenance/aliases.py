"""Connection aliases the maintenance jobs open for a while: a database read without writing
to it, a scratch copy, a move's target."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS, connections


@contextlib.contextmanager
def database_alias(alias: str, config: dict) -> Iterator[str]:
    """`config` reachable as connections[alias] inside the block; closed and forgotten after."""
    configured = connections.configure_settings(
        {DEFAULT_DB_ALIAS: connections.settings[DEFAULT_DB_ALIAS], alias: config}
    )
    connections.settings[alias] = configured[alias]
    try:
        yield alias
    finally:
        with contextlib.suppress(Exception):
            connections[alias].close()
        with contextlib.suppress(AttributeError, KeyError):
            del connections[alias]
        connections.settings.pop(alias, None)


def sqlite_read_only_settings(using: str, path: Path) -> dict:
    """The settings of `using` for its SQLite file at `path` in SQLite's read-only mode.

    Django's own connection would write when it closes (the last connection to a WAL file
    checkpoints it into the file) and would roll back a hot journal when it opens; a read-only
    one does neither, and SQLite refuses every write through it.
    """
    config = dict(connections.settings[using])
    config["NAME"] = f"{path.resolve().as_uri()}?mode=ro"
    config["OPTIONS"] = {
        key: value
        for key, value in config.get("OPTIONS", {}).items()
        if key != "transaction_mode"  # BEGIN IMMEDIATE asks for the write lock
    }
    return config
