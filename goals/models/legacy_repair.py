"""The record of every change migrations made to legacy data."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class LegacyRepair(models.Model):
    """One value a migration changed (or one row it created): what it was, became, and why.

    Migrations read it backwards to restore legacy values exactly, and owners read it to find
    what was recovered ("Recovered records") or replaced by a placeholder.
    """

    CREATED_ROW = "*"

    table_name = models.CharField(max_length=64)
    row_id = models.CharField(max_length=64)
    column_name = models.CharField(
        max_length=64, help_text="'*' when the migration created the row."
    )
    old_value = models.TextField(null=True, blank=True)
    new_value = models.TextField(null=True, blank=True)
    reason = models.CharField(max_length=64)
    migration = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "legacy_repairs"
        indexes = [
            models.Index(fields=["table_name", "column_name"], name="idx_legacy_repairs_column")
        ]

    def __str__(self) -> str:
        return f"{self.table_name}.{self.column_name} of {self.row_id}: {self.reason}"
