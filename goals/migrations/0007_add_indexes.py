"""Phase 3: the improvement plan's named indexes, built after the data is in place."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("goals", "0006_add_fractal_owner"),
    ]

    operations = [
        migrations.RenameIndex(
            model_name="activitydefinition",
            new_name="idx_activity_definitions_group",
            old_name="idx_activity_group",
        ),
        migrations.AddIndex(
            model_name="activitydefinition",
            index=models.Index(fields=["root"], name="idx_activity_definitions_root"),
        ),
        migrations.AddIndex(
            model_name="activitygroup",
            index=models.Index(fields=["root"], name="idx_activity_groups_root"),
        ),
        migrations.AddIndex(
            model_name="goal",
            index=models.Index(fields=["parent"], name="idx_goals_parent_id"),
        ),
        migrations.AddIndex(
            model_name="goal",
            index=models.Index(fields=["root"], name="idx_goals_root_id"),
        ),
        migrations.AddIndex(
            model_name="goal",
            index=models.Index(fields=["type"], name="idx_goals_type"),
        ),
        migrations.AddIndex(
            model_name="goal",
            index=models.Index(fields=["created_at"], name="idx_goals_created_at"),
        ),
        migrations.AddIndex(
            model_name="goal",
            index=models.Index(fields=["parent", "type"], name="idx_goals_parent_type"),
        ),
        migrations.AddIndex(
            model_name="goal",
            index=models.Index(fields=["root", "type"], name="idx_goals_root_type"),
        ),
        migrations.AddIndex(
            model_name="goal",
            index=models.Index(
                condition=models.Q(("completed", True)),
                fields=["root", "type"],
                name="idx_goals_completed",
            ),
        ),
        migrations.AddIndex(
            model_name="goal",
            index=models.Index(
                condition=models.Q(("type", "PracticeSession")),
                fields=["root", "created_at"],
                name="idx_goals_practice_sessions",
            ),
        ),
        migrations.AddIndex(
            model_name="metricdefinition",
            index=models.Index(fields=["activity"], name="idx_metric_definitions_activity"),
        ),
        migrations.AddIndex(
            model_name="metricdefinition",
            index=models.Index(fields=["root"], name="idx_metric_definitions_root"),
        ),
        migrations.AddIndex(
            model_name="metricdefinition",
            index=models.Index(
                condition=models.Q(("is_active", True)),
                fields=["activity"],
                name="idx_metric_definitions_active",
            ),
        ),
        migrations.AddIndex(
            model_name="sessiontemplate",
            index=models.Index(fields=["root"], name="idx_session_templates_root"),
        ),
        migrations.AddIndex(
            model_name="splitdefinition",
            index=models.Index(fields=["activity"], name="idx_split_definitions_activity"),
        ),
        migrations.AddIndex(
            model_name="splitdefinition",
            index=models.Index(fields=["root"], name="idx_split_definitions_root"),
        ),
    ]
