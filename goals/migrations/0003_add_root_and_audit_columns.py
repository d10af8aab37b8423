"""Add the improvement plan's columns to the goal-side tables, nullable, so SQLite adds them in
place (ALTER TABLE ADD COLUMN) instead of rebuilding tables; 0005 makes them NOT NULL once filled.

Each added column is named in `legacy_repairs` (migration_operations.columns_added_record): a file
adopted at this migration (the earlier script had added the columns) has no such rows, so 0004
knows that its NULLs there are legacy values to record, not the NULLs of a new column.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from goals_project.maintenance.migration_operations import (
    AddFields,
    AlterModels,
    columns_added_record,
)


def nullable_root():
    return models.ForeignKey(
        db_constraint=False,
        db_index=False,
        editable=False,
        null=True,
        on_delete=django.db.models.deletion.PROTECT,
        related_name="+",
        to="goals.goal",
    )


def deleted_at():
    return models.DateTimeField(blank=True, editable=False, null=True)


def nullable_timestamp():
    return models.DateTimeField(blank=True, null=True)


class Migration(migrations.Migration):
    dependencies = [
        ("goals", "0002_check_legacy_data"),
    ]

    operations = [
        migrations.CreateModel(
            name="LegacyRepair",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("table_name", models.CharField(max_length=64)),
                ("row_id", models.CharField(max_length=64)),
                (
                    "column_name",
                    models.CharField(
                        help_text="'*' when the migration created the row.", max_length=64
                    ),
                ),
                ("old_value", models.TextField(blank=True, null=True)),
                ("new_value", models.TextField(blank=True, null=True)),
                ("reason", models.CharField(max_length=64)),
                ("migration", models.CharField(max_length=128)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "db_table": "legacy_repairs",
                "indexes": [
                    models.Index(
                        fields=["table_name", "column_name"], name="idx_legacy_repairs_column"
                    )
                ],
            },
        ),
        AlterModels(
            [
                AddFields(
                    "goal",
                    [("deleted_at", deleted_at()), ("sort_order", models.IntegerField(null=True))],
                ),
                AddFields(
                    "activitygroup",
                    [("deleted_at", deleted_at()), ("updated_at", nullable_timestamp())],
                ),
                AddFields(
                    "activitydefinition",
                    [("deleted_at", deleted_at()), ("updated_at", nullable_timestamp())],
                ),
                AddFields(
                    "metricdefinition",
                    [
                        ("updated_at", nullable_timestamp()),
                        ("sort_order", models.IntegerField(null=True)),
                        ("root", nullable_root()),
                    ],
                ),
                AddFields(
                    "splitdefinition",
                    [
                        ("deleted_at", deleted_at()),
                        ("updated_at", nullable_timestamp()),
                        ("root", nullable_root()),
                    ],
                ),
                AddFields(
                    "sessiontemplate",
                    [("deleted_at", deleted_at()), ("updated_at", nullable_timestamp())],
                ),
            ]
        ),
    ]
    operations.append(
        columns_added_record("goals", "goals.0003_add_root_and_audit_columns", operations)
    )
