"""What stops adoption or `migrate`, found by reading only.

Adoption and `migrate` raise these before they change anything; `migration_readiness` lists them
through the same functions, so a READY verdict means `migrate` will not stop on any of them.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from goals_project.bases.foreign_keys import column_affinity
from goals_project.maintenance.backups import backup_dir, postgres_dump_size
from goals_project.maintenance.legacy.inspection import (
    DbState,
    LegacyDbError,
    LegacyDbProblem,
    is_file_database,
)
from goals_project.maintenance.legacy.schemas import LEGACY_TABLES, VARIANTS, variant_indexes
from goals_project.maintenance.migration_operations import NOT_TEXT, KnownValues
from goals_project.maintenance.verification import blob_reference_fix, shown_id

SHOWN = 5

# Free space asked for beside the file, in times its size. Measured on generated dev, prod and
# script_migrated files of 18 to 300 MB: adoption peaks at 1.6 times the file (the rebuilt tables
# and the rollback journal); adoption followed by every migration in one transaction (migrate
# with a backup) at 2.4 to 3.7 times, the file and the journal of every original page it changed.
ADOPTION_SPACE_FACTOR = 2
MIGRATE_SPACE_FACTOR = 3


def adoption_target(variant: str) -> tuple[dict[str, type], list[tuple[str, str]]]:
    """The models adoption rebuilds each legacy table into, by table, and the migrations it
    records as applied: the state of the variant's `adopt_at` migrations."""
    targets = list(VARIANTS[variant].adopt_at)
    loader = MigrationLoader(None, ignore_no_migrations=True)
    state = loader.project_state(nodes=targets, at_end=True)
    applied = sorted({node for target in targets for node in loader.graph.forwards_plan(target)})
    models = {
        model._meta.db_table: model for model in state.apps.get_models() if not model._meta.proxy
    }
    return models, applied


def legacy_db_refusals(
    *, using: str, path: Path, variant: str, other_tables: tuple[str, ...]
) -> list[LegacyDbError]:
    """Every reason the legacy file behind `using` cannot be adopted as it is, by reading it."""
    refusals, _read = legacy_db_findings(
        using=using, path=path, variant=variant, other_tables=other_tables
    )
    return refusals


def legacy_db_findings(
    *, using: str, path: Path, variant: str, other_tables: tuple[str, ...]
) -> tuple[list[LegacyDbError], dict[str, ValuesRead]]:
    """legacy_db_refusals, and what the read of the tables' values found (values_read), which
    adoption need not read again."""
    connection = connections[using]
    models, _ = adoption_target(variant)
    read = values_read(connection, models, also=legacy_data_check().conditions_by_table())
    found = [
        key_refusal(connection, path=path, models=models),
        reference_refusal(connection, path=path, models=models, read=read),
        user_schema_refusal(connection, path=path, variant=variant, other_tables=other_tables),
    ]
    return [refusal for refusal in found if refusal is not None], read


def legacy_data_check():
    """The module of goals.0002, whose check of the rows the new constraints would reject the
    preflight runs before anything changes (the check lives in that migration: migrations stay
    self-contained)."""
    return import_module("goals.migrations.0002_check_legacy_data")


@dataclass(frozen=True)
class ValuesRead:
    """What one read of a legacy table's own rows found in its key and reference columns: for
    each condition looked for, by (kind, column), whether a row meets it. Kinds: "null" (key
    columns), "blob" (references) and "number" (references whose type has no text affinity,
    where SQLite keeps a number as a number); and "check", by its SQL in place of a column, for
    a condition of goals.0002's check (legacy_data_check)."""

    met: dict[tuple[str, str], bool]

    def holding(self, kind: str) -> list[str]:
        return [column for (of, column), met in self.met.items() if of == kind and met]

    def known(self) -> KnownValues:
        """What adoption need not read again (migration_operations.KnownValues): the key
        columns found without NULL, and the columns looked at for every kind of NOT_TEXT value
        and found without any."""
        return KnownValues(
            without_null=frozenset(
                column for (kind, column), met in self.met.items() if kind == "null" and not met
            ),
            text_only=frozenset(
                column
                for kind, column in self.met
                if kind == "number"
                and not any(self.met.get((other, column), True) for other in NOT_TEXT)
            ),
        )


def values_read(
    connection, models: dict[str, type], also: dict[str, list[str]] | None = None
) -> dict[str, ValuesRead]:
    """ValuesRead of each legacy table, one read of its rows when no row meets a condition (one
    more for each condition met): the preflight's search for blobs, the conditions of `also`
    (SQL over a table's columns, by table: goals.0002's, whose own counts read the goals and the
    activity instances once more each, 0.07 s at a million metric values), and what adoption,
    which checks a key column for NULL and a column whose type becomes text for other values,
    would read each table for again (at a million metric values one read of the values takes
    0.17 s, the three it replaces took 0.35 s). The table's own
    rows are read (NOT INDEXED), never an index's copy of a column, which in a damaged file can
    lack a row (quick_check, which checks the file before, does not compare indexes with their
    tables)."""
    quote = connection.ops.quote_name
    read = {}
    with connection.cursor() as cursor:
        for table in LEGACY_TABLES:
            cursor.execute(f"PRAGMA table_info({quote(table)})")
            declared = {row[1]: row[2] for row in cursor.fetchall()}
            keys = [column for column in _key_columns(models[table]) if column in declared]
            conditions = {("null", column): f"{quote(column)} IS NULL" for column in keys}
            for field in models[table]._meta.concrete_fields:
                column = field.column
                if not field.is_relation or column not in declared or column in keys:
                    continue
                conditions["blob", column] = NOT_TEXT["blob"].format(quote(column))
                if column_affinity(declared[column] or "") != "TEXT":
                    conditions["number", column] = NOT_TEXT["number"].format(quote(column))
            conditions.update((("check", where), where) for where in (also or {}).get(table, ()))
            read[table] = ValuesRead(_conditions_met(cursor, quote(table), conditions))
    return read


def _conditions_met(cursor, table: str, conditions: dict) -> dict:
    """Which `conditions` (SQL over the quoted `table`'s columns) some row meets, by key: each
    read stops at the first row meeting one still looked for."""
    met = dict.fromkeys(conditions, False)
    left = dict(conditions)
    while left:
        cursor.execute(
            f"SELECT {', '.join(left.values())} FROM {table} NOT INDEXED "  # noqa: S608 - quoted names
            f"WHERE {' OR '.join(f'({condition})' for condition in left.values())} LIMIT 1"
        )
        row = cursor.fetchone()
        if row is None:
            break
        for key, value in zip(list(left), row, strict=True):
            if value:
                met[key] = True
                del left[key]
    return met


def key_refusal(connection, *, path: Path, models: dict[str, type]) -> LegacyDbError | None:
    """Rows whose primary key is NULL, repeated or a blob: the rebuilt tables' keys cannot hold
    the first two, and Django's text keys and the goal tree's walk not the third.

    SQLite lets a TEXT PRIMARY KEY be NULL, and a table rebuilt by some tool may have lost its
    key altogether; legacy files have both. A text column keeps a blob as a blob, which reads as
    the text of the same bytes yet equals no text (X'6363' and 'cc'); blobs sort after all text,
    so where the key leads an index, the index finds them with a seek (otherwise one scan).
    """
    quote = connection.ops.quote_name
    lines = []
    with connection.cursor() as cursor:
        for table in LEGACY_TABLES:
            columns = _key_columns(models[table])
            keys = ", ".join(quote(column) for column in columns)
            missing = " OR ".join(f"{quote(column)} IS NULL" for column in columns)
            named = "/".join(columns)
            cursor.execute(f"SELECT COUNT(*) FROM {quote(table)} WHERE {missing}")  # noqa: S608
            nulls = cursor.fetchone()[0]
            if nulls:
                find = f"SELECT rowid, * FROM {quote(table)} WHERE {missing};"  # noqa: S608
                lines.append(f"  - {table}: {nulls} row(s) with a NULL {named} (find them: {find})")
            repeated = (
                f"SELECT {keys} FROM {quote(table)} WHERE NOT ({missing}) "  # noqa: S608
                f"GROUP BY {keys} HAVING COUNT(*) > 1"
            )
            count = 0
            if not _unique_index_on(cursor, table, columns):
                cursor.execute(f"SELECT COUNT(*) FROM ({repeated})")  # noqa: S608
                count = cursor.fetchone()[0]
            if count:
                cursor.execute(f"{repeated} ORDER BY {keys} LIMIT {SHOWN}")
                first = ", ".join(repr("/".join(map(str, row))) for row in cursor.fetchall())
                find = f"SELECT rowid, * FROM {quote(table)} WHERE ({keys}) IN ({repeated});"  # noqa: S608
                lines.append(
                    f"  - {table}: {count} {named} value(s) used by more than one row "
                    f"(first: {first}; find them: {find})"
                )
            for column in columns:
                blobs = f"FROM {quote(table)} WHERE {quote(column)} >= X''"
                cursor.execute(f"SELECT COUNT(*) {blobs}")
                if count := cursor.fetchone()[0]:
                    cursor.execute(f"SELECT quote({quote(column)}) {blobs} LIMIT {SHOWN}")
                    first = ", ".join(row[0] for row in cursor.fetchall())
                    find = (
                        f"SELECT rowid, * FROM {quote(table)} "  # noqa: S608
                        f"WHERE typeof({quote(column)}) = 'blob';"
                    )
                    lines.append(
                        f"  - {table}: {count} row(s) whose {column} is a blob, not text "
                        f"(first: {first}; find them: {find})"
                    )
    if not lines:
        return None
    return LegacyDbError(
        LegacyDbProblem.BAD_KEYS,
        f"{path} has rows whose primary key is missing, repeated or not text, which the "
        "adopted tables cannot hold:\n"
        + "\n".join(lines)
        + "\nGive each of these rows a text key of its own (after a backup), then run again; "
        "nothing was changed.",
    )


def _key_columns(model: type) -> list[str]:
    """The columns of `model`'s primary key (two for the links' composite key)."""
    pk = model._meta.pk
    return list(getattr(pk, "columns", None) or [pk.column])


def reference_refusal(
    connection, *, path: Path, models: dict[str, type], read: dict[str, ValuesRead]
) -> LegacyDbError | None:
    """References stored as blobs (as values_read found them). A text column keeps a blob as a
    blob, and a blob equals no text: the row it names is never found, so the backfill would take
    it for a deleted row and give its placeholder a blob for an id, or move a row under the
    recovery root. The legacy app writes none, so one means another program wrote the file: any
    is refused here, before anything changes, with what to do about it, the roots the backfill
    derives anew included (one rule for every reference). A key column is key_refusal's."""
    quote = connection.ops.quote_name
    lines = []
    with connection.cursor() as cursor:
        for table in LEGACY_TABLES:
            for column in read[table].holding("blob"):
                field = next(f for f in models[table]._meta.concrete_fields if f.column == column)
                target = field.related_model._meta.db_table
                blobs = f"FROM {quote(table)} WHERE {quote(column)} >= X''"
                cursor.execute(f"SELECT COUNT(DISTINCT {quote(column)}) {blobs}")
                count = cursor.fetchone()[0]
                cursor.execute(f"SELECT DISTINCT {quote(column)} {blobs} ORDER BY 1 LIMIT {SHOWN}")
                first = ", ".join(shown_id(row[0]) for row in cursor.fetchall())
                with connection.cursor() as reading:  # read only until a blob is no text
                    reading.execute(f"SELECT DISTINCT {quote(column)} {blobs}")
                    stored = (row[0] for row in reading)
                    fix = blob_reference_fix(table, column, stored, nullable=field.null)
                lines.append(
                    f"  - {table}.{column}: {count} {target} id(s) (first: {first}); {fix}"
                )
    if not lines:
        return None
    return LegacyDbError(
        LegacyDbProblem.BAD_KEYS,
        f"{path} has references stored as a blob, not text: SQLite finds no row by a blob, so "
        "the rows they name cannot be found:\n"
        + "\n".join(lines)
        + "\nThen run again; nothing was changed.",
    )


def _unique_index_on(cursor, table: str, columns: list[str]) -> bool:
    """Whether a UNIQUE index of the whole table (a TEXT PRIMARY KEY's among them) covers
    exactly `columns` of this legacy SQLite table: SQLite then holds no repeated values there,
    and scanning for them would cost a pass over the table. (A corrupt index is what the
    backup's integrity_check finds, and the rebuilt table's own key refuses a repeat.)"""
    quote = cursor.db.ops.quote_name
    cursor.execute(f"PRAGMA index_list({quote(table)})")
    for _, name, unique, _, partial in cursor.fetchall():
        if unique and not partial:
            cursor.execute(f"PRAGMA index_info({quote(name)})")
            names = [row[2] for row in cursor.fetchall()]
            # An expression in an index has no column name (None): such an index never counts.
            if None not in names and sorted(names) == sorted(columns):
                return True
    return False


def user_schema_refusal(
    connection, *, path: Path, variant: str, other_tables: tuple[str, ...]
) -> LegacyDbError | None:
    """Indexes, triggers and views of the file's own that the table rebuilds would drop or
    break, and tables of its own whose foreign keys Django's checks after each step would fail.

    Rebuilding a table drops its indexes and triggers, and SQLite refuses to rename a table while
    a view or trigger elsewhere names it, or while one is broken.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
        )
        schema = cursor.fetchall()
    legacy_indexes = variant_indexes(variant)
    lines = []
    for kind, name, table, sql in schema:
        if table not in LEGACY_TABLES or kind not in ("index", "trigger"):
            continue
        if kind == "index" and name in legacy_indexes:
            continue  # the legacy app's own: replaced by the baseline's indexes
        lines.append(f"  - {kind} {name} on {table}, which rebuilding {table} would drop: {sql}")
    lines += _objects_naming_legacy_tables(schema)
    lines += _dangling_foreign_keys(connection, other_tables)
    if not lines:
        return None
    return LegacyDbError(
        LegacyDbProblem.USER_SCHEMA,
        f"{path} has schema objects of its own that adoption cannot keep as they are, because "
        "it rebuilds the legacy tables:\n"
        + "\n".join(lines)
        + "\nSave the statements shown, drop these indexes, triggers and views (DROP INDEX, DROP "
        "TRIGGER, DROP VIEW name), fix the rows PRAGMA foreign_key_check lists, and run again; "
        "afterwards re-create what still applies to the migrated tables. Nothing was changed.",
    )


def _objects_naming_legacy_tables(schema: list[tuple[str, str, str, str]]) -> list[str]:
    """Views, and triggers on other tables, that name a legacy table, found by SQLite itself:
    renaming each legacy table in an empty copy of the schema rewrites exactly those."""
    memory = sqlite3.connect(":memory:", isolation_level=None)
    try:
        memory.execute("PRAGMA legacy_alter_table = OFF")
        for _, _, _, sql in schema:
            try:
                memory.execute(sql)
            except sqlite3.Error:
                continue  # e.g. a virtual table's shadow tables, made again by the virtual table
        placeholders = ", ".join("?" for _ in LEGACY_TABLES)
        watched = f"SELECT type, name, sql FROM sqlite_master WHERE type IN ('view', 'trigger') AND tbl_name NOT IN ({placeholders})"  # noqa: E501, S608
        before = {name: (kind, sql) for kind, name, sql in memory.execute(watched, LEGACY_TABLES)}
        naming: dict[str, list[str]] = {}
        for table in LEGACY_TABLES:
            memory.execute("SAVEPOINT probe")
            try:
                memory.execute(f'ALTER TABLE "{table}" RENAME TO "{table}__probe"')
            except sqlite3.Error as error:
                return [f"  - a broken view or trigger, which stops every table rebuild: {error}"]
            else:
                after = {name: sql for _, name, sql in memory.execute(watched, LEGACY_TABLES)}
                for name, (_, sql) in before.items():
                    if after.get(name) != sql:
                        naming.setdefault(name, []).append(table)
            finally:
                memory.execute("ROLLBACK TO probe")
                memory.execute("RELEASE probe")
    finally:
        memory.close()
    return [
        f"  - {before[name][0]} {name}, which names {', '.join(tables)}: the rebuilds cannot "
        f"rename tables it names: {before[name][1]}"
        for name, tables in naming.items()
    ]


def _dangling_foreign_keys(connection, tables: tuple[str, ...]) -> list[str]:
    quote = connection.ops.quote_name
    lines = []
    with connection.cursor() as cursor:
        for table in tables:
            try:
                cursor.execute(f"PRAGMA foreign_key_check({quote(table)})")
                count = len(cursor.fetchall())
            except DatabaseError as error:
                lines.append(f"  - table {table}, whose foreign keys cannot be checked: {error}")
                continue
            if count:
                lines.append(
                    f"  - table {table}: {count} row(s) whose foreign keys point to missing rows "
                    f"(PRAGMA foreign_key_check({quote(table)}) lists them); Django checks "
                    "foreign keys after each step"
                )
    return lines


@dataclass(frozen=True)
class DiskNeed:
    """Free space that a folder's file system must have, and what it is for."""

    folder: Path
    free: int
    needed: int
    what: str

    @property
    def ok(self) -> bool:
        return self.free >= self.needed


def disk_needs(
    *, using: str = DEFAULT_DB_ALIAS, rebuild_factor: int, backup: bool, temporary: bool = False
) -> list[DiskNeed]:
    """Free space needed on each file system involved: table rebuilds beside a SQLite file
    (`rebuild_factor` times its size), with `temporary` SQLite's temporary files (half its
    size, in `sqlite_temp_folder()`) and, if one is taken first, the backup with the reserve
    that backups keep (FRACTAL_BACKUP_MIN_FREE_BYTES). Those on one file system add up."""
    connection = connections[using]
    wanted: list[tuple[Path, int, str]] = []
    if connection.vendor == "sqlite":
        name = connection.settings_dict["NAME"]
        path = Path(name)
        if not is_file_database(name) or not path.is_file():
            return []
        size = sum(
            candidate.stat().st_size
            for candidate in (path, path.with_name(f"{path.name}-wal"))
            if candidate.exists()
        )
        if rebuild_factor:
            wanted.append(
                (
                    path.resolve().parent,
                    rebuild_factor * size,
                    f"table rebuilds {rebuild_factor} x {size}",
                )
            )
        if temporary:
            wanted.append(
                (sqlite_temp_folder(), size // 2, f"SQLite's temporary files 0.5 x {size}")
            )
    else:
        size = postgres_dump_size(using)
    if backup:
        reserve = int(getattr(settings, "FRACTAL_BACKUP_MIN_FREE_BYTES", 0))
        wanted.append((_existing(backup_dir(using=using)), size + reserve, f"backup {size}"))
        if reserve:
            wanted[-1] = (*wanted[-1][:2], f"backup {size} + reserve {reserve}")
    by_device: dict[int, DiskNeed] = {}
    for folder, needed, what in wanted:
        device = os.stat(folder).st_dev
        if device in by_device:
            known = by_device[device]
            by_device[device] = DiskNeed(
                known.folder, known.free, known.needed + needed, f"{known.what}, {what}"
            )
        else:
            by_device[device] = DiskNeed(folder, shutil.disk_usage(folder).free, needed, what)
    return list(by_device.values())


# Where SQLite looks for a temporary folder after its variables (os_unix.c), not files made here.
_SQLITE_TEMP_FOLDERS = ("/var/tmp", "/usr/tmp", "/tmp")  # noqa: S108


def sqlite_temp_folder() -> Path:
    """The folder SQLite writes its temporary files to (the sorts of index builds, temporary
    tables), found as SQLite finds it on Unix: SQLITE_TMPDIR, TMPDIR, /var/tmp, /usr/tmp, /tmp,
    the first that is a folder it may write to; else the current folder. SQLite reads the two
    variables once, when it starts in the process: this reads them now, which is the same for a
    command whose environment was set before it started."""
    for candidate in (
        os.environ.get("SQLITE_TMPDIR"),
        os.environ.get("TMPDIR"),
        *_SQLITE_TEMP_FOLDERS,
    ):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return Path(candidate).resolve()
    return Path.cwd()


def holds_data_to_migrate(*, using: str, found, planned: bool | None = None) -> bool:
    """True when migrations are pending on a database that has rows in the goals table (or a
    legacy file with rows): what `migrate` backs up first and checks the disk for. `planned`
    says whether the run has migrations to apply or unapply, when the caller knows its plan
    (forwards or backwards); by default, whether any is pending forwards."""
    if found.state_before == DbState.LEGACY:
        return any(found.row_counts.values())
    if found.state_before in (DbState.NEW, DbState.MISSING):
        return False
    connection = connections[using]
    if connection.vendor == "sqlite" and found.path is None:
        return False  # in memory: nothing outlives the process anyway
    if planned is None:
        executor = MigrationExecutor(connection)
        planned = bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    if not planned:
        return False
    with connection.cursor() as cursor:
        if "goals" not in connection.introspection.table_names(cursor):
            return False
        cursor.execute("SELECT 1 FROM goals LIMIT 1")
        return cursor.fetchone() is not None


def migrate_disk_needs(
    *, using: str, found, backup: bool, reader: str | None = None
) -> list[DiskNeed]:
    """The free space `migrate` checks for before its backup: none when it has nothing to
    migrate, else its table rebuilds and, when `backup`, the backup. `reader` is an alias to
    read the database through instead of `using` (readiness reads it in read-only mode)."""
    if not holds_data_to_migrate(using=reader or using, found=found):
        return []
    return disk_needs(
        using=using, rebuild_factor=MIGRATE_SPACE_FACTOR, backup=backup, temporary=True
    )


def disk_refusal(needs: list[DiskNeed], *, path: Path | str) -> LegacyDbError | None:
    """The refusal for the first file system without the space `disk_needs` found needed."""
    for need in needs:
        if not need.ok:
            elsewhere = [
                "put backups on another disk (FRACTAL_BACKUP_DIR)" if "backup" in need.what else "",
                "point SQLITE_TMPDIR at a folder on another disk"
                if "temporary" in need.what
                else "",
            ]
            advice = "".join(f", or {way}" for way in elsewhere if way)
            return LegacyDbError(
                LegacyDbProblem.NO_SPACE,
                f"Not enough free space for {path}: {need.free} bytes free in {need.folder}, "
                f"about {need.needed} needed ({need.what}). Free space there{advice}, and run "
                "again; nothing was changed.",
            )
    return None


def _existing(folder: Path) -> Path:
    """The nearest folder that exists at or above `folder` (whose free space counts)."""
    try:
        folder = folder.resolve()
    except (RuntimeError, OSError):  # a loop of links: the backup refuses it with its reason
        folder = folder.absolute().parent
    while not folder.exists():
        folder = folder.parent
    return folder
