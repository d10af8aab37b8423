from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    """Database operations: legacy inspection and adoption, backups and restores, the maintenance
    lock, readiness, the migration executor, the root_id verification and the `migrate`
    command that runs them in order. It has no tables."""

    name = "goals_project.maintenance"
    label = "maintenance"
    verbose_name = "Database maintenance"
