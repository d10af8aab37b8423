"""The project's own app configurations: Django's admin with the Fractal Goals site."""

from django.contrib.admin.apps import AdminConfig


class FractalAdminConfig(AdminConfig):
    """Django's admin with the Fractal Goals site (recycle bin, analytics links)."""

    default_site = "goals_project.admin_site.FractalAdminSite"
