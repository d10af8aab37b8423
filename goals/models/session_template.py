"""Session templates: reusable plans that practice sessions are created from.

The table lives in `goals` because `goals.template_id` points to it: keeping it here keeps
imports and migration dependencies pointing one way (`sessions` → `goals`).
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.db import models

from goals.models.activity import unique_live_name
from goals.models.fields import legacy_id_field
from goals.roots import root_constraints
from goals_project.bases.json_text import json_parse
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

    def activity_ids(self) -> list[str]:
        """The activity definition ids the template lists, in order.

        `template_data` is JSON text: `{"activities": [id, ...]}`, items also as
        `{"activity_id": id}`.
        """
        data = self._data()
        items = data.get("activities", [])
        if not isinstance(items, list):
            raise ValidationError(
                f"Template '{self}' has no list of activities in template_data; expected "
                '{"activities": [activity ids]}.'
            )
        ids = []
        for item in items:
            if isinstance(item, dict):
                item = item.get("activity_id") or item.get("id")
            if not isinstance(item, str):
                raise ValidationError(f"Template '{self}' lists an activity that is not an id.")
            ids.append(item)
        return ids

    def set_activity_ids(self, ids: list[str]) -> None:
        """Write the activities' ids into `template_data`, keeping its other keys."""
        try:
            data = self._data()
        except ValidationError:
            data = {}
        self.template_data = json.dumps({**data, "activities": list(ids)})

    def _data(self) -> dict:
        try:
            # Read as the legacy app wrote it; only what a person types is held to strict JSON.
            data = json_parse(self.template_data or "{}", strict=False)
        except ValueError as error:
            raise ValidationError(
                f"Template '{self}' has invalid JSON in template_data ({error}); fix it first."
            ) from error
        if not isinstance(data, dict):
            raise ValidationError(
                f"Template '{self}' has no list of activities in template_data; expected "
                '{"activities": [activity ids]}.'
            )
        return data
