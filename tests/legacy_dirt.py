"""Dirt the generator does not write, added to a legacy file (or the adopted test database) by
copying one row per kind with some columns changed: duplicate names (renamed by the backfill) and
references to rows that no longer exist (placeholders), of every kind."""

from __future__ import annotations

COPIES = (
    ("activity_definitions", "id = 'dup-activity'"),
    ("activity_groups", "id = 'dup-group'"),
    ("session_templates", "id = 'dup-template'"),
    ("goals", "id = 'lost-parent', parent_id = 'gone-goal'", "type = 'ImmediateGoal'"),
    ("goals", "id = 'orphan-micro', parent_id = NULL", "type = 'MicroGoal'"),
    ("practice_session_goals", "short_term_goal_id = 'gone-short-term'"),
    ("activity_instances", "id = 'lost-activity', activity_definition_id = 'gone-activity'"),
    # A metric definition deleted with values on an instance that was deleted too and on one that
    # exists: its placeholder chooses between the existing instance's activity and the recovered
    # instances' activity (a row the backfill creates).
    (
        "metric_values",
        "id = 'lost-instance', activity_instance_id = 'gone-instance', "
        "metric_definition_id = 'gone-metric'",
    ),
    ("metric_values", "id = 'lost-metric', metric_definition_id = 'gone-metric'"),
    ("split_definitions", "id = 'lost-split-activity', activity_id = 'gone-activity-2'"),
    ("program_blocks", "id = 'lost-program', program_id = 'gone-program'"),
    ("program_days", "id = 'lost-block', block_id = 'gone-block'"),
    ("scheduled_sessions", "id = 'lost-day', day_id = 'gone-day'"),
)


def dirt_statements() -> list[str]:
    """SQL adding the dirt of COPIES (a table without rows gets none of its kind)."""
    statements = []
    for table, changes, *where in COPIES:
        condition = where[0] if where else "1 = 1"
        statements += [
            f"CREATE TEMPORARY TABLE copied AS SELECT * FROM {table} WHERE {condition} "
            "ORDER BY 1 LIMIT 1",
            f"UPDATE copied SET {changes}",
            f"INSERT INTO {table} SELECT * FROM copied",
            "DROP TABLE copied",
        ]
    return statements
