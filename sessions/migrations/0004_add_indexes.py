"""Phase 3 for session data: the improvement plan's named indexes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("practice_sessions", "0003_enforce_root_ids_and_constraints"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="activityinstance",
            index=models.Index(fields=["practice_session"], name="idx_activity_instances_session"),
        ),
        migrations.AddIndex(
            model_name="activityinstance",
            index=models.Index(
                fields=["activity_definition"], name="idx_activity_instances_definition"
            ),
        ),
        migrations.AddIndex(
            model_name="activityinstance",
            index=models.Index(fields=["root"], name="idx_activity_instances_root"),
        ),
        migrations.AddIndex(
            model_name="activityinstance",
            index=models.Index(
                fields=["root", "-created_at"], name="idx_activity_instances_root_date"
            ),
        ),
        migrations.AddIndex(
            model_name="activityinstance",
            index=models.Index(
                fields=["practice_session", "created_at"],
                name="idx_activity_instances_session_created",
            ),
        ),
        migrations.AddIndex(
            model_name="metricvalue",
            index=models.Index(fields=["activity_instance"], name="idx_metric_values_instance"),
        ),
        migrations.AddIndex(
            model_name="metricvalue",
            index=models.Index(fields=["metric_definition"], name="idx_metric_values_definition"),
        ),
        migrations.AddIndex(
            model_name="metricvalue",
            index=models.Index(fields=["root"], name="idx_metric_values_root"),
        ),
        migrations.AddIndex(
            model_name="metricvalue",
            index=models.Index(
                fields=["root", "metric_definition"], name="idx_metric_values_root_metric"
            ),
        ),
    ]
