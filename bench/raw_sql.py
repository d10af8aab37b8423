"""The baseline: the improvement plan's job in the least SQL that does it, with none of our
guarantees (no NOT NULL, no foreign keys, no checks, no repairs, no backup, no record of changes).

1. ALTER TABLE ... ADD COLUMN for root_id and the audit columns the legacy tables lack;
2. one UPDATE per table filling root_id (goals from their parent chain, parentless sessions from
   their linked goals, the rest from the row they hang off);
3. the plan's 26 CREATE INDEX statements, the same ones the migrations build.

`baseline_statements()` writes them with Django's help (column types and index SQL per backend);
running them (`python -m bench.raw_sql URL FILE`) uses the bare driver only, so the baseline's time
and memory are SQL's alone.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

# Goals: the tree from every ultimate goal down; sessions under a goal are part of the tree.
GOAL_ROOTS = """
CREATE TEMP TABLE bench_goal_roots AS
WITH RECURSIVE tree(id, root) AS (
    SELECT id, id FROM goals WHERE parent_id IS NULL AND type = 'UltimateGoal'
    UNION ALL
    SELECT g.id, t.root FROM goals g JOIN tree t ON g.parent_id = t.id
)
SELECT id, root FROM tree
"""
UPDATES = (
    GOAL_ROOTS,
    "UPDATE goals SET root_id = r.root FROM bench_goal_roots r WHERE r.id = goals.id",
    # Sessions without a parent belong to a fractal only through their linked goals.
    """UPDATE goals SET root_id = (
        SELECT MIN(g.root_id) FROM practice_session_goals l JOIN goals g
        ON g.id = l.short_term_goal_id WHERE l.practice_session_id = goals.id)
    WHERE parent_id IS NULL AND type = 'PracticeSession'""",
    """UPDATE activity_instances SET root_id = s.root_id FROM goals s
    WHERE s.id = activity_instances.practice_session_id""",
    """UPDATE metric_values SET root_id = i.root_id FROM activity_instances i
    WHERE i.id = metric_values.activity_instance_id""",
    """UPDATE metric_definitions SET root_id = a.root_id FROM activity_definitions a
    WHERE a.id = metric_definitions.activity_id""",
    """UPDATE split_definitions SET root_id = a.root_id FROM activity_definitions a
    WHERE a.id = split_definitions.activity_id""",
)


PHASES = ("columns", "updates", "indexes")


def baseline_statements(connection) -> list[list[str]]:
    """The baseline's SQL in its three phases (columns, updates, indexes) for the legacy database
    behind `connection` (a Django connection)."""
    quote = connection.ops.quote_name
    models = legacy_models()
    with connection.cursor() as cursor:
        existing = {
            model._meta.db_table: {
                column.name
                for column in connection.introspection.get_table_description(
                    cursor, model._meta.db_table
                )
            }
            for model in models
        }
    columns = []
    for model in models:
        table = model._meta.db_table
        for field in model._meta.local_concrete_fields:
            if field.column not in existing[table]:
                existing[table].add(field.column)
                columns.append(
                    f"ALTER TABLE {quote(table)} ADD COLUMN {quote(field.column)} "
                    f"{field.db_type(connection)}"
                )
    return [columns, list(UPDATES), plan_index_statements(connection, models)]


def legacy_models() -> list:
    """The models of the legacy tables (proxies left out)."""
    from django.apps import apps

    from goals_project.maintenance.legacy.schemas import LEGACY_TABLES

    return [
        model
        for model in apps.get_models()
        if model._meta.db_table in LEGACY_TABLES and not model._meta.proxy
    ]


def plan_index_statements(connection, models: list) -> list[str]:
    """The CREATE INDEX statements of the plan's 26 indexes, as the migrations write them."""
    from goals_project.maintenance.verification import PLAN_INDEXES

    plan_indexes = {name for names in PLAN_INDEXES.values() for name in names}
    # Only the editor's SQL writer is used: entering it would check the legacy foreign keys.
    editor = connection.schema_editor(collect_sql=True)
    indexes = [
        str(index.create_sql(model, editor))
        for model in models
        for index in model._meta.indexes
        if index.name in plan_indexes
    ]
    if len(indexes) != len(plan_indexes):
        raise RuntimeError(f"expected {len(plan_indexes)} plan indexes, found {len(indexes)}")
    return indexes


def run(url: str, phases: list[list[str]]) -> None:
    """Execute the phases in one transaction with the bare driver, printing each phase's
    seconds as it ends (`phase <name> <seconds>`)."""
    if url.startswith("sqlite:///"):
        import sqlite3

        connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        connection.execute("BEGIN")
        _run_phases(connection, phases)
        connection.execute("COMMIT")
        connection.close()
        return
    import psycopg

    with psycopg.connect(url) as connection:
        _run_phases(connection, phases)


def _run_phases(connection, phases: list[list[str]]) -> None:
    for name, statements in zip(PHASES, phases, strict=True):
        start = time.perf_counter()
        for statement in statements:
            connection.execute(statement)
        print(f"phase {name} {time.perf_counter() - start:.3f}", flush=True)  # noqa: T201


if __name__ == "__main__":
    run(sys.argv[1], json.loads(Path(sys.argv[2]).read_text()))
