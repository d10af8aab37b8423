"""The legacy-data generator writes real legacy DDL and data shaped like real files."""

from __future__ import annotations

import json
import re
import sqlite3
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from goals.legacy.generator import LegacyGenerateError, legacy_db_generate
from goals.legacy.schemas import VARIANTS
from tests.conftest import file_sha256

pytestmark = pytest.mark.sqlite_only
LEGACY_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
ROOT_TYPES = ["UltimateGoal", "LongTermGoal", "MidTermGoal", "ShortTermGoal"]
# The legacy app's tree order, each type's child type.
TREE_ORDER = [*ROOT_TYPES, "PracticeSession"]


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
    assert generated.shapes == {
        "fractals_rooted_at_UltimateGoal": 1,
        "fractals_rooted_at_LongTermGoal": 1,
    }


def test_each_fractal_follows_the_legacy_tree_order(tmp_path):
    """Below a root of any type each goal's parent has the type just above its own, down to
    practice sessions: a MidTermGoal root has short-term goals below it, then sessions."""
    generated = _generate(tmp_path, fractals=8, sessions_per_fractal=10)
    db = sqlite3.connect(generated.path)
    placeholders = ", ".join("?" * len(TREE_ORDER))
    edges = db.execute(
        "WITH RECURSIVE tree(id, type, root_type, parent_type) AS ("
        "  SELECT id, type, type, NULL FROM goals "
        "  WHERE parent_id IS NULL AND type <> 'PracticeSession'"
        "  UNION ALL"
        "  SELECT child.id, child.type, tree.root_type, tree.type FROM goals child "
        f"  JOIN tree ON child.parent_id = tree.id WHERE child.type IN ({placeholders})"
        ") "
        "SELECT DISTINCT root_type, parent_type, type FROM tree WHERE parent_type IS NOT NULL",
        TREE_ORDER,
    ).fetchall()
    for _, parent_type, goal_type in edges:
        assert TREE_ORDER.index(goal_type) == TREE_ORDER.index(parent_type) + 1
    for root_type in ROOT_TYPES:
        below = {goal_type for root, _, goal_type in edges if root == root_type}
        assert below == set(TREE_ORDER[TREE_ORDER.index(root_type) + 1 :])


def test_same_seed_same_data(tmp_path):
    """The same seed writes the same rows; another seed writes others."""
    first = legacy_db_generate(path=tmp_path / "a.db", seed=9, fractals=2)
    second = legacy_db_generate(path=tmp_path / "b.db", seed=9, fractals=2)
    third = legacy_db_generate(path=tmp_path / "c.db", seed=10, fractals=2)

    def dump(path):
        return list(sqlite3.connect(path).iterdump())

    assert dump(first.path) == dump(second.path)
    assert dump(first.path) != dump(third.path)


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
    """--json reports rows per table and dirt counts for machines."""
    out = StringIO()
    path = tmp_path / "cli.db"
    call_command("make_legacy_db", str(path), "--fractals", "1", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["path"] == str(path)
    assert report["row_counts"]["goals"] > 0
    assert report["dirt"]["session_without_anything"] == 1


def test_command_refuses_bad_arguments(tmp_path):
    """Negative sizes are refused with a clear message and exit status 2."""
    with pytest.raises(CommandError, match="fractals must be 0 or more") as raised:
        call_command("make_legacy_db", str(tmp_path / "x.db"), "--fractals", "-1")
    assert raised.value.returncode == 2
    assert not (tmp_path / "x.db").exists()
