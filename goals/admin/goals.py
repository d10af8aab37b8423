"""The goal tree in the admin: goals with their place in the tree, and fractals.

Deleting a goal takes the session data hanging off it through goals.services, whose cascade the
session app extends (goals.cascade); the fractal page's analytics are added by sessions.admin.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, When
from django.db.models.expressions import RawSQL
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst

from goals.admin.filters import FractalListFilter, RootTypeListFilter
from goals.admin.tree import TYPE_BADGES, tree_html, type_badge
from goals.models import GOAL_TYPE_MODELS, Fractal, Goal, GoalType
from goals.roots import ROOT_TYPES, parent_type
from goals.selectors import (
    PLACE_SEPARATOR,
    fractal_tree,
    goal_ancestor_names,
    goal_place_labels,
)
from goals.services import (
    goal_delete,
    goal_move,
    goal_move_permission_check,
    goal_move_template_check,
    goal_purge,
    goal_restore,
)
from goals.tree import cascade_ids_sql
from goals_project.bases.admin import (
    LiveChoicesForm,
    OwnedAdminMixin,
    PreloadedAutocompleteSelect,
    SoftDeleteAdminMixin,
)
from goals_project.bases.display import json_as_html
from goals_project.bases.json_text import json_parse

LIST_LIMIT = 50
# A goal's fields that only a practice session has: shown on a session's page (and on the add
# page, where the type is chosen), refused on a goal of another type.
SESSION_FIELDS = (
    "template",
    "session_start",
    "session_end",
    "total_duration_seconds",
    "duration_minutes",
    "session_data",
)


class GoalForm(LiveChoicesForm):
    """Goals' JSON text columns must hold JSON, checked only when edited: legacy rows that
    already hold broken JSON (kept as they were by the migration) stay editable otherwise. A
    session's own fields (SESSION_FIELDS) are left empty on a goal of another type.

    A new parent is a move (goals.services.goal_move): `user` (set by the admin) may make it only
    within fractals they own, unless a superuser; the model's clean() checks the tree's shape.
    """

    json_fields = ("targets", "attributes", "session_data")
    user = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields.get("parent")
        current = self.initial.get("parent")
        widget = getattr(field.widget, "widget", field.widget) if field else None
        if current and isinstance(widget, PreloadedAutocompleteSelect):
            # The chosen parent is named by its place in the tree, as the picker names it.
            widget.labels = goal_place_labels(goal_ids=[str(current)])

    def clean(self) -> dict:
        cleaned = super().clean()
        new_parent = cleaned.get("parent")
        if self.instance.pk is not None and "parent" in self.changed_data and new_parent:
            try:
                goal_move_permission_check(
                    goal=self.instance, new_parent=new_parent, user=self.user
                )
                if self.instance.type != GoalType.PRACTICE_SESSION:
                    # A session moved itself: its template field's own error says it.
                    goal_move_template_check(goal=self.instance, new_parent=new_parent)
            except ValidationError as error:
                self.add_error("parent", error)
        goal_type = cleaned.get("type") or self.instance.type
        if goal_type in GoalType.values and goal_type != GoalType.PRACTICE_SESSION:
            for name in SESSION_FIELDS:
                if name in self.fields and cleaned.get(name) not in (None, ""):
                    self.add_error(
                        name,
                        "Only practice sessions have this field: leave it empty for a "
                        f"{GoalType(goal_type).label.lower()}, or choose the type Practice "
                        "session.",
                    )
        for name in self.json_fields:
            if name in self.changed_data and cleaned.get(name):
                try:
                    json_parse(cleaned[name])
                except ValueError as error:
                    self.add_error(name, f"Not valid JSON ({error}).")
        return cleaned


class GoalChangeList(ChangeList):
    """Adds each listed goal's ancestors in one query for the page, whatever the table's size."""

    def get_results(self, request) -> None:
        super().get_results(request)
        goals = list(self.result_list)
        paths = goal_ancestor_names(goal_ids=[goal.pk for goal in goals])
        for goal in goals:
            goal.ancestor_names = paths.get(goal.pk, [])


class GoalServicesMixin:
    """Goals delete, restore and purge with their subtree and the session data hanging off it;
    their JSON text columns are checked when edited."""

    form = GoalForm

    def delete_service(self, obj):
        return goal_delete(goal=obj)

    def restore_service(self, obj):
        return goal_restore(goal=obj)

    def purge_service(self, obj):
        return goal_purge(goal=obj)

    def acting_order(self, rows: list) -> list:
        """Goals taking more goals along first: a goal's deletion takes every goal its selected
        descendants' (and linked sessions') deletions would, and itself, so each comes before
        the goals it takes (goals.cascade)."""
        taken = {
            goal.pk: Goal._base_manager.filter(
                pk__in=RawSQL(cascade_ids_sql(), [goal.pk] * 3)  # noqa: S611 - constant SQL
            ).count()
            for goal in rows
        }
        return sorted(rows, key=lambda goal: -taken[goal.pk])

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.user = request.user  # a class made for this request by modelform_factory
        return form

    def save_model(self, request, obj, form, change) -> None:
        """A new parent moves the goal with its subtree and what hangs off it (goal_move), then
        the other fields are saved; the admin's change view holds both in one transaction."""
        # A fractal created by a staff user who is not a superuser belongs to them.
        if not change and obj.is_root and not request.user.is_superuser:
            obj.owner = request.user
        if change and "parent" in form.changed_data and obj.parent_id is not None:
            goal_move(goal=obj, new_parent=obj.parent, user=request.user)
        super().save_model(request, obj, form, change)


class ReadableJsonMixin:
    """A goal's targets and attributes read as lists of names and values on its page, above the
    JSON boxes that edit them."""

    # Each JSON column shown (on a saved goal's page) just before its box.
    json_shown = {"targets": "targets_shown", "attributes": "attributes_shown"}

    def with_json_shown(self, fields, obj) -> list[str]:
        if obj is None:
            return list(fields)
        return [
            shown
            for name in fields
            for shown in ((self.json_shown[name], name) if name in self.json_shown else (name,))
        ]

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), *self.json_shown.values())

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in self.json_shown and field is not None:
            field.label = f"{capfirst(db_field.verbose_name)} (JSON)"
            field.widget.attrs["rows"] = 3
        return field

    @admin.display(description="targets")
    def targets_shown(self, obj) -> str:
        return json_as_html(obj.targets)

    @admin.display(description="attributes")
    def attributes_shown(self, obj) -> str:
        return json_as_html(obj.attributes)


# Fractals offered as trees above the goal list; more are reached from the fractal list.
TREE_LINKS = 12


def tree_url(goal: Goal) -> str:
    """The goal's fractal's tree, opened at the goal."""
    url = reverse("admin:goals_fractal_tree", args=[goal.root_id])
    return f"{url}?focus={goal.pk}#goal-{goal.pk}"


@admin.register(Goal)
class GoalAdmin(
    ReadableJsonMixin,
    GoalServicesMixin,
    SoftDeleteAdminMixin,
    OwnedAdminMixin,
    admin.ModelAdmin,
):
    list_display = ("name", "type_badge", "fractal", "place_in_tree", "completed", "deleted_at")
    list_filter = ("type", FractalListFilter, "completed")
    list_select_related = ("root",)
    search_fields = ("name", "description")
    autocomplete_fields = ("parent", "template")
    readonly_fields = (
        "root",
        "tree_place",
        "children_list",
        "linked_sessions",
        "created_at",
        "updated_at",
    )
    ordering = ("-created_at",)
    show_full_result_count = False

    class Media:
        css = {"all": ["goals/tree.css"]}
        js = ["admin/js/jquery.init.js", "goals/parent_picker.js"]

    def autocomplete_labels(self, request, objects) -> dict[str, str]:
        """Goals offered by a picker are named by their place in the tree."""
        return goal_place_labels(goal_ids=[obj.pk for obj in objects])

    def get_search_results(self, request, queryset, search_term):
        """A parent picker lists first the goals of the type the goal needs as parent: the
        type chosen in the form (sent along by parent_picker.js), or the picking model's own."""
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        match = getattr(request, "resolver_match", None)
        if match is None or match.url_name != "autocomplete":
            return queryset, may_have_duplicates
        if request.GET.get("field_name") != "parent":
            return queryset, may_have_duplicates
        goal_type = request.GET.get("goal_type") or _picking_type(request)
        if goal_type in GoalType.values and parent_type(goal_type) is not None:
            fits = Case(When(type=parent_type(goal_type), then=0), default=1)
            ordering = queryset.query.order_by or self.get_ordering(request)
            queryset = queryset.annotate(fits=fits).order_by("fits", *ordering)
        return queryset, may_have_duplicates

    def get_changelist(self, request, **kwargs):
        return GoalChangeList

    def changelist_view(self, request, extra_context=None):
        """The list, with links to the trees of the user's fractals, or what to do without one."""
        fractals = self.scope_fractals(request, Fractal.objects.all()).order_by("name")
        trees = list(fractals.values_list("pk", "name")[: TREE_LINKS + 1])
        context = {
            "fractal_trees": [
                (reverse("admin:goals_fractal_tree", args=[pk]), name)
                for pk, name in trees[:TREE_LINKS]
            ],
            "more_fractals": len(trees) > TREE_LINKS,
            "no_fractal": not trees,
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    def get_fields(self, request, obj=None):
        fields = [
            "name",
            "type",
            "parent",
            "owner",
            "description",
            "deadline",
            "completed",
            "targets",
            "attributes",
            "sort_order",
        ]
        if obj is None or obj.type == GoalType.PRACTICE_SESSION:
            fields += SESSION_FIELDS
        if obj is not None:
            fields += self.readonly_fields
        return self.with_json_shown(fields, obj)

    @admin.display(description="type", ordering="type")
    def type_badge(self, obj) -> str:
        return type_badge(obj.type)

    @admin.display(description="place in tree")
    def place_in_tree(self, obj) -> str:
        names = getattr(obj, "ancestor_names", [])
        if not names:
            return "-"
        return format_html('<a href="{}">{}</a>', tree_url(obj), PLACE_SEPARATOR.join(names))

    @admin.display(description="place in tree")
    def tree_place(self, obj) -> str:
        names = goal_ancestor_names(goal_ids=[obj.pk]).get(obj.pk, [])
        return format_html(
            '{} <a href="{}">Show in the tree</a>',
            PLACE_SEPARATOR.join([*names, obj.name]),
            tree_url(obj),
        )

    @admin.display(description="children")
    def children_list(self, obj) -> str:
        children = Goal.objects.filter(parent=obj).order_by("sort_order", "name")
        return _goal_links(children) or "None"

    @admin.display(description="linked practice sessions")
    def linked_sessions(self, obj) -> str:
        sessions = Goal.objects.filter(
            type=GoalType.PRACTICE_SESSION, short_term_goal_links__short_term_goal=obj
        ).order_by("-created_at")
        return _goal_links(sessions) or "None"


def _picking_type(request) -> str | None:
    """The goal type of the model whose form asks for a parent (a practice session's, say)."""
    model = GOAL_TYPE_MODELS_BY_NAME.get(request.GET.get("model_name", ""))
    return model.goal_type if model is not None else None


GOAL_TYPE_MODELS_BY_NAME = {model._meta.model_name: model for model in GOAL_TYPE_MODELS.values()}


def _goal_links(goals) -> str:
    rows = [
        (reverse("admin:goals_goal_change", args=[goal.pk]), goal.name, goal.get_type_display())
        for goal in goals[:LIST_LIMIT]
    ]
    return format_html_join(", ", '<a href="{}">{}</a> ({})', rows)


@admin.register(Fractal)
class FractalAdmin(
    ReadableJsonMixin,
    GoalServicesMixin,
    SoftDeleteAdminMixin,
    OwnedAdminMixin,
    admin.ModelAdmin,
):
    """Fractals (root goals of any of the four root types) and their owners; sessions.admin adds a
    page of analytics for each."""

    list_display = ("name", "type", "owner", "completed", "created_at")
    list_filter = (RootTypeListFilter, "completed")
    list_select_related = ("owner",)
    search_fields = ("name", "description")
    fields = (
        "name",
        "type",
        "owner",
        "description",
        "deadline",
        "completed",
        "targets",
        "attributes",
    )
    ordering = ("name",)

    def get_fields(self, request, obj=None):
        return self.with_json_shown(super().get_fields(request, obj), obj)

    def get_list_display(self, request):
        return (*super().get_list_display(request), "tree_link")

    def get_urls(self):
        return [
            path(
                "<path:object_id>/tree/",
                self.admin_site.admin_view(self.tree_view),
                name="goals_fractal_tree",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="tree")
    def tree_link(self, obj) -> str:
        return format_html(
            '<a href="{}">Tree</a>', reverse("admin:goals_fractal_tree", args=[obj.pk])
        )

    def tree_view(self, request, object_id):
        """The fractal's whole tree in one page, at a constant number of queries."""
        fractal = self.get_object(request, object_id)
        if not self.has_view_permission(request, fractal):
            raise PermissionDenied
        tree = fractal_tree(root_id=fractal.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Tree of {fractal.name}",
            "opts": self.opts,
            "fractal": fractal,
            "size": tree.size,
            "legend": [(type_badge(value), GoalType(value).label) for value in TYPE_BADGES],
            "tree_html": tree_html(tree, focus=request.GET.get("focus")),
        }
        return TemplateResponse(request, "admin/goals/fractal/tree.html", context)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "type":
            # A fractal starts at one of the root types; the goal form offers the others.
            kwargs["choices"] = [
                (value, label) for value, label in GoalType.choices if value in ROOT_TYPES
            ]
        return super().formfield_for_choice_field(db_field, request, **kwargs)
