from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class GoalsConfig(AppConfig):
    """The goal tree ("fractals") and the definitions of what is practised and measured."""

    name = "goals"
    verbose_name = "Goals"
    default_auto_field = "django.db.models.BigAutoField"


class FractalAdminConfig(AdminConfig):
    """Django's admin with the Fractal Goals site (recycle bin, analytics links)."""

    default_site = "goals.sites.FractalAdminSite"
