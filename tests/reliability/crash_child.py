"""Run a manage.py command that kills itself, with SIGKILL, at its Nth step.

    FRACTAL_CRASH_AT=N [FRACTAL_CRASH_STEPS=file] python -m tests.reliability.crash_child ARGS...

A step is an SQL statement sent through Django, one of the file operations a backup or a
restore is made of (copy, naming, rename, fsync, manifest, checksum, the write into the
database), or a batch of rows that move_to_postgres sends through COPY. With FRACTAL_CRASH_AT=0
nothing is killed and every step is written to FRACTAL_CRASH_STEPS, one per line, so the
harness can choose its points. The whole process group is killed, as a power cut would: a
pg_dump or pg_restore the command started dies with it. With FRACTAL_CRASH_SIGNAL=INT the Nth
step is a Ctrl-C instead.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading


class Steps:
    def __init__(self, kill_at: int, log_path: str | None, *, interrupt: bool = False) -> None:
        self.kill_at = kill_at
        self.interrupt = interrupt
        self.count = 0
        self.lock = threading.Lock()
        self.phase = "startup"  # the main thread's; a thread inside `enter` has its own
        self.own = threading.local()
        self.log = open(log_path, "w", encoding="utf-8") if log_path else None  # noqa: SIM115

    def step(self, label: str) -> None:
        with self.lock:  # the backup's check counts its steps from a thread of its own
            self.count += 1
            if self.log is not None:
                phase = getattr(self.own, "phase", None) or self.phase
                self.log.write(f"{phase}\t{' '.join(label.split())[:100]}\n")
                self.log.flush()
            if self.count == self.kill_at:
                if self.interrupt:  # Ctrl-C, which the main thread meets as KeyboardInterrupt
                    os.kill(os.getpid(), signal.SIGINT)
                else:
                    os.killpg(os.getpgid(0), signal.SIGKILL)

    def sql(self, execute, sql, params, many, context):
        self.step(f"sql {' '.join(str(sql).split())}")
        return execute(sql, params, many, context)

    def enter(self, phase: str, function):
        """`function` with the phase set while it runs (and restored after): the main thread's,
        which other threads' steps are labelled with too, or a thread's own, for its steps."""

        @functools.wraps(function)
        def wrapped(*args, **kwargs):
            if threading.current_thread() is not threading.main_thread():
                before, self.own.phase = getattr(self.own, "phase", None), phase
                try:
                    return function(*args, **kwargs)
                finally:
                    self.own.phase = before
            before, self.phase = self.phase, phase
            try:
                return function(*args, **kwargs)
            finally:
                self.phase = before

        return wrapped

    def wrap(self, name: str, function):
        @functools.wraps(function)
        def wrapped(*args, **kwargs):
            self.step(f"file {name}")
            return function(*args, **kwargs)

        return wrapped


def main() -> None:
    steps = Steps(
        int(os.environ.get("FRACTAL_CRASH_AT", "0")),
        os.environ.get("FRACTAL_CRASH_STEPS"),
        interrupt=os.environ.get("FRACTAL_CRASH_SIGNAL") == "INT",
    )
    if steps.interrupt:
        # As in a terminal: a job started in the background (scripts/test runs pytest so)
        # ignores SIGINT, and Python then leaves it ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "goals_project.settings")
    import django

    django.setup()
    from django.db.backends.signals import connection_created

    def instrument(sender, connection, **kwargs) -> None:
        if steps.sql not in connection.execute_wrappers:
            connection.execute_wrappers.append(steps.sql)

    connection_created.connect(instrument, weak=False)
    from django.db.migrations.executor import MigrationExecutor

    import goals_project.maintenance.backups as backups
    import goals_project.maintenance.legacy.adoption as adoption
    import goals_project.maintenance.postgres_move as postgres_move

    apply_migration = MigrationExecutor.apply_migration

    def applying(executor, state, migration, *args, **kwargs):
        return steps.enter(f"{migration.app_label}.{migration.name}", apply_migration)(
            executor, state, migration, *args, **kwargs
        )

    MigrationExecutor.apply_migration = applying
    adoption.legacy_db_adopt = steps.enter("adoption", adoption.legacy_db_adopt)
    backups.backup_begin = steps.enter("backup", backups.backup_begin)
    # The copy migrate takes on a thread while the file is checked (backup_begin(meanwhile=True)).
    backups.PendingBackup.copy_held = steps.enter("backup", backups.PendingBackup.copy_held)
    backups.PendingBackup.finish = steps.enter("backup", backups.PendingBackup.finish)
    backups._sqlite_restore = steps.enter("restore: in place", backups._sqlite_restore)
    backups._postgres_restore = steps.enter("restore: pg_restore", backups._postgres_restore)
    postgres_move._migrate_target = steps.enter("move: schema", postgres_move._migrate_target)
    postgres_move._copy_table = steps.enter("move: copy", postgres_move._copy_table)
    postgres_move._verify = steps.enter("move: verify", postgres_move._verify)
    postgres_move._copy_batch = steps.wrap("_copy_batch", postgres_move._copy_batch)

    for name in (
        "_sqlite_copy",
        "_sha256",
        "_write_manifest",
        "_fsync_dir",
        "_postgres_dump",
        "_publish",
        "_stage",
        "_sqlite_write_into",
        "_restore_step",
    ):
        setattr(backups, name, steps.wrap(name, getattr(backups, name)))
    # Several steps even on a small file, so the restore is also killed half way through its
    # write into the database (the transaction that SQLite must roll back).
    backups.RESTORE_STEP_PAGES = 32
    # Likewise, several COPY batches per big table, so the move is killed in the middle of one.
    postgres_move.BATCH_SIZE = 50
    # Process-wide: this process exists only to run the one command.
    os.replace = steps.wrap("os.replace", os.replace)
    os.fsync = steps.wrap("os.fsync", os.fsync)
    os.unlink = steps.wrap("os.unlink", os.unlink)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["manage.py", *sys.argv[1:]])


if __name__ == "__main__":
    main()
