from django.apps import AppConfig


class DevDataConfig(AppConfig):
    """Development data: the realistic legacy-database generator and `make_legacy_db`, for the
    demo, the tests and the benchmarks. Installed by goals_project.settings_dev only."""

    name = "goals_project.devdata"
    label = "devdata"
    verbose_name = "Development data"
