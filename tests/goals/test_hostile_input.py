"""Hostile and broken legacy files: refused clearly and untouched, or migrated losing nothing."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from goals.legacy.inspection import LegacyDbProblem
from tests.conftest import file_sha256

pytestmark = pytest.mark.sqlite_only


def _truncate_to_half(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize("command", ["migrate", "adopt_legacy_db"])
def test_truncated_file_is_refused_unchanged(command, make_legacy_db, legacy_database):
    """A legacy file cut to half its bytes is refused as damaged and left byte-for-byte as is."""
    path = _truncate_to_half(make_legacy_db("dev"))
    digest = file_sha256(path)
    with (
        legacy_database(path) as alias,
        pytest.raises(
            CommandError, match=r"is damaged: SQLite reports 'database disk image is malformed'"
        ) as raised,
    ):
        call_command(command, database=alias, stdout=StringIO(), stderr=StringIO())
    assert raised.value.returncode == LegacyDbProblem.CORRUPT
    assert file_sha256(path) == digest


@pytest.mark.parametrize("command", ["migrate", "adopt_legacy_db"])
def test_read_only_folder_is_refused_unchanged(command, make_legacy_db, legacy_database):
    """A writable file in a folder marked read-only is refused, and nothing is written there."""
    path = make_legacy_db("dev")
    folder = path.parent
    digest = file_sha256(path)
    folder.chmod(0o555)
    try:
        with (
            legacy_database(path) as alias,
            pytest.raises(
                CommandError, match=rf"The database folder {re.escape(str(folder))} is read-only\."
            ) as raised,
        ):
            call_command(command, database=alias, stdout=StringIO(), stderr=StringIO())
    finally:
        folder.chmod(0o755)
    assert raised.value.returncode == LegacyDbProblem.READ_ONLY
    assert file_sha256(path) == digest
    # No lock file, no backup folder: root could have written them, the refusal comes first.
    assert [entry.name for entry in folder.iterdir()] == [path.name]
