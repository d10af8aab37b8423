from django.apps import AppConfig


class BasesConfig(AppConfig):
    """What both domain apps build on: the timestamp, soft-delete and rooted-model mixins, the
    composite foreign key, the owner-scoping and soft-delete admin mixins, the exit statuses and
    the commands' shared arguments. It has no tables."""

    name = "goals_project.bases"
    label = "bases"
    verbose_name = "Shared bases"
