"""migrate records each migration in the transaction that applies it, and checks foreign keys
where a migration can have broken one."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.core.management.commands.migrate import Command as DjangoMigrateCommand
from django.db import DatabaseError, IntegrityError, connections, models
from django.db.migrations import AddConstraint, AddField, AlterField
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from goals_project.bases.foreign_keys import (
    MOST_JOINED,
    foreign_keys_check,
    violation_probe,
    violation_probes,
)
from goals_project.maintenance.migration_executor import (
    RecordingExecutor,
    _checking_only,
    foreign_key_check_scope,
    recording_executor,
    with_referencing_tables,
)
from goals_project.maintenance.migration_operations import AddFields, AlterTableInOnePass
from goals_project.maintenance.verification import root_rule_tables

pytestmark = pytest.mark.sqlite_only

FAILING = ("goals", "0003_add_root_and_audit_columns")


def test_a_migration_that_cannot_be_recorded_is_rolled_back(
    make_legacy_db, legacy_database, monkeypatch
):
    """goals.0003 creates legacy_repairs with an index (deferred SQL, which Django runs before
    recording); when recording fails, the table goes too, so the next migrate can create it."""
    path = make_legacy_db("dev")
    record_applied = MigrationRecorder.record_applied

    def failing(recorder, app, name):
        if (app, name) == FAILING:
            raise RuntimeError("the record could not be written")
        return record_applied(recorder, app, name)

    with legacy_database(path) as alias:
        monkeypatch.setattr(MigrationRecorder, "record_applied", failing)
        with pytest.raises(RuntimeError, match="could not be written"):
            call_command("migrate", database=alias, no_backup=True, stdout=StringIO())
        connection = sqlite3.connect(path)
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
        recorded = connection.execute(
            "SELECT COUNT(*) FROM django_migrations WHERE app = ? AND name = ?", FAILING
        ).fetchone()[0]
        connection.close()
        assert "legacy_repairs" not in tables
        assert recorded == 0

        monkeypatch.setattr(MigrationRecorder, "record_applied", record_applied)
        call_command("migrate", database=alias, no_backup=True, stdout=StringIO())
        call_command("verify_root_ids", database=alias, stdout=StringIO())


def plan_migrations() -> dict[str, object]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return {f"{app}.{name}": migration for (app, name), migration in loader.disk_migrations.items()}


def plan_scopes() -> dict[str, list[str] | None]:
    """Each migration's foreign_key_check_scope, with the project state it is applied to."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return {
        f"{app}.{name}": foreign_key_check_scope(
            migration, loader.project_state((app, name), at_end=False)
        )
        for (app, name), migration in loader.disk_migrations.items()
    }


GOALS_TABLES = [
    "activity_definitions",
    "activity_groups",
    "goals",
    "metric_definitions",
    "practice_session_goals",
    "session_templates",
    "split_definitions",
]
SESSION_TABLES = [
    "activity_instances",
    "metric_values",
    "program_blocks",
    "program_days",
    "programs",
    "scheduled_sessions",
]


def test_foreign_keys_are_checked_only_where_a_migration_can_break_one():
    """Index builds, proxy models and checks that only read change no row and declare no
    foreign key: nothing is checked after them; a new table is checked alone, and so is the
    table of a model whose definition is altered or gains a column (with the tables pointing to
    it, at the check), unless the column is NULL in every row or the alteration only adds a
    CHECK; data changes check every table."""
    scopes = plan_scopes()

    for name in (
        "practice_sessions.0004_add_indexes",
        "goals.0002_check_legacy_data",
        "goals.0007_add_indexes",
        "goals.0008_add_fractal_proxy",
        "goals.0009_add_fractals_index",
        "goals.0010_add_live_goals_index",
    ):
        assert scopes[name] == [], name
    assert scopes["sessions.0001_initial"] == ["django_session"]
    assert scopes["goals.0005_enforce_root_ids_and_constraints"] == GOALS_TABLES
    # The owner's column is added NULL in every row, and a CHECK is added: no key to check.
    assert scopes["goals.0006_add_fractal_owner"] == []
    assert scopes["practice_sessions.0003_enforce_root_ids_and_constraints"] == SESSION_TABLES
    for name in (
        "goals.0003_add_root_and_audit_columns",  # it records the columns it adds
        "goals.0004_backfill_root_ids",
        "practice_sessions.0002_add_root_and_audit_columns",
    ):
        assert scopes[name] is None, name
    # Without the project state, a model's table is not known: every table.
    migrations = plan_migrations()
    assert (
        foreign_key_check_scope(migrations["goals.0005_enforce_root_ids_and_constraints"]) is None
    )


@pytest.mark.parametrize(
    ("operation", "scope"),
    [
        (AddField("parent", "note", models.TextField(null=True)), []),
        (
            AddField(
                "parent", "other", models.ForeignKey("family.other", models.CASCADE, null=True)
            ),
            [],
        ),
        (
            AddFields(
                "parent",
                [
                    ("note", models.TextField(null=True)),
                    ("other", models.ForeignKey("family.other", models.CASCADE, null=True)),
                ],
            ),
            [],
        ),
        (AddField("parent", "note", models.TextField(null=True, default="")), ["parent"]),
        (AddField("parent", "note", models.TextField(null=True, unique=True)), ["parent"]),
        (
            AddField("parent", "other", models.ForeignKey("family.other", models.CASCADE)),
            ["parent"],
        ),
        (
            AlterTableInOnePass(
                "parent",
                [
                    AddConstraint(
                        "parent", models.CheckConstraint(condition=models.Q(id__gt=""), name="c")
                    )
                ],
            ),
            [],
        ),
        (
            AlterTableInOnePass(
                "parent",
                [AddConstraint("parent", models.UniqueConstraint(fields=["id"], name="u"))],
            ),
            ["parent"],
        ),
        (
            AlterTableInOnePass(
                "parent",
                [AlterField("parent", "other", models.ForeignKey("family.other", models.CASCADE))],
            ),
            ["parent"],
        ),
    ],
)
def test_a_column_added_null_or_a_check_added_needs_no_key_checked(operation, scope):
    """A column Django's SQLite editor adds with ALTER TABLE ADD COLUMN is NULL in every row, so
    a key in it holds; a CHECK changes no key (a row it refuses stops the migration). A default,
    a unique column, NOT NULL, or any other alteration of the table has it checked."""
    migration = SimpleNamespace(app_label="family", operations=[operation])
    state = SimpleNamespace(
        models={("family", "parent"): SimpleNamespace(options={"db_table": "parent"})}
    )
    assert foreign_key_check_scope(migration, state) == scope


def test_the_tables_pointing_to_a_changed_table_are_checked_with_it(tmp_path, legacy_database):
    """A parent's changed definition can break its children's keys, so they are checked too;
    a table with no key to it is not."""
    path = tmp_path / "family.db"
    database = sqlite3.connect(path)
    database.executescript(
        "CREATE TABLE parent (id TEXT PRIMARY KEY);"
        "CREATE TABLE child (id TEXT PRIMARY KEY, parent_id TEXT REFERENCES PARENT (id));"
        "CREATE TABLE grandchild (id TEXT PRIMARY KEY, child_id TEXT REFERENCES child (id));"
        "CREATE TABLE other (id TEXT PRIMARY KEY);"
    )
    database.close()
    with legacy_database(path) as alias:
        connection = connections[alias]
        assert with_referencing_tables(connection, ["parent"]) == ["child", "parent"]
        assert with_referencing_tables(connection, ["child"]) == ["child", "grandchild"]
        assert with_referencing_tables(connection, ["other"]) == ["other"]
        assert with_referencing_tables(connection, []) == []


def test_a_child_pointing_to_a_changed_table_is_checked_after_the_migration(
    tmp_path, legacy_database
):
    """The check after a migration that alters `parent` covers `child`, whose key points to
    it: a row of `child` pointing nowhere is refused, though `parent`'s own keys are fine."""
    path = tmp_path / "family.db"
    database = sqlite3.connect(path)
    database.executescript(
        "CREATE TABLE parent (id TEXT PRIMARY KEY);"
        "CREATE TABLE child (id TEXT PRIMARY KEY, parent_id TEXT REFERENCES parent (id));"
        "INSERT INTO parent VALUES ('p');"
        "INSERT INTO child VALUES ('c', 'gone');"
    )
    database.close()
    migration = SimpleNamespace(
        app_label="family", operations=[AlterTableInOnePass("parent", operations=[])]
    )
    state = SimpleNamespace(
        models={("family", "parent"): SimpleNamespace(options={"db_table": "parent"})}
    )
    assert foreign_key_check_scope(migration, state) == ["parent"]
    with legacy_database(path) as alias:
        executor = SimpleNamespace(connection=connections[alias], progress_callback=None)
        with (
            pytest.raises(IntegrityError, match=r"table 'child' with primary key 'c'.*'gone'"),
            _checking_only(executor, migration, state),
        ):
            connections[alias].check_constraints()


# The foreign key check of one table: its probe (violation_probe), or the pragma.
CHECKED = re.compile(
    r'^(?:PRAGMA foreign_key_check\("([^"]+)"\)|SELECT 1 FROM "([^"]+)" c( LEFT JOIN .*)? WHERE )'
)


def test_migrate_checks_the_whole_database_only_after_migrations_that_can_break_a_reference(
    make_legacy_db, legacy_database, monkeypatch
):
    """Each migration whose scope is every table is followed by a check of every table; one
    that alters tables by a check of those and the tables pointing to them; the index
    migrations after the last foreign keys by none. A table's check is its probe when it has
    one, and the pragma only on a table the probe cannot read or found a broken key in."""
    path = make_legacy_db("dev")
    checks: dict[str, list[str]] = {}
    pragmas: dict[str, list[str]] = {}
    tables: dict[str, list[str]] = {}
    applying: list[str] = []
    apply_migration = RecordingExecutor.apply_migration

    def noting(executor, state, migration, *args, **kwargs):
        name = f"{migration.app_label}.{migration.name}"
        applying.append(name)
        checks[name], pragmas[name] = [], []
        state = apply_migration(executor, state, migration, *args, **kwargs)
        with executor.connection.cursor() as cursor:
            tables[name] = executor.connection.introspection.table_names(cursor)
        return state

    def watch(execute, sql, params, many, context):
        if applying and (checked := CHECKED.match(sql)):
            checks[applying[-1]].append(checked[1] or checked[2])
            if checked[1]:
                pragmas[applying[-1]].append(checked[1])
        return execute(sql, params, many, context)

    monkeypatch.setattr(RecordingExecutor, "apply_migration", noting)
    with legacy_database(path) as alias, connections[alias].execute_wrapper(watch):
        call_command("migrate", database=alias, no_backup=True, stdout=StringIO())
        call_command("verify_root_ids", database=alias, stdout=StringIO())
    scopes = plan_scopes()

    assert checks["practice_sessions.0004_add_indexes"] == []
    assert checks["sessions.0001_initial"] == ["django_session"]
    # practice_sessions.0003 adds the keys of metric_values and activity_instances: those are
    # checked, the goals tables (pointing to none of its tables) are not.
    sessions = checks["practice_sessions.0003_enforce_root_ids_and_constraints"]
    assert sessions == list(SESSION_TABLES)
    # Each of them by its probe: no key of theirs was broken, and the probe reads all of them.
    assert pragmas["practice_sessions.0003_enforce_root_ids_and_constraints"] == []
    for name, made in checks.items():
        if scopes[name] is None:
            assert made == tables[name], name
        else:
            assert set(scopes[name]) <= set(made), name


def test_the_migrations_that_enforce_the_root_rule_are_found_by_their_operations():
    """Those whose refusals are listed against the root rule (exit 19), with the tables they
    enforce it on: the ones that add its constraints or make root_id NOT NULL."""
    migrations = plan_migrations()
    enforcing = {
        name: tables
        for name, migration in migrations.items()
        if (tables := root_rule_tables(migration))
    }
    assert enforcing == {
        "goals.0005_enforce_root_ids_and_constraints": {
            "goals",
            "activity_groups",
            "activity_definitions",
            "metric_definitions",
            "split_definitions",
            "session_templates",
        },
        "goals.0006_add_fractal_owner": {"goals"},
        "practice_sessions.0003_enforce_root_ids_and_constraints": {
            "activity_instances",
            "metric_values",
            "programs",
        },
    }


def test_migrate_works_when_every_table_is_rebuilt_rather_than_altered_in_place(
    make_legacy_db, legacy_database, monkeypatch
):
    """Django's rebuild, the way taken where a copy would store a table's columns otherwise,
    builds the (id, root_id) keys of goals.roots (unique indexes) before the composite foreign
    keys pointing to them are checked: migrate succeeds and the root rule holds. The rebuilds
    show in goals' columns, its foreign keys to itself last, where Django's rebuild puts them."""
    from goals_project.maintenance import migration_operations
    from goals_project.maintenance.legacy import adoption

    monkeypatch.setattr(migration_operations, "alter_constraints_in_place", lambda *_: False)
    monkeypatch.setattr(adoption, "alter_constraints_in_place", lambda *_: False)
    path = make_legacy_db("dev")
    with legacy_database(path) as alias:
        call_command("migrate", database=alias, no_backup=True, stdout=StringIO())
        call_command("verify_root_ids", database=alias, stdout=StringIO())
    connection = sqlite3.connect(path)
    columns = [row[1] for row in connection.execute('PRAGMA table_info("goals")')]
    key = connection.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'activity_instances_id_root_key'"
    ).fetchone()
    connection.close()
    assert columns[-2:] == ["parent_id", "root_id"]
    assert key == (
        'CREATE UNIQUE INDEX "activity_instances_id_root_key" ON "activity_instances" '
        '("id", "root_id")',
    )


def test_what_between_raises_stops_the_run_after_that_migration(make_legacy_db, legacy_database):
    """recording_executor calls `between` after each migration applied; what it raises stops
    Django's migrate there, with the migrations before it applied (each in its own transaction
    here; migrate's one transaction is migrate_service's)."""
    path = make_legacy_db("dev")
    calls = []

    def applied() -> int:
        with contextlib.closing(sqlite3.connect(path)) as database:
            return database.execute("SELECT COUNT(*) FROM django_migrations").fetchone()[0]

    def between() -> None:
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("the backup's check failed")

    with legacy_database(path) as alias:
        call_command("adopt_legacy_db", database=alias, stdout=StringIO())
        before = applied()
        with (
            recording_executor(between=between),
            pytest.raises(RuntimeError, match="check failed"),
        ):
            call_command(DjangoMigrateCommand(), database=alias, verbosity=0, stdout=StringIO())
        connections[alias].close()
    assert applied() == before + 2


# Keys of every shape violation_probe reads: one key inside a wider one to the same parent
# (metric_values' instance), a key to an INTEGER PRIMARY KEY, and goals' own: its root inside
# (root_id, root_id) and (parent_id, root_id), to its own table.
KEYS_SCHEMA = (
    "CREATE TABLE parent (id TEXT PRIMARY KEY, root_id TEXT, UNIQUE (id, root_id));"
    "CREATE TABLE roots (id TEXT PRIMARY KEY);"
    "CREATE TABLE kinds (id INTEGER PRIMARY KEY);"
    "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id TEXT REFERENCES parent (id), "
    "root_id TEXT REFERENCES roots (id), kind_id INTEGER REFERENCES kinds, "
    "FOREIGN KEY (parent_id, root_id) REFERENCES parent (id, root_id));"
    "CREATE TABLE tree (id TEXT PRIMARY KEY, parent_id TEXT REFERENCES tree (id), "
    "root_id TEXT REFERENCES tree (id), UNIQUE (id, root_id), "
    "FOREIGN KEY (parent_id, root_id) REFERENCES tree (id, root_id), "
    "FOREIGN KEY (root_id, root_id) REFERENCES tree (id, root_id));"
    # A key inside one with two more columns, the wider key's index in another column order; the
    # same columns pointing to another table; a key to a primary key declared in another order.
    "CREATE TABLE wide (x TEXT PRIMARY KEY, y TEXT, z TEXT, UNIQUE (z, x, y));"
    "CREATE TABLE other (x TEXT PRIMARY KEY);"
    "CREATE TABLE pair (u TEXT, v TEXT, PRIMARY KEY (v, u)) WITHOUT ROWID;"
    "CREATE TABLE child2 (id INTEGER PRIMARY KEY, a TEXT REFERENCES wide (x), b TEXT, c TEXT, "
    "m TEXT, n TEXT, FOREIGN KEY (a, b, c) REFERENCES wide (x, y, z), "
    "FOREIGN KEY (a) REFERENCES other (x), FOREIGN KEY (m, n) REFERENCES pair);"
)
PROBED_TABLES = ("child", "tree", "child2")
# Few values, so rows often match and often do not; a blob never equals the text of its bytes.
KEY_VALUES = st.sampled_from(["a", "b", "c", None, b"a"])
KIND_VALUES = st.sampled_from([1, 2, "2", 2.0, None, "x"])


@contextlib.contextmanager
def database_of(path, legacy_database, schema: str):
    """A Django connection to a new file of `schema`, its foreign keys not enforced, so that
    rows breaking them can be written."""
    database = sqlite3.connect(path)
    database.executescript(schema)
    database.close()
    with legacy_database(path) as alias:
        connection = connections[alias]
        connection.ensure_connection()
        assert connection.disable_constraint_checking()
        yield connection
        connection.enable_constraint_checking()


@pytest.fixture
def keys_database(tmp_path, legacy_database):
    with database_of(tmp_path / "keys.db", legacy_database, KEYS_SCHEMA) as connection:
        yield connection


def probe_and_pragma(connection, table: str) -> tuple[bool, bool]:
    """Whether violation_probe's query finds a broken key in `table`, and whether the pragma
    does."""
    with connection.cursor() as cursor:
        probe = violation_probe(cursor, table)
        assert probe is not None
        found = cursor.execute(probe).fetchone() is not None
        listed = cursor.execute(f'PRAGMA foreign_key_check("{table}")').fetchone() is not None
    return found, listed


@hypothesis_settings(max_examples=hypothesis_settings.default.max_examples * 10)
@given(
    parents=st.dictionaries(KEY_VALUES.filter(bool), KEY_VALUES, max_size=3),
    roots=st.sets(KEY_VALUES.filter(bool), max_size=3),
    kinds=st.sets(st.sampled_from([1, 2]), max_size=2),
    children=st.lists(st.tuples(KEY_VALUES, KEY_VALUES, KIND_VALUES), max_size=4),
    tree=st.dictionaries(KEY_VALUES.filter(bool), st.tuples(KEY_VALUES, KEY_VALUES), max_size=4),
    wide=st.dictionaries(KEY_VALUES.filter(bool), st.tuples(KEY_VALUES, KEY_VALUES), max_size=3),
    other=st.sets(KEY_VALUES.filter(bool), max_size=3),
    pair=st.sets(st.tuples(KEY_VALUES.filter(bool), KEY_VALUES.filter(bool)), max_size=3),
    children2=st.lists(st.tuples(*[KEY_VALUES] * 5), max_size=4),
)
def test_the_probe_finds_a_broken_key_exactly_where_the_pragma_does(
    keys_database, parents, roots, kinds, children, tree, wide, other, pair, children2
):
    """On rows of every kind (NULLs, missing parents, a root not the parent's, a blob for a
    text, text for an integer), the probe's query finds a broken key in a table exactly when
    PRAGMA foreign_key_check lists one, the keys it leaves out where a wider key holds
    included."""
    with keys_database.cursor() as cursor:
        for table in (*PROBED_TABLES, "parent", "roots", "kinds", "wide", "other", "pair"):
            cursor.execute(f"DELETE FROM {table}")
        cursor.executemany("INSERT INTO parent VALUES (%s, %s)", list(parents.items()))
        cursor.executemany("INSERT INTO roots VALUES (%s)", [(root,) for root in roots])
        cursor.executemany("INSERT INTO kinds VALUES (%s)", [(kind,) for kind in kinds])
        cursor.executemany(
            "INSERT INTO child (parent_id, root_id, kind_id) VALUES (%s, %s, %s)", children
        )
        cursor.executemany(
            "INSERT INTO tree VALUES (%s, %s, %s)", [(key, *row) for key, row in tree.items()]
        )
        cursor.executemany(
            "INSERT INTO wide VALUES (%s, %s, %s)", [(key, *row) for key, row in wide.items()]
        )
        cursor.executemany("INSERT INTO other VALUES (%s)", [(key,) for key in other])
        cursor.executemany("INSERT INTO pair VALUES (%s, %s)", list(pair))
        cursor.executemany(
            "INSERT INTO child2 (a, b, c, m, n) VALUES (%s, %s, %s, %s, %s)", children2
        )
    for table in PROBED_TABLES:
        found, listed = probe_and_pragma(keys_database, table)
        assert found == listed, table


def test_the_probe_looks_a_key_up_only_where_no_wider_key_vouches_for_it(keys_database):
    """What the probe saves: a key inside a wider key to the same table is looked up only in
    rows where one of the wider key's other columns is NULL; one to another table always."""
    with keys_database.cursor() as cursor:
        child = violation_probe(cursor, "child")
        child2 = violation_probe(cursor, "child2")
    assert (
        '(c."parent_id" IS NOT NULL AND (c."root_id" IS NULL) AND NOT EXISTS '
        '(SELECT 1 FROM "parent" p WHERE p."id" = c."parent_id"))'
    ) in child
    assert (
        '(c."a" IS NOT NULL AND (c."b" IS NULL OR c."c" IS NULL) AND NOT EXISTS '
        '(SELECT 1 FROM "wide" p WHERE p."x" = c."a"))'
    ) in child2
    # Looked up in every row: joined.
    (alias,) = re.findall(r'LEFT JOIN "other" (p\d+) ON p\d+\."x" = c\."a"', child2)
    assert f'(c."a" IS NOT NULL AND {alias}."x" IS NULL)' in child2


def test_a_broken_key_the_probe_finds_is_named_by_the_pragma(keys_database):
    """A value whose instance is gone, with its root NULL (so its wider key holds), is found by
    the key the probe reads only in such rows, and the error names the row and its key."""
    with keys_database.cursor() as cursor:
        cursor.execute("INSERT INTO roots VALUES ('r')")
        cursor.execute("INSERT INTO parent VALUES ('p', 'r')")
        cursor.execute("INSERT INTO child (id, parent_id, root_id) VALUES (7, 'p', 'r')")
        cursor.execute("INSERT INTO child (id, parent_id, root_id) VALUES (8, 'gone', NULL)")
    assert probe_and_pragma(keys_database, "child") == (True, True)
    with pytest.raises(IntegrityError, match=r"table 'child' with primary key '8'.*'gone'"):
        foreign_keys_check(keys_database, ["child"])
    with keys_database.cursor() as cursor:
        cursor.execute("DELETE FROM child WHERE id = 8")
    foreign_keys_check(keys_database, None)


# Keys vouched for by another table's probe: a root inside a key to a parent that has the same
# root (metric_values' in its instance's), over two levels (an instance's in its session's), and
# two tables whose roots could each vouch for the other's.
VOUCHED_SCHEMA = (
    "CREATE TABLE roots (id TEXT PRIMARY KEY);"
    "CREATE TABLE parent (id TEXT PRIMARY KEY, root_id TEXT REFERENCES roots (id), "
    "UNIQUE (id, root_id));"
    "CREATE TABLE child (id TEXT PRIMARY KEY, parent_id TEXT, root_id TEXT REFERENCES roots (id), "
    "UNIQUE (id, root_id), FOREIGN KEY (parent_id, root_id) REFERENCES parent (id, root_id));"
    "CREATE TABLE grandchild (id INTEGER PRIMARY KEY, child_id TEXT, "
    "root_id TEXT REFERENCES roots (id), "
    "FOREIGN KEY (child_id, root_id) REFERENCES child (id, root_id));"
    "CREATE TABLE lefts (id TEXT PRIMARY KEY, right_id TEXT, root_id TEXT REFERENCES roots (id), "
    "UNIQUE (id, root_id), FOREIGN KEY (right_id, root_id) REFERENCES rights (id, root_id));"
    "CREATE TABLE rights (id TEXT PRIMARY KEY, left_id TEXT, root_id TEXT REFERENCES roots (id), "
    "UNIQUE (id, root_id), FOREIGN KEY (left_id, root_id) REFERENCES lefts (id, root_id));"
)
VOUCHED_TABLES = ("parent", "child", "grandchild", "lefts", "rights")


@pytest.fixture
def vouched_database(tmp_path, legacy_database):
    with database_of(tmp_path / "vouched.db", legacy_database, VOUCHED_SCHEMA) as connection:
        yield connection


def rows_of(key_values, size: int):
    """Rows of (id, reference, root) with distinct ids."""
    return st.dictionaries(
        key_values.filter(bool), st.tuples(key_values, key_values), max_size=size
    ).map(lambda rows: [(key, *row) for key, row in rows.items()])


@hypothesis_settings(max_examples=hypothesis_settings.default.max_examples * 10)
@given(
    roots=st.sets(KEY_VALUES.filter(bool), max_size=3),
    parents=st.dictionaries(KEY_VALUES.filter(bool), KEY_VALUES, max_size=3),
    children=rows_of(KEY_VALUES, 3),
    grandchildren=st.lists(st.tuples(KEY_VALUES, KEY_VALUES), max_size=4),
    lefts=rows_of(KEY_VALUES, 3),
    rights=rows_of(KEY_VALUES, 3),
    checked=st.sets(st.sampled_from(VOUCHED_TABLES), min_size=1).map(sorted),
)
@example(  # two rows vouching for each other's root, which no row of roots has
    roots=set(),
    parents={},
    children=[],
    grandchildren=[],
    lefts=[("a", "a", "c")],
    rights=[("a", "a", "c")],
    checked=["lefts", "rights"],
)
def test_the_probes_of_tables_checked_together_find_a_broken_key_where_the_pragma_does(
    vouched_database, roots, parents, children, grandchildren, lefts, rights, checked
):
    """Over any set of tables checked together, the probes, trusting keys each other check,
    find a broken key exactly when PRAGMA foreign_key_check lists one in one of the tables:
    a root no goal has is found in the table where the chain of trust ends."""
    with vouched_database.cursor() as cursor:
        for table in ("roots", *VOUCHED_TABLES):
            cursor.execute(f"DELETE FROM {table}")
        cursor.executemany("INSERT INTO roots VALUES (%s)", [(root,) for root in roots])
        cursor.executemany("INSERT INTO parent VALUES (%s, %s)", list(parents.items()))
        cursor.executemany("INSERT INTO child VALUES (%s, %s, %s)", children)
        cursor.executemany(
            "INSERT INTO grandchild (child_id, root_id) VALUES (%s, %s)", grandchildren
        )
        cursor.executemany("INSERT INTO lefts VALUES (%s, %s, %s)", lefts)
        cursor.executemany("INSERT INTO rights VALUES (%s, %s, %s)", rights)
        probes = violation_probes(cursor, checked)
        assert all(probes[table] is not None for table in checked)
        found = [table for table in checked if cursor.execute(probes[table]).fetchone()]
        listed = [
            table
            for table in checked
            if cursor.execute(f'PRAGMA foreign_key_check("{table}")').fetchone()
        ]
    assert set(found) <= set(listed)  # a probe finds only what the pragma lists
    assert bool(found) == bool(listed), (found, listed)
    if listed:
        with pytest.raises(IntegrityError, match="invalid foreign key"):
            foreign_keys_check(vouched_database, checked)
    else:
        foreign_keys_check(vouched_database, checked)


def test_a_root_is_looked_up_only_where_no_checked_table_vouches_for_it(vouched_database):
    """What trusting another table's probe saves: grandchild's root is looked up only where its
    key to child is not set, when child is checked with it, and child's root likewise when
    parent is; checked alone, each root is looked up in every row. Of two tables that could
    vouch for each other's root, one does, and the other's root is looked up in every row."""

    def root_lookup(probe: str) -> str:
        """Where the probe looks the root up: in every row (joined), in rows where some
        columns are NULL (a subquery: that condition), or nowhere."""
        if re.search(r'LEFT JOIN "roots" (p\d+) ON \1\."id" = c\."root_id"', probe):
            return "every row"
        gated = re.search(
            r'\(c\."root_id" IS NOT NULL AND (\(.*?\)) AND NOT EXISTS '
            r'\(SELECT 1 FROM "roots" p WHERE p\."id" = c\."root_id"\)\)',
            probe,
        )
        return gated[1] if gated else "nowhere"

    with vouched_database.cursor() as cursor:
        together = violation_probes(cursor, VOUCHED_TABLES)
        alone = {table: violation_probe(cursor, table) for table in VOUCHED_TABLES}
        without_parent = violation_probes(cursor, ["child", "grandchild"])
    assert root_lookup(together["grandchild"]) == '(c."child_id" IS NULL)'
    assert root_lookup(together["child"]) == '(c."parent_id" IS NULL)'
    assert root_lookup(without_parent["child"]) == "every row"
    assert root_lookup(without_parent["grandchild"]) == '(c."child_id" IS NULL)'
    assert root_lookup(together["parent"]) == "every row"
    for table in VOUCHED_TABLES:
        assert root_lookup(alone[table]) == "every row"
    cycle = sorted(root_lookup(together[table]) for table in ("lefts", "rights"))
    assert cycle in (
        ['(c."right_id" IS NULL)', "every row"],
        ['(c."left_id" IS NULL)', "every row"],
    )


def test_a_table_with_more_keys_than_a_join_takes_is_checked(tmp_path, legacy_database):
    """SQLite joins 64 tables at the most: a table with 70 keys looked up in every row is
    checked, the keys past MOST_JOINED by subqueries, and a broken one is found."""
    keys = 70
    path = tmp_path / "many.db"
    database = sqlite3.connect(path)
    database.execute("CREATE TABLE parent (id TEXT PRIMARY KEY)")
    columns = ", ".join(f"k{n} TEXT REFERENCES parent (id)" for n in range(keys))
    database.execute(f"CREATE TABLE child (id INTEGER PRIMARY KEY, {columns})")
    database.execute("INSERT INTO parent VALUES ('a')")
    database.execute("INSERT INTO child VALUES (1" + ", 'a'" * keys + ")")
    database.commit()
    database.close()
    with legacy_database(path) as alias:
        connection = connections[alias]
        with connection.cursor() as cursor:
            probe = violation_probe(cursor, "child")
        assert probe.count(" LEFT JOIN ") == MOST_JOINED
        foreign_keys_check(connection, ["child"])
        assert connection.disable_constraint_checking()
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE child SET k{keys - 1} = 'gone'")
        with pytest.raises(IntegrityError, match=rf"child\.\(k{keys - 1}\) contains \('gone',\)"):
            foreign_keys_check(connection, ["child"])
        connection.enable_constraint_checking()


def test_a_broken_key_in_a_table_without_rowid_is_refused_by_name(tmp_path, legacy_database):
    """PRAGMA foreign_key_check names no row of a WITHOUT ROWID table: the error names the
    table and its key."""
    path = tmp_path / "keyed.db"
    database = sqlite3.connect(path)
    database.executescript(
        "CREATE TABLE parent (id TEXT PRIMARY KEY);"
        "CREATE TABLE child (id TEXT PRIMARY KEY, parent_id TEXT REFERENCES parent (id)) "
        "WITHOUT ROWID;"
        "INSERT INTO child VALUES ('c', 'gone');"
    )
    database.close()
    with (
        legacy_database(path) as alias,
        pytest.raises(IntegrityError, match=r"A row in table 'child'.*child\.\(parent_id\)"),
    ):
        foreign_keys_check(connections[alias], ["child"])


@pytest.mark.parametrize(
    ("schema", "why"),
    [
        (
            "CREATE TABLE parent (id TEXT, root_id TEXT);"
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id TEXT REFERENCES parent (id));",
            "no unique index on the parent's key: the pragma calls it a mismatch",
        ),
        (
            "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id TEXT REFERENCES parent (id));",
            "text pointing to an integer: other affinities",
        ),
        (
            "CREATE TABLE parent (id TEXT PRIMARY KEY COLLATE NOCASE);"
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id TEXT REFERENCES parent (id));",
            "a collation of the parent's",
        ),
        (
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id TEXT REFERENCES gone (id));",
            "a parent that does not exist",
        ),
        (
            "CREATE TABLE parent (id TEXT PRIMARY KEY);"
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id TEXT REFERENCES parent (id),"
            " kind TEXT REFERENCES kinds);"
            "CREATE TABLE kinds (a TEXT, b TEXT, PRIMARY KEY (a, b));",
            "one column pointing to a primary key of two",
        ),
        (
            "CREATE TABLE parent (id ANY PRIMARY KEY) STRICT;"
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id ANY REFERENCES parent (id));",
            "a STRICT table's ANY column has no affinity",
        ),
        (
            "CREATE TABLE parent (id CHAR\u0131nt PRIMARY KEY);"
            "CREATE TABLE child (id INTEGER PRIMARY KEY, "
            "parent_id INTEGER REFERENCES parent (id));",
            "a type name SQLite reads in ASCII only",
        ),
        (
            "CREATE TABLE parent (id TEXT PRIMARY KEY);"
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id TEXT, b TEXT, "
            "FOREIGN KEY (parent_id, b) REFERENCES parent (id, id));",
            "a parent column named twice: the pragma calls it a mismatch",
        ),
        (
            "CREATE TABLE parent (id TEXT, live INTEGER);"
            "CREATE UNIQUE INDEX parent_live ON parent (id) WHERE live;"
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id TEXT REFERENCES parent (id));",
            "a partial unique index",
        ),
        (
            "CREATE TABLE parent (id TEXT);"
            "CREATE UNIQUE INDEX parent_id ON parent (id COLLATE NOCASE);"
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id TEXT REFERENCES parent (id));",
            "a unique index of another collation",
        ),
    ],
)
def test_keys_the_probe_cannot_read_are_left_to_the_pragma(tmp_path, legacy_database, schema, why):
    """Where `=` could disagree with the pragma, there is no probe, and the check is the
    pragma's: a row pointing nowhere is refused, and a mismatch is the pragma's own error."""
    path = tmp_path / "other.db"
    database = sqlite3.connect(path)
    database.executescript(schema)
    database.execute("INSERT INTO child (id, parent_id) VALUES (1, 'x')")
    database.commit()
    database.close()
    with legacy_database(path) as alias:
        connection = connections[alias]
        with connection.cursor() as cursor:
            assert violation_probe(cursor, "child") is None, why
        with pytest.raises(DatabaseError):
            foreign_keys_check(connection, ["child"])
