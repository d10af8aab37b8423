"""SQL over the goal tree's shape: a goal's subtree, the sessions that belong to it by link, and
the goals its deletion takes (both, with what hangs below those sessions)."""

from __future__ import annotations

from goals.roots import GoalType


def subtree_ids_sql() -> str:
    """SQL listing the ids of a goal (bound parameter) and all its descendants.

    UNION (not UNION ALL) stops on a cycle left in legacy data.
    """
    return (
        "WITH RECURSIVE subtree(id) AS (SELECT id FROM goals WHERE id = %s UNION "
        "SELECT g.id FROM goals g JOIN subtree s ON g.parent_id = s.id) SELECT id FROM subtree"
    )


def linked_sessions_sql() -> str:
    """SQL listing sessions without a parent linked only to goals of a subtree (bound twice).

    Such sessions belong to the goals they serve through `practice_session_goals`, so they move,
    are deleted and are restored with them; one also linked elsewhere stays where it is.
    """
    subtree = subtree_ids_sql()
    return (
        "SELECT s.id FROM goals s WHERE s.parent_id IS NULL "  # noqa: S608 - constant SQL
        f"AND s.type = '{GoalType.PRACTICE_SESSION.value}' AND s.id IN "
        "(SELECT practice_session_id FROM practice_session_goals "
        f"WHERE short_term_goal_id IN ({subtree})) AND NOT EXISTS (SELECT 1 FROM "
        "practice_session_goals other WHERE other.practice_session_id = s.id "
        f"AND other.short_term_goal_id NOT IN ({subtree}))"
    )


def cascade_ids_sql() -> str:
    """SQL listing the goals a goal's deletion takes (the goal's id bound three times): the goal,
    the sessions without a parent linked only to its subtree (linked_sessions_sql), and every
    goal below either."""
    return (
        "WITH RECURSIVE taken(id) AS (SELECT id FROM goals WHERE id = %s OR id IN "  # noqa: S608
        f"({linked_sessions_sql()}) UNION "
        "SELECT g.id FROM goals g JOIN taken t ON g.parent_id = t.id) SELECT id FROM taken"
    )
