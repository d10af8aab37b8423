"""Phase 3: the improvement plan's named indexes, built after the data is in place."""

from django.db import migrations, models

from goals_project.maintenance.migration_operations import AddIndexes, AlterModels


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
        AlterModels(
            [
                AddIndexes(
                    model_name="activitydefinition",
                    indexes=[
                        models.Index(fields=["root"], name="idx_activity_definitions_root"),
                    ],
                ),
                AddIndexes(
                    model_name="activitygroup",
                    indexes=[
                        models.Index(fields=["root"], name="idx_activity_groups_root"),
                    ],
                ),
                AddIndexes(
                    model_name="goal",
                    indexes=[
                        models.Index(fields=["parent"], name="idx_goals_parent_id"),
                        models.Index(fields=["root"], name="idx_goals_root_id"),
                        models.Index(fields=["type"], name="idx_goals_type"),
                        models.Index(fields=["created_at"], name="idx_goals_created_at"),
                        models.Index(fields=["parent", "type"], name="idx_goals_parent_type"),
                        models.Index(fields=["root", "type"], name="idx_goals_root_type"),
                        models.Index(
                            condition=models.Q(("completed", True)),
                            fields=["root", "type"],
                            name="idx_goals_completed",
                        ),
                        models.Index(
                            condition=models.Q(("type", "PracticeSession")),
                            fields=["root", "created_at"],
                            name="idx_goals_practice_sessions",
                        ),
                    ],
                ),
                AddIndexes(
                    model_name="metricdefinition",
                    indexes=[
                        models.Index(fields=["activity"], name="idx_metric_definitions_activity"),
                        models.Index(fields=["root"], name="idx_metric_definitions_root"),
                        models.Index(
                            condition=models.Q(("is_active", True)),
                            fields=["activity"],
                            name="idx_metric_definitions_active",
                        ),
                    ],
                ),
                AddIndexes(
                    model_name="sessiontemplate",
                    indexes=[
                        models.Index(fields=["root"], name="idx_session_templates_root"),
                    ],
                ),
                AddIndexes(
                    model_name="splitdefinition",
                    indexes=[
                        models.Index(fields=["activity"], name="idx_split_definitions_activity"),
                        models.Index(fields=["root"], name="idx_split_definitions_root"),
                    ],
                ),
            ]
        ),
    ]
