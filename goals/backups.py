"""Verified backups and safe restores of the database, SQLite or PostgreSQL.

A backup is `<db name>.backup_YYYYMMDD_HHMMSS` plus a manifest `<backup>.json` beside it (sha256,
size, row counts at the moment of the copy, applied migrations, source, time). A backup is
verified only when its manifest exists and matches the file: the manifest is written last, so a
backup that was interrupted never looks verified.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from goals.locking import database_file

MANIFEST_SUFFIX = ".json"
MANIFEST_VERSION = 1


class BackupError(Exception):
    """A backup or restore that could not be done; nothing changed. `code` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Backup:
    """A backup file and what its manifest says."""

    path: Path
    created_at: str | None = None
    size: int = 0
    sha256: str | None = None
    row_counts: dict[str, int] = field(default_factory=dict)
    migrations: list[str] = field(default_factory=list)
    source: str | None = None
    engine: str | None = None
    verified: bool = False
    problem: str | None = None

    @property
    def manifest_path(self) -> Path:
        return manifest_path(self.path)


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST_SUFFIX)


def backup_dir(*, using: str = DEFAULT_DB_ALIAS, directory: Path | None = None) -> Path:
    """Where backups go: the argument, FRACTAL_BACKUP_DIR, or `backups/` beside the database."""
    if directory is not None:
        return Path(directory)
    configured = getattr(settings, "FRACTAL_BACKUP_DIR", None)
    if configured:
        return Path(configured)
    connection = connections[using]
    if connection.vendor == "sqlite":
        database = database_file(using) or Path(connection.settings_dict["NAME"]).resolve()
        return database.parent / "backups"
    return Path(settings.BASE_DIR) / "var" / "backups"


def database_label(using: str = DEFAULT_DB_ALIAS) -> str:
    """The base of backup names: the SQLite file's real name (a symlink resolved), or the
    PostgreSQL database name."""
    connection = connections[using]
    name = connection.settings_dict["NAME"]
    if connection.vendor != "sqlite":
        return f"{name}.pgdump"
    return (database_file(using) or Path(name)).name


# -- creating -----------------------------------------------------------------------------------


def backup_create(
    *,
    using: str = DEFAULT_DB_ALIAS,
    directory: Path | None = None,
    keep: int | None = None,
    min_free_bytes: int | None = None,
) -> Backup:
    """Take a consistent backup, verify it, write its manifest; then apply `keep` retention."""
    if keep is not None:
        _check_keep(keep)  # before the copy: a bad --keep must not leave a backup behind
    connection = connections[using]
    folder = backup_dir(using=using, directory=directory)
    _prepare_folder(folder)
    stamp = timezone.now().strftime("%Y%m%d_%H%M%S")
    target = folder / f"{database_label(using)}.backup_{stamp}"
    counter = 1
    while target.exists() or manifest_path(target).exists():
        counter += 1
        target = folder / f"{database_label(using)}.backup_{stamp}_{counter}"
    partial = target.with_name(f".{target.name}.partial")
    try:
        if connection.vendor == "sqlite":
            source = _sqlite_source(using)
            _check_space(folder, source.stat().st_size, min_free_bytes)
            counts = _sqlite_copy(source, partial)
        elif connection.vendor == "postgresql":
            _check_space(folder, _postgres_size(using), min_free_bytes)
            counts = _postgres_dump(using, partial)
            source = Path(connection.settings_dict["NAME"])
        else:
            raise BackupError(f"Backups of {connection.vendor} databases are not supported.", 2)
        os.replace(partial, target)
        _fsync_dir(folder)
    except OSError as error:
        raise BackupError(
            f"Could not write the backup in {folder} ({error.strerror or error}). Free space or "
            "choose another folder (--dir, FRACTAL_BACKUP_DIR); nothing was changed.",
            4,
        ) from error
    finally:
        partial.unlink(missing_ok=True)
    backup = Backup(
        path=target,
        created_at=timezone.now().isoformat(),
        size=target.stat().st_size,
        sha256=_sha256(target),
        row_counts=counts,
        migrations=_applied_migrations(using),
        source=str(source),
        engine=connection.vendor,
        verified=True,
    )
    _write_manifest(backup)
    if keep is not None:
        backups_prune(using=using, directory=folder, keep=keep)
    return backup


def _prepare_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BackupError(
            f"Cannot create the backup folder {folder} ({error.strerror or error}). Choose a "
            "writable folder (--dir, FRACTAL_BACKUP_DIR); nothing was changed.",
            4,
        ) from error
    if not os.access(folder, os.W_OK) or not (folder.stat().st_mode & 0o222):
        raise BackupError(
            f"The backup folder {folder} is not writable. Make it writable or choose another "
            "(--dir, FRACTAL_BACKUP_DIR); nothing was changed.",
            4,
        )


def _check_space(folder: Path, needed: int, min_free_bytes: int | None) -> None:
    reserve = min_free_bytes
    if reserve is None:
        reserve = int(getattr(settings, "FRACTAL_BACKUP_MIN_FREE_BYTES", 0))
    free = shutil.disk_usage(folder).free
    if free < needed + reserve:
        raise BackupError(
            f"Not enough free space in {folder}: {free} bytes free, {needed + reserve} needed "
            f"(backup {needed} + reserve {reserve}). Free space or choose another folder; "
            "nothing was changed.",
            4,
        )


def _sqlite_source(using: str) -> Path:
    name = connections[using].settings_dict["NAME"]
    path = database_file(using)
    if path is None or not path.is_file():
        raise BackupError(
            f"The database {name} does not exist, so there is nothing to back up. Check "
            "DATABASE_URL.",
            2,
        )
    return path


def _sqlite_copy(source: Path, target: Path) -> dict[str, int]:
    """Copy with SQLite's online backup API inside one read transaction, so the row counts and
    the copy are the same snapshot while other processes keep writing."""
    reader = sqlite3.connect(source, timeout=30, isolation_level=None)
    copy = sqlite3.connect(target)
    try:
        reader.execute("BEGIN")
        counts = _sqlite_counts(reader)
        reader.backup(copy)
        reader.execute("COMMIT")
        copy.execute("PRAGMA journal_mode=DELETE")  # a backup is one self-contained file
        check = [row[0] for row in copy.execute("PRAGMA integrity_check")]
        copied = _sqlite_counts(copy)
    finally:
        copy.close()
        reader.close()
    if check != ["ok"]:
        raise BackupError(f"The copy failed PRAGMA integrity_check: {'; '.join(check[:5])}.", 5)
    if copied != counts:
        raise BackupError("The copy's row counts differ from the source's; it was discarded.", 5)
    return counts


def _sqlite_counts(connection: sqlite3.Connection) -> dict[str, int]:
    tables = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return {
        name: connection.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]  # noqa: S608
        for name in tables
    }


def _postgres_tool(name: str) -> str:
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    found = str(candidates[-1]) if candidates else shutil.which(name)
    if not found:
        raise BackupError(f"{name} was not found. Install PostgreSQL's client tools.", 2)
    return found


def _postgres_env(using: str) -> tuple[list[str], dict[str, str]]:
    config = connections[using].settings_dict
    args = ["--host", config.get("HOST") or "localhost", "--username", config.get("USER") or ""]
    if config.get("PORT"):
        args += ["--port", str(config["PORT"])]
    env = dict(os.environ)
    if config.get("PASSWORD"):
        env["PGPASSWORD"] = config["PASSWORD"]
    return args, env


def _postgres_size(using: str) -> int:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return cursor.fetchone()[0]


def _postgres_dump(using: str, target: Path) -> dict[str, int]:
    """pg_dump in custom format from an exported snapshot, so the counts match the dump."""
    connection = connections[using]
    args, env = _postgres_env(using)
    with connection.cursor() as cursor:
        cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            cursor.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
            tables = [row[0] for row in cursor.fetchall()]
            counts = {}
            for table in tables:
                cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
                counts[table] = cursor.fetchone()[0]
            result = subprocess.run(  # noqa: S603 - fixed tool, arguments from settings
                [
                    _postgres_tool("pg_dump"),
                    *args,
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    "--file",
                    str(target),
                    connection.settings_dict["NAME"],
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            cursor.execute("COMMIT")
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}", 5)
    _pg_restore_list(target)
    return counts


def _pg_restore_list(path: Path) -> None:
    result = subprocess.run(  # noqa: S603 - fixed tool
        [_postgres_tool("pg_restore"), "--list", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BackupError(f"pg_restore --list cannot read {path}: {result.stderr.strip()}", 5)


def _applied_migrations(using: str) -> list[str]:
    recorder = MigrationRecorder(connections[using])
    if not recorder.has_table():
        return []
    return sorted(f"{app}.{name}" for app, name in recorder.applied_migrations())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_manifest(backup: Backup) -> None:
    data = {"manifest_version": MANIFEST_VERSION, **asdict(backup), "path": backup.path.name}
    data.pop("verified")
    data.pop("problem")
    partial = backup.manifest_path.with_name(f".{backup.manifest_path.name}.partial")
    partial.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, backup.manifest_path)
    _fsync_dir(backup.path.parent)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# -- reading ------------------------------------------------------------------------------------


def backup_read(path: Path, *, deep: bool = False) -> Backup:
    """A backup and whether its manifest matches it (size and sha256; `deep` also opens it)."""
    path = Path(path)
    if not path.is_file():
        return Backup(path=path, problem="the backup file does not exist")
    manifest = manifest_path(path)
    if not manifest.is_file():
        return Backup(path=path, size=path.stat().st_size, problem="no manifest: not verified")
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        fields = {
            key: data[key]
            for key in (
                "created_at",
                "size",
                "sha256",
                "row_counts",
                "migrations",
                "source",
                "engine",
            )
        }
    except (ValueError, KeyError) as error:
        return Backup(path=path, problem=f"unreadable manifest ({error})")
    backup = Backup(path=path, **fields)
    problem = None
    if path.stat().st_size != backup.size:
        problem = f"size {path.stat().st_size} differs from the manifest's {backup.size}"
    elif _sha256(path) != backup.sha256:
        problem = "sha256 differs from the manifest's: the file was changed"
    elif deep:
        problem = _deep_check(backup)
    return Backup(
        **{**asdict(backup), "path": path, "verified": problem is None, "problem": problem}
    )


def _deep_check(backup: Backup) -> str | None:
    if backup.engine == "postgresql":
        try:
            _pg_restore_list(backup.path)
        except BackupError as error:
            return str(error)
        return None
    try:
        connection = sqlite3.connect(f"{backup.path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            check = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            counts = _sqlite_counts(connection)
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        return f"not a readable SQLite database ({error})"
    if check != ["ok"]:
        return f"integrity_check failed: {'; '.join(check[:3])}"
    if counts != backup.row_counts:
        return "row counts differ from the manifest's"
    return None


def backups_list(*, using: str = DEFAULT_DB_ALIAS, directory: Path | None = None) -> list[Backup]:
    """Backups of this database in the folder, newest first."""
    folder = backup_dir(using=using, directory=directory)
    if not folder.is_dir():
        return []
    prefix = f"{database_label(using)}.backup_"
    paths = [
        path
        for path in folder.iterdir()
        if path.name.startswith(prefix) and not path.name.endswith(MANIFEST_SUFFIX)
    ]
    return [backup_read(path) for path in sorted(paths, key=lambda p: p.name, reverse=True)]


def _check_keep(keep: int) -> None:
    if keep < 1:
        raise BackupError("--keep must be 1 or more: the newest verified backup always stays.", 2)


def backups_prune(
    *, using: str = DEFAULT_DB_ALIAS, directory: Path | None = None, keep: int
) -> list[Path]:
    """Delete verified backups beyond the newest `keep`; the newest verified one always stays."""
    _check_keep(keep)
    verified = [
        backup for backup in backups_list(using=using, directory=directory) if backup.verified
    ]
    removed = []
    for backup in verified[keep:]:
        backup.path.unlink()
        backup.manifest_path.unlink(missing_ok=True)
        removed.append(backup.path)
    return removed


# -- restoring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreResult:
    restored: Backup
    safety_backup: Backup | None


def backup_restore(
    *, path: Path, using: str = DEFAULT_DB_ALIAS, directory: Path | None = None
) -> RestoreResult:
    """Replace the database with a verified backup, after a safety backup of the current one."""
    backup = backup_read(Path(path), deep=True)
    if not backup.verified:
        raise BackupError(
            f"{path} cannot be restored: {backup.problem}. Choose a verified backup "
            "(manage.py list_backups).",
            3,
        )
    connection = connections[using]
    if backup.engine != connection.vendor:
        raise BackupError(
            f"{path} is a {backup.engine} backup; the '{using}' database is {connection.vendor}.", 3
        )
    safety = None
    if connection.vendor == "sqlite":
        target = Path(connection.settings_dict["NAME"])
        if target.exists():
            safety = backup_create(using=using, directory=directory)
        connection.close()
        _sqlite_swap(backup.path, target)
    else:
        safety = backup_create(using=using, directory=directory)
        connection.close()
        _postgres_restore(using, backup.path)
    return RestoreResult(restored=backup, safety_backup=safety)


def _sqlite_swap(source: Path, target: Path) -> None:
    """Write the backup beside the database, then rename it over; stale -wal/-shm files of the
    old database are removed under its exclusive lock so they can never be applied to the new."""
    staged = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(source, staged)
    with staged.open("rb") as handle:
        os.fsync(handle.fileno())
    with _exclusive(target):
        os.replace(staged, target)
        for suffix in ("-wal", "-shm", "-journal"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        _fsync_dir(target.parent)


@contextlib.contextmanager
def _exclusive(target: Path) -> Iterator[None]:
    if not target.exists():
        yield
        return
    holder = sqlite3.connect(target, timeout=10, isolation_level=None)
    try:
        try:
            holder.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            holder.execute("BEGIN EXCLUSIVE")
        except sqlite3.OperationalError as error:
            raise BackupError(
                f"{target} is in use by another process ({error}). Stop it and restore again; "
                "nothing was changed.",
                6,
            ) from error
        yield
    finally:
        holder.close()


def _postgres_restore(using: str, path: Path) -> None:
    args, env = _postgres_env(using)
    name = connections[using].settings_dict["NAME"]
    result = subprocess.run(  # noqa: S603 - fixed tool
        [
            _postgres_tool("pg_restore"),
            *args,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--dbname",
            name,
            str(path),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BackupError(
            f"pg_restore failed, the database is unchanged: {result.stderr.strip()}", 5
        )
