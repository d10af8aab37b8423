"""Add the improvement plan's columns to activity instances and metric values, nullable, so
SQLite adds them in place; 0003 makes them NOT NULL once goals.0004 has filled them. The added
columns are named in legacy_repairs, as goals.0003 does.
"""

import django.db.models.deletion
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


def nullable_timestamp():
    return models.DateTimeField(blank=True, null=True)


class Migration(migrations.Migration):
    dependencies = [
        ("goals", "0003_add_root_and_audit_columns"),
        ("practice_sessions", "0001_legacy_baseline"),
    ]

    operations = [
        AlterModels(
            [
                AddFields(
                    "activityinstance",
                    [
                        ("deleted_at", models.DateTimeField(blank=True, editable=False, null=True)),
                        ("updated_at", nullable_timestamp()),
                        ("sort_order", models.IntegerField(null=True)),
                        ("completed", models.BooleanField(null=True)),
                        ("notes", models.TextField(blank=True, null=True)),
                        ("data", models.TextField(blank=True, null=True)),
                        ("root", nullable_root()),
                    ],
                ),
                AddFields(
                    "metricvalue",
                    [
                        ("created_at", nullable_timestamp()),
                        ("updated_at", nullable_timestamp()),
                        ("root", nullable_root()),
                    ],
                ),
            ]
        ),
    ]
    operations.append(
        columns_added_record(
            "practice_sessions", "practice_sessions.0002_add_root_and_audit_columns", operations
        )
    )
