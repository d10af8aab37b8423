"""A fractal's tree as nested, foldable HTML lists (<details>), rendered for the whole tree at
once: a few thousand goals are one string join, without a template per node."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from goals.roots import GoalType
from goals.selectors import FractalTree, TreeNode

# Each type in two or three letters, with the full label as the badge's title.
TYPE_BADGES: dict[str, str] = {
    GoalType.ULTIMATE: "UG",
    GoalType.LONG_TERM: "LT",
    GoalType.MID_TERM: "MT",
    GoalType.SHORT_TERM: "ST",
    GoalType.PRACTICE_SESSION: "PS",
    GoalType.IMMEDIATE: "IG",
    GoalType.MICRO: "MiG",
    GoalType.NANO: "NG",
}


def type_badge(goal_type: str) -> SafeString:
    """The type's short badge, titled with its label (the legend and the goal list use it)."""
    label = GoalType(goal_type).label if goal_type in GoalType.values else goal_type
    return format_html(
        '<span class="goal-type" title="{}">{}</span>', label, TYPE_BADGES.get(goal_type, "?")
    )


class TreeRenderer:
    """Renders one FractalTree; `focus` (a goal id) opens the folded session lists around it."""

    def __init__(self, tree: FractalTree, *, focus: str | None = None) -> None:
        self.tree = tree
        self.focus = focus
        self.change_url = reverse("admin:goals_goal_change", args=["__id__"])
        self.rendered: set[str] = set()
        self.badges = {value: type_badge(value) for value in GoalType.values}

    def render(self) -> SafeString:
        parts: list[str] = []
        if self.tree.root is not None:
            parts.append('<ul class="goal-tree">')
            parts += self._node(self.tree.root)[0]
            parts.append("</ul>")
        if self.tree.unreached:
            parts.append(
                '<h2 id="unreached">Live rows of this fractal not reached from its root</h2>'
                '<p class="help">Under a deleted goal, or sessions linked to no live goal.</p>'
                '<ul class="goal-tree">'
            )
            for node in self.tree.unreached:
                parts += self._node(node)[0]
            parts.append("</ul>")
        return mark_safe("".join(parts))  # noqa: S308 - every value below is escaped

    def _line(self, node: TreeNode) -> str:
        badge = self.badges.get(node.type) or type_badge(node.type)
        url = self.change_url.replace("__id__", escape(node.id))
        name = escape(node.name)
        line = f'{badge} <a class="goal-name" href="{url}" title="{name}">{name}</a>'
        if node.type == GoalType.PRACTICE_SESSION and node.when is not None:
            line += f' <span class="goal-when">{node.when:%Y-%m-%d}</span>'
        if node.completed:
            line += ' <span class="goal-done" title="completed">✓</span>'
        if node.id == self.focus:
            line = f'<mark class="goal-focus">{line}</mark>'
        return line

    def _node(self, node: TreeNode) -> tuple[list[str], bool]:
        """The <li> of `node` and whether it holds the focused goal. A node met again (a
        session linked to several goals, a legacy cycle) is named without its branch."""
        anchor = node.id not in self.rendered
        self.rendered.add(node.id)
        here = node.id == self.focus
        line = self._line(node)
        li = f'<li id="goal-{escape(node.id)}">' if anchor else "<li>"
        if not anchor or not (node.children or node.sessions):
            return [f"{li}{line}</li>"], here
        inner: list[str] = []
        holds = here
        for child in node.children:
            parts, found = self._node(child)
            inner += parts
            holds = holds or found
        if node.sessions:
            session_parts: list[str] = []
            in_sessions = False
            for session in node.sessions:
                parts, found = self._node(session)
                session_parts += parts
                in_sessions = in_sessions or found
            holds = holds or in_sessions
            count = len(node.sessions)
            inner.append(
                f'<li class="tree-sessions"><details{" open" if in_sessions else ""}>'
                f"<summary>{count} practice session{'s' if count != 1 else ''}</summary>"
                f"<ul>{''.join(session_parts)}</ul></details></li>"
            )
        return [
            f"{li}<details open><summary>{line}</summary><ul>",
            *inner,
            "</ul></details></li>",
        ], holds


def tree_html(tree: FractalTree, *, focus: str | None = None) -> SafeString:
    """The whole tree as nested lists, sessions folded and counted under their goals."""
    return TreeRenderer(tree, focus=focus).render()
