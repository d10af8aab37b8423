"""Start several `manage.py backup_db` at the same instant, each with the clock stopped there.

    python -m tests.goals.backup_at_once ARGS...

Each child sets Django up, says "ready" and waits for a line on stdin; then it runs the command
with `execute_from_command_line`, as manage.py does (a CommandError becomes a message and its exit
status, anything else a traceback), inside `time_machine.travel(..., tick=False)`, so every child
reads the same time and derives the same backup name from it. `backups_at_once()` starts them,
waits until all are ready and releases them together.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTANT = datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC)


def backups_at_once(count: int, env: dict[str, str], *args: str) -> list[tuple[int, str, str]]:
    """(exit status, stdout, stderr) of `count` backup_db runs released at the same moment."""
    children = [
        subprocess.Popen(  # noqa: S603 - this interpreter and the project's own module
            [sys.executable, "-m", "tests.goals.backup_at_once", "backup_db", *args],
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        for child in children:
            assert child.stdout.readline() == "ready\n", child.stderr.read()
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        results = []
        for child in children:
            out, err = child.communicate(timeout=120)
            results.append((child.returncode, out, err))
        return results
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "goals_project.settings")
    import django
    import time_machine
    from django.core.management import execute_from_command_line

    django.setup()
    print("ready", flush=True)  # noqa: T201 - the parent waits for this line
    sys.stdin.readline()
    with time_machine.travel(INSTANT, tick=False):
        execute_from_command_line(["manage.py", *sys.argv[1:]])


if __name__ == "__main__":
    main()
