"""What a person would post from an admin change page, and the state of the tree around it."""

from __future__ import annotations

import re

from django.forms import CheckboxInput, MultiWidget

from goals.models import Goal, PracticeSessionGoal
from goals.roots import ROOT_TYPES
from sessions.models import ActivityInstance, MetricValue


def form_data(response) -> dict[str, str]:
    """The POST data of an admin change page as rendered: its form, inline forms and counts."""
    context = response.context
    forms = [context["adminform"].form]
    for inline in context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data: dict[str, str] = {}
    for form in forms:
        for bound in form:
            widget = getattr(bound.field.widget, "widget", bound.field.widget)  # related wrapper
            _put(data, bound.html_name, widget, bound.value())
            if bound.field.show_hidden_initial:  # a field with a callable default
                _put(data, bound.html_initial_name, bound.field.hidden_widget(), bound.initial)
    return data


def _put(data: dict[str, str], name: str, widget, value) -> None:
    """What a browser posts for one input (or the inputs of a multi-input widget) as shown."""
    if isinstance(widget, MultiWidget):
        parts = value if isinstance(value, list) else widget.decompress(value)
        for index, (sub, part) in enumerate(zip(widget.widgets, parts, strict=True)):
            data[f"{name}_{index}"] = sub.format_value(part) or ""
    elif isinstance(widget, CheckboxInput):
        if value:
            data[name] = "on"
    else:
        shown = widget.format_value(value)
        if isinstance(shown, list):
            shown = shown[0] if shown else ""
        data[name] = shown or ""


def tree_snapshot() -> dict[str, set[tuple]]:
    """(id, parent, root_id, type, deleted_at) of every goal, and (id, what it hangs from,
    root_id, deleted_at) of every activity instance, and (id, instance, root_id) of every metric
    value (which is never deleted alone), deleted rows included."""
    return {
        "goals": set(
            Goal._base_manager.values_list("id", "parent_id", "root_id", "type", "deleted_at")
        ),
        "instances": set(
            ActivityInstance._base_manager.values_list(
                "id", "practice_session_id", "root_id", "deleted_at"
            )
        ),
        "values": set(
            MetricValue._base_manager.values_list("id", "activity_instance_id", "root_id")
        ),
    }


def roots_by_chain() -> dict[str, dict[str, set[str]]]:
    """Every goal's, instance's and value's possible roots, worked out from the parent links,
    session links and instance chains alone (never from root_id, except a session without a
    parent or link, which keeps the root it was given): one root each, except a session without
    a parent linked to goals of several fractals, which may keep any of theirs.

    A chain that does not reach a parentless goal (a cycle) maps to no root at all.
    """
    goals = {
        pk: (parent, goal_type, stored)
        for pk, parent, goal_type, stored in Goal._base_manager.values_list(
            "id", "parent_id", "type", "root_id"
        )
    }
    links: dict[str, set[str]] = {}
    for session, short in PracticeSessionGoal.objects.values_list(
        "practice_session_id", "short_term_goal_id"
    ):
        links.setdefault(session, set()).add(short)
    roots: dict[str, set[str]] = {}

    def root_of(pk: str, seen: frozenset[str] = frozenset()) -> set[str]:
        if pk in roots:
            return roots[pk]
        if pk in seen:
            return set()
        parent, goal_type, stored = goals[pk]
        if parent is not None:
            found = root_of(parent, seen | {pk})
        elif goal_type in ROOT_TYPES:
            found = {pk}
        elif pk in links:
            found = set().union(*(root_of(short, seen | {pk}) for short in links[pk]))
        else:
            found = {stored}
        roots[pk] = found
        return found

    for pk in goals:
        root_of(pk)
    instances = {
        pk: roots[session]
        for pk, session in ActivityInstance._base_manager.values_list("id", "practice_session_id")
    }
    values = {
        pk: instances[instance]
        for pk, instance in MetricValue._base_manager.values_list("id", "activity_instance_id")
    }
    return {"goals": roots, "instances": instances, "values": values}


def rows_off_their_chain() -> list[tuple[str, str, set[str]]]:
    """(id, root_id, roots by chain) of every row whose root_id is not one its chain allows."""
    expected = roots_by_chain()
    stored = {
        "goals": Goal._base_manager.values_list("id", "root_id"),
        "instances": ActivityInstance._base_manager.values_list("id", "root_id"),
        "values": MetricValue._base_manager.values_list("id", "root_id"),
    }
    return [
        (pk, root, expected[table][pk])
        for table, rows in stored.items()
        for pk, root in rows
        if root not in expected[table][pk]
    ]


def page_text(response) -> str:
    """An admin page without its per-response CSRF token: random letters, which can spell a name
    a test looks for ("Bob" turned up in one)."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
