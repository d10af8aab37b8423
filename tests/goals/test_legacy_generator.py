"""The legacy-data generator writes real legacy DDL and data shaped like real files."""

from __future__ import annotations

import json
import re
import sqlite3
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from goals_project.bases.exit_codes import Exit
from goals_project.devdata.generator import LegacyGenerateError, legacy_db_generate
from goals_project.maintenance.legacy.schemas import VARIANTS
from tests.conftest import file_sha256

pytestmark = pytest.mark.sqlite_only
LEGACY_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
ROOT_TYPES = ["UltimateGoal", "LongTermGoal", "MidTermGoal", "ShortTermGoal"]
SESSION_GOAL_TYPES = ["ImmediateGoal", "MicroGoal", "NanoGoal"]
# The legacy app's tree order, each type's child type.
TREE_ORDER = [*ROOT_TYPES, "PracticeSession", *SESSION_GOAL_TYPES]
SESSION_KINDS = ["parented", "linked_only", "unlinked"]
# Every immediate, micro and nano goal with the session its chain hangs under, and that session's
# kind: with a parent, linked only through practice_session_goals, or neither.
SESSION_GOALS_SQL = """
    WITH RECURSIVE chain(id, session_id) AS (
        SELECT goal.id, goal.parent_id FROM goals goal
        JOIN goals session ON session.id = goal.parent_id
        WHERE goal.type = 'ImmediateGoal' AND session.type = 'PracticeSession'
        UNION ALL
        SELECT goal.id, chain.session_id FROM goals goal JOIN chain ON goal.parent_id = chain.id
    )
    SELECT goal.id, goal.type, goal.root_id, chain.session_id,
        CASE
            WHEN session.parent_id IS NOT NULL THEN 'parented'
            WHEN session.id IN (SELECT practice_session_id FROM practice_session_goals)
                THEN 'linked_only'
            ELSE 'unlinked'
        END
    FROM chain
    JOIN goals goal ON goal.id = chain.id
    JOIN goals session ON session.id = chain.session_id
"""


def _generate(tmp_path, variant="dev", **kwargs):
    options = {"fractals": 3, "sessions_per_fractal": 20, "seed": 3, **kwargs}
    return legacy_db_generate(path=tmp_path / f"{variant}.db", variant=variant, **options)


def _schema(connection: sqlite3.Connection) -> list[tuple]:
    return connection.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_schema_is_the_variant_ddl(tmp_path, variant):
    """The file's schema is exactly what the variant's legacy DDL creates."""
    generated = _generate(tmp_path, variant)
    reference = sqlite3.connect(":memory:")
    reference.executescript(VARIANTS[variant].ddl)
    written = sqlite3.connect(generated.path)
    assert _schema(written) == _schema(reference)
    assert written.execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_every_kind_of_dirt_is_present(tmp_path):
    """Even a small file holds each kind of dirt found in real files, checked in SQL."""
    generated = _generate(tmp_path, fractals=1, sessions_per_fractal=1)
    db = sqlite3.connect(generated.path)

    def count(sql: str) -> int:
        return db.execute(sql).fetchone()[0]

    assert (
        count(
            "SELECT COUNT(*) FROM goals s WHERE s.type = 'PracticeSession' AND s.parent_id IS NULL "
            "AND s.root_id IS NOT NULL AND s.root_id NOT IN (SELECT id FROM goals) "
            "AND s.id NOT IN (SELECT practice_session_id FROM practice_session_goals)"
        )
        == generated.dirt["sessions_of_deleted_fractal"]
        >= 1
    )
    assert (
        count(
            "SELECT COUNT(*) FROM goals s WHERE s.type = 'PracticeSession' AND s.parent_id IS NULL "
            "AND s.root_id IS NULL "
            "AND s.id NOT IN (SELECT practice_session_id FROM practice_session_goals)"
        )
        == 1
    )
    for table in ("activity_definitions", "session_templates", "activity_groups"):
        assert (
            count(f"SELECT COUNT(*) FROM {table} WHERE root_id NOT IN (SELECT id FROM goals)") >= 1
        )
    assert (
        count(
            "SELECT COUNT(*) FROM metric_definitions WHERE activity_id IN (SELECT id FROM "
            "activity_definitions WHERE root_id NOT IN (SELECT id FROM goals))"
        )
        >= 1
    )
    assert (
        count(
            "SELECT COUNT(*) FROM metric_values "
            "WHERE metric_definition_id NOT IN (SELECT id FROM metric_definitions)"
        )
        == generated.dirt["metric_values_with_deleted_definition"]
        >= 1
    )
    assert (
        count(
            "SELECT COUNT(*) FROM goals WHERE template_id IS NOT NULL "
            "AND template_id NOT IN (SELECT id FROM session_templates)"
        )
        == 1
    )


def test_real_file_shape(tmp_path):
    """Non-session goals have no root; ~30% of sessions have no parent but a link; ~half the
    metric values point to a deleted definition; timestamps are legacy text."""
    generated = _generate(tmp_path, fractals=4, sessions_per_fractal=50)
    db = sqlite3.connect(generated.path)
    assert db.execute(
        "SELECT COUNT(*) FROM goals WHERE type <> 'PracticeSession' AND root_id IS NOT NULL"
    ).fetchone() == (0,)
    sessions, linked_only = db.execute(
        "SELECT COUNT(*), SUM(parent_id IS NULL AND id IN "
        "(SELECT practice_session_id FROM practice_session_goals)) "
        "FROM goals WHERE type = 'PracticeSession'"
    ).fetchone()
    assert 0.2 < linked_only / sessions < 0.4
    values = generated.row_counts["metric_values"]
    assert 0.4 < generated.dirt["metric_values_with_deleted_definition"] / values < 0.6
    stamps = [
        row[0]
        for row in db.execute("SELECT session_start FROM goals WHERE session_start IS NOT NULL")
    ]
    assert stamps and all(LEGACY_TIMESTAMP.match(stamp) for stamp in stamps)


@pytest.mark.parametrize(
    ("sessions_per_fractal", "last_session_between"),
    [
        # The usual pace, up to 10 hours between sessions: 120 sessions take about a month.
        (40, ("2025-06-02", "2025-11-01")),
        # 3,000 sessions at that pace would run into 2028; they end about the files' date.
        (1000, ("2025-12-01", "2026-01-08")),
    ],
)
def test_the_clock_ends_by_the_real_files_date(
    tmp_path, sessions_per_fractal, last_session_between
):
    """A real file's timestamps are its past (2026-01-01 at the latest); a big file's clock
    moves slower instead of running years ahead of any migration."""
    generated = _generate(
        tmp_path,
        fractals=3,
        sessions_per_fractal=sessions_per_fractal,
        instances_per_session=0,
        metrics_per_instance=0,
    )
    db = sqlite3.connect(generated.path)
    (last,) = db.execute("SELECT MAX(session_start) FROM goals").fetchone()
    earliest, latest = last_session_between
    assert earliest < last < latest


@pytest.mark.parametrize("variant", ["dev", "prod", "script_migrated"])
def test_fractals_take_the_four_root_types_in_turn(tmp_path, variant):
    """Fractal n is rooted at the n-th of the four legacy root types, UltimateGoal first; the
    LongTermGoal one is named "Test"; the report lists each root by its type."""
    generated = _generate(tmp_path, variant, fractals=6, sessions_per_fractal=2)
    db = sqlite3.connect(generated.path)
    roots = db.execute(
        "SELECT id, type, name FROM goals "
        "WHERE parent_id IS NULL AND type <> 'PracticeSession' ORDER BY rowid"
    ).fetchall()
    assert [goal_type for _, goal_type, _ in roots] == [*ROOT_TYPES, *ROOT_TYPES[:2]]
    long_term_names = [name for _, goal_type, name in roots if goal_type == "LongTermGoal"]
    assert long_term_names[0] == "Test"
    assert long_term_names.count("Test") == 1
    for goal_type in ROOT_TYPES:
        ids = [root_id for root_id, root_type, _ in roots if root_type == goal_type]
        assert generated.shapes[f"fractals_rooted_at_{goal_type}"] == len(ids)
        assert generated.shape_ids[f"fractals_rooted_at_{goal_type}"] == ids


def test_two_fractals_report_only_the_root_types_they_hold(tmp_path):
    """A file of two fractals holds an UltimateGoal and a LongTermGoal root, and its report says
    nothing of the other two types."""
    generated = _generate(tmp_path, fractals=2)
    db = sqlite3.connect(generated.path)
    roots = db.execute(
        "SELECT type FROM goals "
        "WHERE parent_id IS NULL AND type <> 'PracticeSession' ORDER BY rowid"
    ).fetchall()
    assert roots == [("UltimateGoal",), ("LongTermGoal",)]
    assert {
        kind: count for kind, count in generated.shapes.items() if kind.startswith("fractals_")
    } == {"fractals_rooted_at_UltimateGoal": 1, "fractals_rooted_at_LongTermGoal": 1}


def test_each_fractal_follows_the_legacy_tree_order(tmp_path):
    """Below a root of any type each goal's parent has the type just above its own, down to nano
    goals: a MidTermGoal root has short-term goals below it, then sessions, then immediate goals."""
    generated = _generate(tmp_path, fractals=8, sessions_per_fractal=40)
    db = sqlite3.connect(generated.path)
    edges = db.execute(
        "WITH RECURSIVE tree(id, type, root_type, parent_type) AS ("
        "  SELECT id, type, type, NULL FROM goals "
        "  WHERE parent_id IS NULL AND type <> 'PracticeSession'"
        "  UNION ALL"
        "  SELECT child.id, child.type, tree.root_type, tree.type FROM goals child "
        "  JOIN tree ON child.parent_id = tree.id"
        ") "
        "SELECT DISTINCT root_type, parent_type, type FROM tree WHERE parent_type IS NOT NULL"
    ).fetchall()
    for _, parent_type, goal_type in edges:
        assert TREE_ORDER.index(goal_type) == TREE_ORDER.index(parent_type) + 1
    for root_type in ROOT_TYPES:
        below = {goal_type for root, _, goal_type in edges if root == root_type}
        assert below == set(TREE_ORDER[TREE_ORDER.index(root_type) + 1 :])


@pytest.mark.parametrize("variant", ["dev", "script_migrated"])
def test_same_seed_same_data(tmp_path, variant):
    """The same seed writes the same rows, every root type and goals under sessions included;
    another seed writes others."""
    first = legacy_db_generate(path=tmp_path / "a.db", variant=variant, seed=9, fractals=4)
    second = legacy_db_generate(path=tmp_path / "b.db", variant=variant, seed=9, fractals=4)
    third = legacy_db_generate(path=tmp_path / "c.db", variant=variant, seed=10, fractals=4)
    assert first.shapes == second.shapes
    assert first.shape_ids == second.shape_ids

    def dump(path):
        return list(sqlite3.connect(path).iterdump())

    assert dump(first.path) == dump(second.path)
    assert dump(first.path) != dump(third.path)


@pytest.mark.parametrize(
    ("variant", "fractals", "sessions_per_fractal"),
    [("dev", 1, 1), ("dev", 2, 20), ("prod", 2, 20), ("script_migrated", 2, 20)],
)
def test_goals_hang_under_every_kind_of_session(tmp_path, variant, fractals, sessions_per_fractal):
    """Sessions with a parent, linked only, and unlinked each hold immediate goals with micro and
    nano goals below, even in the smallest file; the report counts exactly those, with their ids."""
    generated = _generate(
        tmp_path, variant, fractals=fractals, sessions_per_fractal=sessions_per_fractal
    )
    rows = sqlite3.connect(generated.path).execute(SESSION_GOALS_SQL).fetchall()
    for kind in SESSION_KINDS:
        for goal_type in SESSION_GOAL_TYPES:
            ids = {
                goal_id
                for goal_id, type_, _, _, kind_ in rows
                if (type_, kind_) == (goal_type, kind)
            }
            shape = f"{goal_type.removesuffix('Goal').lower()}_goals_under_{kind}_sessions"
            assert len(ids) == generated.shapes[shape] >= 1
            assert set(generated.shape_ids[shape]) <= ids


@pytest.mark.parametrize("variant", ["dev", "prod", "script_migrated"])
def test_goal_chains_under_sessions_are_well_formed(tmp_path, variant):
    """Every immediate goal hangs from a session, every micro goal from an immediate goal, every
    nano goal from a micro goal; sessions hold none, one or two immediate goals."""
    generated = _generate(tmp_path, variant, fractals=4, sessions_per_fractal=50)
    db = sqlite3.connect(generated.path)
    pairs = db.execute(
        "SELECT DISTINCT goal.type, parent.type FROM goals goal "
        "LEFT JOIN goals parent ON parent.id = goal.parent_id "
        "WHERE goal.type IN ('ImmediateGoal', 'MicroGoal', 'NanoGoal')"
    ).fetchall()
    assert sorted(pairs) == [
        ("ImmediateGoal", "PracticeSession"),
        ("MicroGoal", "ImmediateGoal"),
        ("NanoGoal", "MicroGoal"),
    ]
    immediate_counts = db.execute(
        "SELECT DISTINCT (SELECT COUNT(*) FROM goals goal "
        "WHERE goal.parent_id = session.id AND goal.type = 'ImmediateGoal') "
        "FROM goals session WHERE session.type = 'PracticeSession'"
    ).fetchall()
    assert sorted(immediate_counts) == [(0,), (1,), (2,)]


@pytest.mark.parametrize("variant", ["dev", "prod"])
def test_goals_under_sessions_have_no_root(tmp_path, variant):
    """Like every non-session goal the legacy app wrote, goals under sessions have a NULL root."""
    generated = _generate(tmp_path, variant)
    rows = sqlite3.connect(generated.path).execute(SESSION_GOALS_SQL).fetchall()
    assert rows
    assert {root_id for _, _, root_id, _, _ in rows} == {None}


def test_script_migrated_goals_under_sessions_carry_the_scripts_roots(tmp_path):
    """The earlier script gave goals under sessions with a parent or a link their fractal's root,
    except the wrong ones it left on any row: NULL, another fractal's, a missing goal's."""
    generated = _generate(tmp_path, "script_migrated", fractals=4, sessions_per_fractal=200)
    db = sqlite3.connect(generated.path)
    tops = dict(
        db.execute(
            "WITH RECURSIVE up(id, top) AS ("
            "  SELECT id, id FROM goals WHERE parent_id IS NULL"
            "  UNION ALL SELECT goal.id, up.top FROM goals goal JOIN up ON goal.parent_id = up.id"
            ") SELECT id, top FROM up"
        ).fetchall()
    )
    links = dict(
        db.execute(
            "SELECT practice_session_id, MIN(short_term_goal_id) FROM practice_session_goals "
            "GROUP BY practice_session_id"
        ).fetchall()
    )
    fractals = {
        root_id
        for (root_id,) in db.execute(
            "SELECT id FROM goals WHERE parent_id IS NULL AND type <> 'PracticeSession'"
        )
    }
    outcomes = {"fractal": 0, "null": 0, "other_fractal": 0, "missing": 0}
    for _, _, root_id, session_id, kind in db.execute(SESSION_GOALS_SQL):
        if kind == "unlinked":
            continue
        fractal = tops[session_id] if kind == "parented" else tops[links[session_id]]
        if root_id == fractal:
            outcomes["fractal"] += 1
        elif root_id is None:
            outcomes["null"] += 1
        elif root_id in fractals:
            outcomes["other_fractal"] += 1
        else:
            assert root_id not in tops
            outcomes["missing"] += 1
    assert all(outcomes.values())
    assert outcomes["fractal"] > 0.8 * sum(outcomes.values())


def test_existing_file_is_never_overwritten_silently(tmp_path):
    """An existing path is refused and left unchanged unless overwrite is asked for."""
    target = tmp_path / "goals.db"
    target.write_bytes(b"precious")
    digest = file_sha256(target)
    with pytest.raises(LegacyGenerateError, match="already exists; it was left unchanged"):
        legacy_db_generate(path=target)
    assert file_sha256(target) == digest
    legacy_db_generate(path=target, overwrite=True, fractals=1)
    assert file_sha256(target) != digest


def test_command_prints_json(tmp_path):
    """--json reports rows per table, dirt and shape counts for machines."""
    out = StringIO()
    path = tmp_path / "cli.db"
    call_command("make_legacy_db", str(path), "--fractals", "1", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["path"] == str(path)
    assert report["row_counts"]["goals"] > 0
    assert report["dirt"]["session_without_anything"] == 1
    assert report["shapes"]["fractals_rooted_at_UltimateGoal"] == 1
    assert report["shapes"]["nano_goals_under_unlinked_sessions"] >= 1


def test_command_refuses_bad_arguments(tmp_path):
    """Negative sizes are refused with a clear message and exit status 2."""
    with pytest.raises(CommandError, match="fractals must be 0 or more") as raised:
        call_command("make_legacy_db", str(tmp_path / "x.db"), "--fractals", "-1")
    assert raised.value.returncode == Exit.USAGE
    assert not (tmp_path / "x.db").exists()
