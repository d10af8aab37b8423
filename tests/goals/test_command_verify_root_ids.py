"""verify_root_ids on consistent data and on data corrupted in each way it checks."""

from __future__ import annotations

import json
import sqlite3
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from goals_project.bases.exit_codes import Exit
from goals_project.maintenance.verification import PLAN_INDEXES
from tests.factories import LongTermGoalFactory, MetricValueFactory, UltimateGoalFactory
from tests.root_enforcement import root_enforcement_suspended

pytestmark = pytest.mark.django_db


@pytest.fixture
def value():
    """A metric value at the end of a full chain: fractal, goals, session, instance."""
    return MetricValueFactory()


def _verify(*args: str) -> str:
    out = StringIO()
    call_command("verify_root_ids", *args, stdout=out)
    return out.getvalue()


def _failing(*args: str) -> tuple[str, CommandError]:
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("verify_root_ids", *args, stdout=out)
    return out.getvalue(), raised.value


def _sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_passes_when_every_root_is_right(value):
    """Consistent data passes every check, and the plan's 26 indexes exist."""
    output = _verify()
    assert sum(len(names) for names in PLAN_INDEXES.values()) == 26
    assert "FAIL" not in output
    assert output.strip().endswith("root_id checks pass.")


def test_roots_are_derived_through_the_models(value):
    """Saving through the models derives root_id from the chain, down to the metric value."""
    root_id = value.activity_instance.practice_session.parent.parent.parent.parent.pk
    assert value.root_id == root_id
    assert value.activity_instance.root_id == root_id
    assert value.metric_definition.root_id == value.activity_instance.activity_definition.root_id


def test_names_a_goal_disagreeing_with_its_parent(value):
    """A goal whose root differs from its parent's root is named."""
    session = value.activity_instance.practice_session
    other = UltimateGoalFactory()
    with root_enforcement_suspended():
        _sql("UPDATE goals SET root_id = %s WHERE id = %s", (other.pk, session.pk))
        output, error = _failing()
    assert f"FAIL goals: agrees with its parent's root: 1 failing (first: {session.pk})" in output
    assert error.returncode == Exit.NOT_PASSED


def test_names_a_root_that_is_not_a_root(value):
    """A root_id pointing to a goal that is not a root is named."""
    long_term = LongTermGoalFactory(parent=value.root)
    instance = value.activity_instance
    with root_enforcement_suspended():
        _sql(
            "UPDATE activity_instances SET root_id = %s WHERE id = %s", (long_term.pk, instance.pk)
        )
        output, _ = _failing()
    assert (
        "FAIL activity_instances: no root_id pointing to a goal that is not its own root: "
        f"1 failing (first: {instance.pk})"
    ) in output
    assert "FAIL activity_instances: agrees with its session's root: 1 failing" in output


def test_names_a_root_pointing_to_a_missing_goal(value):
    """A root_id pointing to a goal that does not exist is named."""
    with root_enforcement_suspended():
        _sql("UPDATE metric_values SET root_id = 'no-such-goal' WHERE id = %s", (value.pk,))
        output, _ = _failing()
    assert (
        f"FAIL metric_values: no root_id pointing to a missing goal: 1 failing (first: {value.pk})"
    ) in output


def test_names_a_missing_plan_index(value):
    """A dropped plan index is named."""
    _sql("DROP INDEX idx_metric_values_root_metric")
    output, _ = _failing()
    assert (
        "FAIL metric_values: has its 4 plan indexes: 1 failing "
        "(first: idx_metric_values_root_metric)"
    ) in output


def test_json_lists_every_check(value):
    """--json gives machines every check with its result."""
    report = json.loads(_verify("--json"))
    assert report["ok"] is True
    assert report["failed"] == 0
    tables = {check["table"] for check in report["checks"]}
    assert {"goals", "metric_values", "programs", "session_templates"} <= tables
    assert all(check["ok"] for check in report["checks"])


@pytest.mark.sqlite_only
def test_names_missing_and_nullable_roots_before_the_migrations(make_legacy_db, legacy_database):
    """On a file adopted but not migrated, the nullable, NULL and absent root_id are reported."""
    path = make_legacy_db("dev")
    with legacy_database(path) as alias:
        call_command("adopt_legacy_db", database=alias, stdout=StringIO())
        out = StringIO()
        with pytest.raises(CommandError):
            call_command("verify_root_ids", database=alias, stdout=out)
    output = out.getvalue()
    assert "FAIL goals: root_id is NOT NULL in the schema: 1 failing" in output
    assert "FAIL goals: no NULL root_id:" in output
    assert "FAIL metric_values: has a root_id column: 1 failing" in output
    assert "FAIL goals: has its 8 plan indexes: 8 failing" in output


def _refused_by_both(legacy_database, path) -> tuple[CommandError, CommandError]:
    """The refusals of verify_root_ids and of migrate of the SQLite file at `path`."""
    refusals = []
    with legacy_database(path) as alias:
        for command in ("verify_root_ids", "migrate"):
            with pytest.raises(CommandError) as raised:
                call_command(command, database=alias, stdout=StringIO(), stderr=StringIO())
            refusals.append(raised.value)
    return refusals[0], refusals[1]


@pytest.mark.sqlite_only
def test_refuses_an_unsupported_legacy_schema_as_migrate_does(make_legacy_db, legacy_database):
    """A pre_sti file (no supported schema) is refused with migrate's words and status (6); it
    crashed with 'no such column: r.root_id' (1)."""
    path = make_legacy_db("pre_sti")
    raised, migrating = _refused_by_both(legacy_database, path)
    assert raised.returncode == Exit.UNSUPPORTED_SCHEMA
    assert str(raised) == str(migrating)
    assert str(raised).startswith(f"{path} uses the unsupported 'pre_sti' legacy schema")


def test_refuses_a_database_of_other_tables_as_migrate_does(tmp_path, legacy_database):
    """A SQLite file of someone else's tables is refused with migrate's words and status (5);
    it gave a failing check per missing table and exit 1, as if a Fractal Goals database were
    broken."""
    path = tmp_path / "notes.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
    connection.close()
    raised, migrating = _refused_by_both(legacy_database, path)
    assert raised.returncode == Exit.FOREIGN
    assert str(raised) == str(migrating)
    assert str(raised).startswith(f"{path} is a SQLite database without Fractal Goals tables")
