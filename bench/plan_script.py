"""The plan script's baseline: the improvement plan's own steps, as its standalone script ran them,
with none of our guarantees and the plan's own idea of a root (any goal without a parent).

1. ALTER TABLE ... ADD COLUMN root_id on each table that lacks it (nothing else is added);
2. one UPDATE per table through the parent chain: goals from the top of their chain (a recursive
   query), sessions without a parent from their linked goals, every other table from the row it
   hangs from (a lookup per row);
3. the plan's 26 CREATE INDEX statements, the same ones the migrations build.

`plan_statements()` writes them with Django's help (column types and index SQL per backend);
`python -m bench.raw_sql URL FILE` runs them with the bare driver, like the raw-SQL baseline.
"""

from __future__ import annotations

UPDATES = (
    # Every goal without a parent is taken as its own root (the plan's rule, not ours).
    """CREATE TEMP TABLE plan_goal_roots (id TEXT PRIMARY KEY, root TEXT)""",
    """INSERT INTO plan_goal_roots
    WITH RECURSIVE chain(id, root) AS (
        SELECT id, id FROM goals WHERE parent_id IS NULL
        UNION ALL
        SELECT g.id, c.root FROM goals g JOIN chain c ON g.parent_id = c.id
    )
    SELECT id, root FROM chain""",
    """UPDATE goals SET root_id = (
        SELECT r.root FROM plan_goal_roots r WHERE r.id = goals.id)
    WHERE parent_id IS NOT NULL OR type <> 'PracticeSession'""",
    """UPDATE goals SET root_id = (
        SELECT MIN(g.root_id) FROM practice_session_goals l JOIN goals g
        ON g.id = l.short_term_goal_id WHERE l.practice_session_id = goals.id)
    WHERE parent_id IS NULL AND type = 'PracticeSession'""",
    """UPDATE activity_instances SET root_id = (
        SELECT s.root_id FROM goals s WHERE s.id = activity_instances.practice_session_id)""",
    """UPDATE metric_values SET root_id = (
        SELECT i.root_id FROM activity_instances i
        WHERE i.id = metric_values.activity_instance_id)""",
    """UPDATE metric_definitions SET root_id = (
        SELECT a.root_id FROM activity_definitions a
        WHERE a.id = metric_definitions.activity_id)""",
    """UPDATE split_definitions SET root_id = (
        SELECT a.root_id FROM activity_definitions a WHERE a.id = split_definitions.activity_id)""",
)


def plan_statements(connection) -> list[list[str]]:
    """The plan script's SQL in its three phases (columns, updates, indexes) for the legacy
    database behind `connection` (a Django connection)."""
    from bench.raw_sql import legacy_models, plan_index_statements

    quote = connection.ops.quote_name
    models = legacy_models()
    with connection.cursor() as cursor:
        tables = {model._meta.db_table: model for model in models}
        columns = []
        for table, model in tables.items():
            existing = {
                column.name
                for column in connection.introspection.get_table_description(cursor, table)
            }
            field = next(
                (f for f in model._meta.local_concrete_fields if f.column == "root_id"), None
            )
            if field is not None and "root_id" not in existing:
                columns.append(
                    f"ALTER TABLE {quote(table)} ADD COLUMN root_id {field.db_type(connection)}"
                )
    return [columns, list(UPDATES), plan_index_statements(connection, models)]
