"""Phase 3 for session data: the improvement plan's named indexes."""

from django.db import migrations, models

from goals_project.maintenance.migration_operations import AddIndexes, AlterModels


class Migration(migrations.Migration):
    dependencies = [
        ("practice_sessions", "0003_enforce_root_ids_and_constraints"),
    ]

    operations = [
        AlterModels(
            [
                AddIndexes(
                    model_name="activityinstance",
                    indexes=[
                        models.Index(
                            fields=["practice_session"], name="idx_activity_instances_session"
                        ),
                        models.Index(
                            fields=["activity_definition"], name="idx_activity_instances_definition"
                        ),
                        models.Index(fields=["root"], name="idx_activity_instances_root"),
                        models.Index(
                            fields=["root", "-created_at"], name="idx_activity_instances_root_date"
                        ),
                        models.Index(
                            fields=["practice_session", "created_at"],
                            name="idx_activity_instances_session_created",
                        ),
                    ],
                ),
                AddIndexes(
                    model_name="metricvalue",
                    indexes=[
                        models.Index(
                            fields=["activity_instance"], name="idx_metric_values_instance"
                        ),
                        models.Index(
                            fields=["metric_definition"], name="idx_metric_values_definition"
                        ),
                        models.Index(fields=["root"], name="idx_metric_values_root"),
                        models.Index(
                            fields=["root", "metric_definition"],
                            name="idx_metric_values_root_metric",
                        ),
                    ],
                ),
            ]
        ),
    ]
