"""Reads over the goal tree."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models import Exists, OuterRef, Q

from goals.models import Goal, GoalType, LegacyRepair, PracticeSessionGoal

# Between the names of a goal's place in the tree (a single right-pointing angle quote).
PLACE_SEPARATOR = " \u203a "
# Deeper chains than this are cycles left in legacy data; the walk stops there.
MAX_TREE_DEPTH = 64


def goal_ancestor_names(
    *, goal_ids: list[str], using: str = DEFAULT_DB_ALIAS
) -> dict[str, list[str]]:
    """Each goal's ancestors' names, root first, for a page of goals in one recursive query."""
    return _chain_names(goal_ids, first_depth=1, using=using)


def goal_place_labels(*, goal_ids: list[str], using: str = DEFAULT_DB_ALIAS) -> dict[str, str]:
    """Each goal named by its place in the tree, root first (its ancestors' names, then its
    own, joined by PLACE_SEPARATOR), for pickers: one query for all of them."""
    chains = _chain_names(goal_ids, first_depth=0, using=using)
    return {pk: PLACE_SEPARATOR.join(names) for pk, names in chains.items() if names}


def _chain_names(goal_ids: list[str], *, first_depth: int, using: str) -> dict[str, list[str]]:
    """Names up each goal's chain of parents from `first_depth` (0: the goal itself), root
    first, in one recursive query."""
    if not goal_ids:
        return {}
    placeholders = ", ".join(["%s"] * len(goal_ids))
    sql = (
        "WITH RECURSIVE chain(start_id, id, parent_id, depth) AS ("  # noqa: S608 - placeholders
        f"SELECT id, id, parent_id, 0 FROM goals WHERE id IN ({placeholders}) "
        "UNION ALL SELECT c.start_id, g.id, g.parent_id, c.depth + 1 FROM goals g "
        "JOIN chain c ON g.id = c.parent_id WHERE c.depth < %s) "
        "SELECT c.start_id, g.name FROM chain c JOIN goals g ON g.id = c.id "
        "WHERE c.depth >= %s ORDER BY c.start_id, c.depth DESC"
    )
    names: dict[str, list[str]] = {goal_id: [] for goal_id in goal_ids}
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [*goal_ids, MAX_TREE_DEPTH, first_depth])
        for start_id, name in cursor.fetchall():
            names[start_id].append(name)
    return names


@dataclass
class TreeNode:
    """A live goal of a fractal's tree: its goal children in tree order, and apart from them its
    practice sessions (children, or sessions without a parent linked to it), newest first."""

    id: str
    name: str
    type: str
    completed: bool
    when: datetime | None
    children: list[TreeNode] = field(default_factory=list)
    sessions: list[TreeNode] = field(default_factory=list)


@dataclass(frozen=True)
class FractalTree:
    """A fractal's live goals as a tree (`root` None when the root itself is deleted), and the
    live rows of the fractal the walk from its root does not reach (legacy shapes)."""

    root: TreeNode | None
    unreached: list[TreeNode]
    size: int


def fractal_tree(*, root_id: str, using: str = DEFAULT_DB_ALIAS) -> FractalTree:
    """The whole tree of a fractal in two queries, whatever its size: its live goals by the
    indexed root_id, and the links of its sessions without a parent; assembled here.

    Siblings come in `sort_order`, then creation; sessions newest first.
    """
    rows = (
        Goal.objects.using(using)
        .filter(root_id=root_id)
        .order_by("sort_order", "created_at", "id")
        .values_list("id", "parent_id", "type", "name", "completed", "session_start", "created_at")
    )
    nodes: dict[str, TreeNode] = {}
    parents: dict[str, str | None] = {}
    for goal_id, parent_id, goal_type, name, completed, started, created in rows:
        when = (started or created) if goal_type == GoalType.PRACTICE_SESSION else created
        nodes[goal_id] = TreeNode(goal_id, name, goal_type, bool(completed), when)
        parents[goal_id] = parent_id
    links = (
        PracticeSessionGoal.objects.using(using)
        .filter(practice_session__root_id=root_id, practice_session__parent__isnull=True)
        .values_list("practice_session_id", "short_term_goal_id")
    )
    linked: dict[str, list[str]] = {}
    for session_id, goal_id in links:
        linked.setdefault(goal_id, []).append(session_id)
    for goal_id, node in nodes.items():
        parent = nodes.get(parents[goal_id])
        if parent is None:
            continue
        if node.type == GoalType.PRACTICE_SESSION:
            parent.sessions.append(node)
        else:
            parent.children.append(node)
    for goal_id, session_ids in linked.items():
        goal = nodes.get(goal_id)
        if goal is not None:
            goal.sessions += [nodes[pk] for pk in session_ids if pk in nodes]
    for node in nodes.values():
        node.sessions.sort(key=_newest_first)
    root = nodes.get(root_id)
    reached = _reached([root] if root is not None else [], set())
    # Sessions linked to no live goal, and rows under a deleted goal; then rows of a cycle.
    unreached = [
        node for pk, node in nodes.items() if pk not in reached and parents[pk] not in nodes
    ]
    _reached(unreached, reached)
    for pk, node in nodes.items():
        if pk not in reached:
            unreached.append(node)
            _reached([node], reached)
    return FractalTree(root, unreached, len(nodes))


def _newest_first(node: TreeNode) -> tuple[bool, float]:
    return (node.when is None, -node.when.timestamp() if node.when else 0.0)


def _reached(tops: list[TreeNode], seen: set[str]) -> set[str]:
    """Add to `seen` the ids reachable from `tops`; a cycle left in legacy data is walked once."""
    stack = list(tops)
    while stack:
        node = stack.pop()
        if node.id in seen:
            continue
        seen.add(node.id)
        stack += node.children + node.sessions
    return seen


def migration_placeholders(model: type[models.Model]) -> Q:
    """Rows of `model` the migration created (placeholders for missing rows, recorded in
    legacy_repairs): kept for the rows that point to them, not anyone's deletion."""
    created = LegacyRepair.objects.filter(
        table_name=model._meta.db_table,
        column_name=LegacyRepair.CREATED_ROW,
        row_id=OuterRef("pk"),
    )
    return Q(Exists(created))
