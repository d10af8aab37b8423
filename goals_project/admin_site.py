"""The admin site: Django's, with a recycle bin of every soft-deletable model."""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin, messages
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.contenttypes import views as contenttype_views
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

# Deletions shown per page of the recycle bin; older ones follow on the next.
RECYCLE_BIN_ENTRIES = 20


class LabelledAutocompleteJsonView(AutocompleteJsonView):
    """Django's autocomplete, labelling a page of results through the admin that lists them
    (`autocomplete_labels(request, objects)`: one query for the page), when it has one."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        labeller = getattr(self.model_admin, "autocomplete_labels", None)
        objects = list(context["object_list"])
        self.labels = labeller(self.request, objects) if labeller else {}
        context["object_list"] = objects
        return context

    def serialize_result(self, obj, to_field_name):
        result = super().serialize_result(obj, to_field_name)
        result["text"] = self.labels.get(obj.pk, result["text"])
        return result


class FractalAdminSite(admin.AdminSite):
    site_header = "Fractal Goals"
    site_title = "Fractal Goals admin"
    index_title = "Goals, sessions and what they measure"
    index_template = "admin/bases/index.html"

    def get_urls(self):
        return [
            path("recycle-bin/", self.admin_view(self.recycle_bin_view), name="recycle_bin"),
            path(
                "recycle-bin/<str:app_label>/<str:model_name>/<path:object_id>/<str:action>/",
                self.admin_view(self.recycle_bin_action_view),
                name="recycle_bin_action",
            ),
            # Before Django's own route of the same name and path, which it replaces.
            path(
                "r/<int:content_type_id>/<path:object_id>/",
                self.admin_view(self.view_on_site),
                name="view_on_site",
            ),
            *super().get_urls(),
        ]

    def autocomplete_view(self, request):
        return LabelledAutocompleteJsonView.as_view(admin_site=self)(request)

    def index(self, request, extra_context=None):
        """Django's index, saying what to do first to a user who has no fractal yet."""
        fractals = next(
            (ma for model, ma in self._registry.items() if model._meta.label == "goals.Fractal"),
            None,
        )
        no_fractal = (
            fractals is not None
            and fractals.has_view_permission(request)
            and not fractals.get_queryset(request).filter(deleted_at__isnull=True).exists()
        )
        context = {
            "no_fractal": no_fractal,
            "can_add_fractal": fractals is not None and fractals.has_add_permission(request),
            **(extra_context or {}),
        }
        return super().index(request, extra_context=context)

    def view_on_site(self, request, content_type_id: int, object_id: str):
        """Django's "view on site" shortcut, answering for a row the user may not see exactly as
        for a row that does not exist: its own answer (the model has no page on the site) told
        that another owner's row exists."""
        from goals_project.bases.admin import OwnedAdminMixin

        content_type = ContentType.objects.filter(pk=content_type_id).first()
        model = content_type.model_class() if content_type else None
        model_admin = self._registry.get(model) if model else None
        if model_admin is None and model is not None and model._meta.proxy:
            model_admin = self._registry.get(model._meta.concrete_model)
        if isinstance(model_admin, OwnedAdminMixin):
            try:
                visible = model_admin.get_queryset(request).filter(pk=object_id).exists()
            except (ValueError, ValidationError):
                visible = False
            if not visible:
                # Django's own message for a missing row, word for word (and its translations).
                message = _("Content type %(ct_id)s object %(obj_id)s doesn’t exist")  # noqa: RUF001
                raise Http404(message % {"ct_id": content_type_id, "obj_id": object_id})
        return contenttype_views.shortcut(request, content_type_id, object_id)

    def soft_delete_admins(self, request) -> list:
        """The admins of soft-deletable models the user may view, one per table (goals of each
        type and fractals are rows of the goals table, listed once through its own admin)."""
        # Imported here: goals.admin registers on this site, so it cannot be imported first.
        from goals_project.bases.admin import SoftDeleteAdminMixin

        return [
            model_admin
            for model, model_admin in self._registry.items()
            if isinstance(model_admin, SoftDeleteAdminMixin)
            and model_admin.has_view_permission(request)
            and not (model._meta.proxy and model._meta.concrete_model in self._registry)
        ]

    def recycle_bin_view(self, request):
        """One entry per deletion the user may see, newest first: what was deleted, when, how
        many rows of each kind, with Restore and Purge; the migration's placeholders apart."""
        from goals.selectors import migration_placeholders
        from goals_project.bases.selectors import deletions_list

        admins = self.soft_delete_admins(request)
        by_label = {model_admin.model._meta.label: model_admin for model_admin in admins}
        querysets, kept = [], []
        for model_admin in admins:
            model = model_admin.model
            placeholders = migration_placeholders(model)
            deleted = model_admin.get_queryset(request).filter(deleted_at__isnull=False)
            querysets.append(deleted.exclude(placeholders))
            count = deleted.filter(placeholders).count()
            if count:
                changelist = reverse(
                    f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
                )
                kept.append((count, model._meta, f"{changelist}?deleted=only"))
        before = _bin_before(request)
        page = deletions_list(querysets=querysets, before=before, limit=RECYCLE_BIN_ENTRIES)
        entries = [
            {
                "deleted_at": deletion.deleted_at,
                "tops": [
                    self._bin_top(by_label[top.row._meta.label], top) for top in deletion.tops
                ],
                # The top rows' kind first, then the others in the site's order.
                "counts": ", ".join(
                    _rows(count, by_label[label].model._meta)
                    for label, count in sorted(
                        deletion.counts.items(),
                        key=lambda item: item[0] != deletion.tops[0].row._meta.label,
                    )
                ),
            }
            for deletion in page.deletions
        ]
        context = {
            **self.each_context(request),
            "title": "Recycle bin",
            "entries": entries,
            "older": page.older.isoformat() if page.older else None,
            "newest": before is not None,
            "kept": [(_rows(count, opts), url) for count, opts, url in kept],
            "can_purge": request.user.is_superuser,
            "lists": [
                (
                    model_admin.model._meta.verbose_name_plural,
                    reverse(
                        f"admin:{model_admin.model._meta.app_label}_"
                        f"{model_admin.model._meta.model_name}_changelist"
                    )
                    + "?deleted=only",
                )
                for model_admin in admins
            ],
        }
        return TemplateResponse(request, "admin/bases/recycle_bin.html", context)

    def _bin_top(self, model_admin, top) -> dict:
        row, opts = top.row, top.row._meta
        action = "admin:recycle_bin_action"
        model = (opts.app_label, opts.model_name)
        return {
            "row": row,
            "kind": row.get_type_display()
            if hasattr(row, "get_type_display")
            else opts.verbose_name,
            "url": reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk]),
            "inside": top.inside,
            "restore": reverse(action, args=[*model, row.pk, "restore"]),
            "purge": reverse(action, args=[*model, row.pk, "purge"]),
        }

    def recycle_bin_action_view(
        self, request, app_label: str, model_name: str, object_id: str, action: str
    ):
        """Restore or purge one deletion from the bin: GET shows what the action would touch (its
        own service, run and rolled back) or why it is refused, POST does it."""
        model_admin = next(
            (
                ma
                for ma in self.soft_delete_admins(request)
                if (ma.opts.app_label, ma.opts.model_name) == (app_label, model_name)
            ),
            None,
        )
        if model_admin is None or action not in {"restore", "purge"}:
            raise Http404("No such deleted row.")
        allowed = (
            model_admin.has_restore_permission(request)
            if action == "restore"
            else model_admin.has_purge_permission(request)
        )
        try:
            row = (
                model_admin.get_queryset(request)
                .filter(pk=object_id, deleted_at__isnull=False)
                .first()
            )
        except (ValueError, ValidationError):
            row = None
        if row is None:
            raise Http404("No such deleted row.")
        if not allowed:
            raise PermissionDenied
        bin_url = reverse("admin:recycle_bin")
        if request.method == "POST":
            model_admin.soft_delete_act(request, [row], action)
            return HttpResponseRedirect(bin_url)
        refusal, counts = None, {}
        try:
            counts = model_admin.preview(row, action)
        except ValidationError as error:
            refusal = " ".join(error.messages)
        context = {
            **self.each_context(request),
            "title": f"{action.capitalize()} {row}?",
            "action": action,
            "row": row,
            "opts": row._meta,
            "counts": counts,
            "refusal": refusal,
            "bin_url": bin_url,
        }
        return TemplateResponse(request, "admin/bases/recycle_bin_confirm.html", context)


def _rows(count: int, opts) -> str:
    """'1 goal', '3 activity instances'."""
    return f"{count} {opts.verbose_name if count == 1 else opts.verbose_name_plural}"


def _bin_before(request) -> datetime | None:
    """The time the recycle bin's page starts before (its link to older deletions), or None for
    the newest; one that is no date and time (typed or cut short) is said so and read as None."""
    given = request.GET.get("before") or ""
    try:
        before = parse_datetime(given)
    except ValueError:  # well formed, but no such date or time
        before = None
    if given and before is None:
        messages.warning(
            request,
            f"'{given}' is not a date and time (as in 2025-06-01T12:00:00): showing the newest "
            "deletions.",
        )
    return before
