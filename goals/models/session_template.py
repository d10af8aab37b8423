"""Session templates: reusable plans that practice sessions are created from.

The table lives in `goals` because `goals.template_id` points to it: keeping it here keeps
imports and migration dependencies pointing one way (`sessions` → `goals`).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from goals.models.fields import legacy_id_field


class SessionTemplate(models.Model):
    """A reusable plan for a practice session; `template_data` is JSON text."""

    id = legacy_id_field()
    name = models.CharField(max_length=255)
    description = models.TextField(null=True, blank=True)
    root = models.ForeignKey(
        "goals.Goal",
        on_delete=models.PROTECT,
        related_name="session_templates",
        db_constraint=False,
        db_index=False,
    )
    created_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    template_data = models.TextField(default="{}")

    class Meta:
        db_table = "session_templates"

    def __str__(self) -> str:
        return self.name
