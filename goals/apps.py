from django.apps import AppConfig


class GoalsConfig(AppConfig):
    """The goal tree ("fractals") and the definitions of what is practised and measured."""

    name = "goals"
    verbose_name = "Goals"
    default_auto_field = "django.db.models.BigAutoField"
