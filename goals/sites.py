"""The admin site: Django's, with a recycle bin of every soft-deletable model."""

from __future__ import annotations

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path, reverse

RECYCLE_BIN_ROWS = 20


class FractalAdminSite(admin.AdminSite):
    site_header = "Fractal Goals"
    site_title = "Fractal Goals admin"
    index_title = "Goals, sessions and what they measure"
    index_template = "admin/goals/index.html"

    def get_urls(self):
        return [
            path("recycle-bin/", self.admin_view(self.recycle_bin_view), name="recycle_bin"),
            *super().get_urls(),
        ]

    def recycle_bin_view(self, request):
        """Deleted rows the user may see, newest first, per model, linking to restore and purge."""
        # Imported here: goals.admin registers on this site, so it cannot be imported first.
        from goals.admin.mixins import SoftDeleteAdminMixin

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
        return TemplateResponse(request, "admin/goals/recycle_bin.html", context)
