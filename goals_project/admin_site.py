"""The admin site: Django's, with a recycle bin of every soft-deletable model."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.contenttypes import views as contenttype_views
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _

RECYCLE_BIN_ROWS = 20


class FractalAdminSite(admin.AdminSite):
    site_header = "Fractal Goals"
    site_title = "Fractal Goals admin"
    index_title = "Goals, sessions and what they measure"
    index_template = "admin/bases/index.html"

    def get_urls(self):
        return [
            path("recycle-bin/", self.admin_view(self.recycle_bin_view), name="recycle_bin"),
            # Before Django's own route of the same name and path, which it replaces.
            path(
                "r/<int:content_type_id>/<path:object_id>/",
                self.admin_view(self.view_on_site),
                name="view_on_site",
            ),
            *super().get_urls(),
        ]

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

    def recycle_bin_view(self, request):
        """Deleted rows the user may see, newest first, per model, linking to restore and purge."""
        # Imported here: goals.admin registers on this site, so it cannot be imported first.
        from goals_project.bases.admin import SoftDeleteAdminMixin

        sections = []
        for model, model_admin in self._registry.items():
            if not isinstance(model_admin, SoftDeleteAdminMixin):
                continue
            if not model_admin.has_view_permission(request):
                continue
            if model._meta.proxy and model._meta.concrete_model in self._registry:
                continue  # Goals of each type, and fractals, are already listed under Goals.
            deleted = model_admin.get_queryset(request).filter(deleted_at__isnull=False)
            rows = list(deleted.order_by("-deleted_at")[: RECYCLE_BIN_ROWS + 1])
            opts = model._meta
            changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            sections.append(
                {
                    "name": opts.verbose_name_plural,
                    "rows": [
                        (
                            row,
                            reverse(
                                f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk]
                            ),
                        )
                        for row in rows[:RECYCLE_BIN_ROWS]
                    ],
                    "more": len(rows) > RECYCLE_BIN_ROWS,
                    "changelist": f"{changelist}?deleted=only",
                }
            )
        context = {
            **self.each_context(request),
            "title": "Recycle bin",
            "sections": sections,
            "can_purge": request.user.is_superuser,
        }
        return TemplateResponse(request, "admin/bases/recycle_bin.html", context)
