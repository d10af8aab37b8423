"""Session templates: reusable plans that practice sessions are created from.

The table lives in `goals` because `goals.template_id` points to it: keeping it here keeps
imports and migration dependencies pointing one way (`sessions` → `goals`).
"""

from __future__ import annotations

from django.db import models

from goals.models.activity import unique_live_name
from goals.models.fields import legacy_id_field
from goals.roots import root_constraints
from goals_project.bases.models import RootedModel, SoftDeleteMixin, TimestampMixin


class SessionTemplate(RootedModel, TimestampMixin, SoftDeleteMixin, models.Model):
    """A reusable plan for a practice session; `template_data` is JSON text."""

    id = legacy_id_field()
    name = models.CharField(max_length=255)
    description = models.TextField(null=True, blank=True)
    root = models.ForeignKey(
        "goals.Goal",
        on_delete=models.PROTECT,
        related_name="session_templates",
        db_index=False,
    )
    template_data = models.TextField(default="{}")

    class Meta:
        db_table = "session_templates"
        constraints = [
            unique_live_name("root", name="uniq_session_template_name_per_root"),
            *root_constraints("session_templates"),
        ]
        indexes = [models.Index(fields=["root"], name="idx_session_templates_root")]

    def __str__(self) -> str:
        return self.name
