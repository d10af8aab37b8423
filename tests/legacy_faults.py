"""Legacy files with faults from outside (bad keys, schema objects of the user's own, a write
cut off by a kill, a -wal left behind), and what the commands say about each."""

from __future__ import annotations

import collections
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import file_sha256

BAD_KEYS = {
    "a NULL id": (
        "INSERT INTO goals (id, type, name) VALUES (NULL, 'UltimateGoal', 'A goal without id')",
        '  - goals: 1 row(s) with a NULL id (find them: SELECT rowid, * FROM "goals" '
        'WHERE "id" IS NULL;)',
    ),
    "an id used twice": (
        # A table some tool rebuilt without its key, then a row copied.
        "CREATE TABLE copied AS SELECT * FROM metric_values; DROP TABLE metric_values; "
        "ALTER TABLE copied RENAME TO metric_values; "
        "INSERT INTO metric_values SELECT * FROM metric_values ORDER BY id LIMIT 1;",
        "  - metric_values: 1 id value(s) used by more than one row (first: '{first}'; find "
        'them: SELECT rowid, * FROM "metric_values" WHERE ("id") IN (SELECT "id" FROM '
        '"metric_values" WHERE NOT ("id" IS NULL) GROUP BY "id" HAVING COUNT(*) > 1);)',
    ),
    "a link's key stored as a blob": (
        # A key column that is also a reference: named once, as a key.
        "UPDATE practice_session_goals SET practice_session_id = X'6363' "
        "WHERE rowid = (SELECT MIN(rowid) FROM practice_session_goals)",
        "  - practice_session_goals: 1 row(s) whose practice_session_id is a blob, not text "
        "(first: X'6363'; find them: SELECT rowid, * FROM \"practice_session_goals\" WHERE "
        "typeof(\"practice_session_id\") = 'blob';)",
    ),
    "an id stored as a blob": (
        # Reads as the text 'cc' but equals no text: not a key the adopted tables can use.
        "INSERT INTO goals (id, type, name) VALUES (X'6363', 'UltimateGoal', 'A blob id')",
        "  - goals: 1 row(s) whose id is a blob, not text (first: X'6363'; find them: "
        'SELECT rowid, * FROM "goals" WHERE typeof("id") = \'blob\';)',
    ),
}


def bad_keys_message(path: Path, line: str) -> str:
    """The refusal of a file whose rows have NULL, repeated or blob primary keys."""
    return (
        f"{path} has rows whose primary key is missing, repeated or not text, which the adopted "
        f"tables cannot hold:\n{line}\nGive each of these rows a text key of its own (after a "
        "backup), then run again; nothing was changed."
    )


BLOB_REFERENCES = {
    "a split stored as the blob of text": (
        # Reads as the text 'cc' but equals no text: no split is ever found by it.
        "UPDATE metric_values SET split_definition_id = X'6363' "
        "WHERE id = (SELECT MIN(id) FROM metric_values)",
        "  - metric_values.split_definition_id: 1 split_definitions id(s) (first: X'6363'); store "
        "them as text (after a backup): UPDATE metric_values SET split_definition_id = "
        "CAST(split_definition_id AS TEXT) WHERE typeof(split_definition_id) = 'blob'",
    ),
    "a root stored as bytes that are no text": (
        "UPDATE session_templates SET root_id = X'ff41' "
        "WHERE id = (SELECT MIN(id) FROM session_templates)",
        "  - session_templates.root_id: 1 goals id(s) (first: X'ff41'); some are no text that "
        "makes an id, so casting them would not help: set each to the id it stands for (after a "
        "backup); find them with: SELECT rowid, * FROM session_templates WHERE typeof(root_id) "
        "= 'blob'",
    ),
    "two columns of one table, one with a blob that reads as a number": (
        # X'3132' reads as '12', which a column declared STRING (numeric affinity) would store
        # as the number 12: a cast would not make it an id, though X'6565' ('ee') alone would.
        "UPDATE metric_values SET activity_instance_id = X'6464', split_definition_id = X'6565' "
        "WHERE id = (SELECT MIN(id) FROM metric_values); "
        "UPDATE metric_values SET split_definition_id = X'3132' "
        "WHERE id = (SELECT MAX(id) FROM metric_values)",
        "  - metric_values.activity_instance_id: 1 activity_instances id(s) (first: X'6464'); "
        "store them as text (after a backup): UPDATE metric_values SET activity_instance_id = "
        "CAST(activity_instance_id AS TEXT) WHERE typeof(activity_instance_id) = 'blob'\n"
        "  - metric_values.split_definition_id: 2 split_definitions id(s) (first: X'3132', "
        "X'6565'); some are no text that makes an id, so casting them would not help: set each "
        "to the id it stands for, or to NULL where it stands for none (after a backup); find "
        "them with: SELECT rowid, * FROM metric_values WHERE typeof(split_definition_id) = "
        "'blob'",
    ),
}


def blob_references_message(path: Path, line: str) -> str:
    """The refusal of a file whose references are stored as blobs."""
    return (
        f"{path} has references stored as a blob, not text: SQLite finds no row by a blob, so the "
        f"rows they name cannot be found:\n{line}\nThen run again; nothing was changed."
    )


USER_OBJECTS = {
    "a view of a legacy table": (
        "CREATE VIEW recent_goals AS SELECT id, name FROM goals WHERE created_at > '2025-01-01'",
        "  - view recent_goals, which names goals: the rebuilds cannot rename tables it names: "
        "CREATE VIEW recent_goals AS SELECT id, name FROM goals WHERE created_at > '2025-01-01'",
    ),
    "a trigger elsewhere writing a legacy table": (
        "CREATE TABLE my_log (goal_id TEXT);"
        "CREATE TRIGGER my_log_touches AFTER INSERT ON my_log BEGIN "
        "UPDATE goals SET name = name WHERE id = new.goal_id; END",
        "  - trigger my_log_touches, which names goals: the rebuilds cannot rename tables it "
        "names: CREATE TRIGGER my_log_touches AFTER INSERT ON my_log BEGIN UPDATE goals SET "
        "name = name WHERE id = new.goal_id; END",
    ),
    "a trigger on a legacy table": (
        "CREATE TRIGGER goals_touched AFTER UPDATE OF name ON goals BEGIN "
        "UPDATE goals SET updated_at = CURRENT_TIMESTAMP WHERE id = new.id; END",
        "  - trigger goals_touched on goals, which rebuilding goals would drop: CREATE TRIGGER "
        "goals_touched AFTER UPDATE OF name ON goals BEGIN UPDATE goals SET updated_at = "
        "CURRENT_TIMESTAMP WHERE id = new.id; END",
    ),
    "an index on a legacy table": (
        "CREATE INDEX my_goal_names ON goals (name)",
        "  - index my_goal_names on goals, which rebuilding goals would drop: "
        "CREATE INDEX my_goal_names ON goals (name)",
    ),
}


def user_objects_message(path: Path, line: str) -> str:
    """The refusal of a file with schema objects of its own that adoption cannot keep."""
    return (
        f"{path} has schema objects of its own that adoption cannot keep as they are, because it "
        f"rebuilds the legacy tables:\n{line}\nSave the statements shown, drop these indexes, "
        "triggers and views (DROP INDEX, DROP TRIGGER, DROP VIEW name), fix the rows PRAGMA "
        "foreign_key_check lists, and run again; afterwards re-create what still applies to "
        "the migrated tables. Nothing was changed."
    )


CUT_OFF_WRITE = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("PRAGMA cache_size = 5")  # a few pages: the write spills into the file
connection.execute("BEGIN")
connection.execute("UPDATE goals SET description = 'half-written ' || hex(randomblob(200))")
connection.execute("UPDATE metric_values SET value = value + 1")
print("written", flush=True)
sys.stdin.read()
"""


def cut_off_write(path: Path) -> Path:
    """A program that is killed (SIGKILL) in the middle of a big write to the file, as a crash
    of the legacy app or of `migrate` would: returns the hot journal it leaves."""
    before = file_sha256(path)
    _run_until_killed(CUT_OFF_WRITE, path)
    journal = Path(f"{path}-journal")
    assert journal.stat().st_size > 0
    assert file_sha256(path) != before  # half of the write is in the file itself
    return journal


def hot_journal_message(path: Path) -> str:
    """What the commands that change nothing say about a hot journal."""
    return (
        f"{path} is not damaged, but a write to it was cut off: {path}-journal holds what is "
        "needed to undo it (a program using the file was killed in the middle of a "
        "transaction). Do not restore an older backup, which would lose the newest data. The "
        "next connection that may write rolls it back: run `manage.py adopt_legacy_db "
        "--recover` (only that), or `manage.py migrate`, which does it first; this command "
        "changes nothing, so it stops here."
    )


LEFT_IN_WAL = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("PRAGMA journal_mode = WAL")
connection.execute("PRAGMA wal_autocheckpoint = 0")  # the commit stays in the -wal
connection.execute(
    "INSERT INTO goals (id, type, name) VALUES ('in-the-wal', 'UltimateGoal', 'Only in the WAL')"
)
print("written", flush=True)
sys.stdin.read()
"""


def leave_wal(path: Path) -> Path:
    """A program in WAL mode commits a goal and is killed before any checkpoint: the commit is
    only in the -wal it leaves beside the file, which this returns."""
    _run_until_killed(LEFT_IN_WAL, path)
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 0
    return wal


def _run_until_killed(script: str, path: Path) -> None:
    child = subprocess.Popen(  # noqa: S603 - this interpreter, our own script
        [sys.executable, "-c", script, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline() == "written\n"
    finally:
        child.kill()
        child.wait()


def execute(path: Path, script: str) -> None:
    """Run a script of SQL on the file, as a user's own tool would."""
    connection = sqlite3.connect(path)
    try:
        connection.executescript(script)
        connection.commit()
    finally:
        connection.close()


FREE = 64 * 1024


def low_disk(monkeypatch) -> None:
    """The disk has 64 KiB free, less than the table rebuilds of any generated file need."""
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(1 << 40, (1 << 40) - FREE, FREE))
