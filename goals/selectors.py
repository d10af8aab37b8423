"""Reads over the goal tree."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections

# Deeper chains than this are cycles left in legacy data; the walk stops there.
MAX_TREE_DEPTH = 64


def goal_ancestor_names(
    *, goal_ids: list[str], using: str = DEFAULT_DB_ALIAS
) -> dict[str, list[str]]:
    """Each goal's ancestors' names, root first, for a page of goals in one recursive query."""
    if not goal_ids:
        return {}
    placeholders = ", ".join(["%s"] * len(goal_ids))
    sql = (
        "WITH RECURSIVE chain(start_id, id, parent_id, depth) AS ("  # noqa: S608 - placeholders
        f"SELECT id, id, parent_id, 0 FROM goals WHERE id IN ({placeholders}) "
        "UNION ALL SELECT c.start_id, g.id, g.parent_id, c.depth + 1 FROM goals g "
        "JOIN chain c ON g.id = c.parent_id WHERE c.depth < %s) "
        "SELECT c.start_id, g.name FROM chain c JOIN goals g ON g.id = c.id "
        "WHERE c.depth > 0 ORDER BY c.start_id, c.depth DESC"
    )
    names: dict[str, list[str]] = {goal_id: [] for goal_id in goal_ids}
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [*goal_ids, MAX_TREE_DEPTH])
        for start_id, name in cursor.fetchall():
            names[start_id].append(name)
    return names
