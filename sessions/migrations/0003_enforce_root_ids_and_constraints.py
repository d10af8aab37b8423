"""Phase 2 for session data: NOT NULL root_id and audit columns, real foreign keys, checks.

On SQLite each table is altered in place, or rebuilt once where a copy would store its rows
otherwise (AlterTableInOnePass); goals.0004 filled every column.
"""

import django.db.models.deletion
import django.utils.timezone
import model_utils.fields
from django.db import migrations, models

import goals_project.bases.constraints
import goals_project.maintenance.migration_operations


class Migration(migrations.Migration):
    dependencies = [
        ("goals", "0005_enforce_root_ids_and_constraints"),
        ("practice_sessions", "0002_add_root_and_audit_columns"),
    ]

    operations = [
        goals_project.maintenance.migration_operations.AlterModels(
            [
                goals_project.maintenance.migration_operations.AlterTableInOnePass(
                    model_name="activityinstance",
                    operations=[
                        migrations.AlterField(
                            model_name="activityinstance",
                            name="activity_definition",
                            field=models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="activity_instances",
                                to="goals.activitydefinition",
                            ),
                        ),
                        migrations.AlterField(
                            model_name="activityinstance",
                            name="completed",
                            field=models.BooleanField(default=False),
                        ),
                        migrations.AlterField(
                            model_name="activityinstance",
                            name="created_at",
                            field=model_utils.fields.AutoCreatedField(
                                default=django.utils.timezone.now, editable=False
                            ),
                        ),
                        migrations.AlterField(
                            model_name="activityinstance",
                            name="practice_session",
                            field=models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="activity_instances",
                                to="goals.goal",
                            ),
                        ),
                        migrations.AlterField(
                            model_name="activityinstance",
                            name="root",
                            field=models.ForeignKey(
                                db_index=False,
                                editable=False,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="goals.goal",
                            ),
                        ),
                        migrations.AlterField(
                            model_name="activityinstance",
                            name="sort_order",
                            field=models.IntegerField(default=0),
                        ),
                        migrations.AlterField(
                            model_name="activityinstance",
                            name="updated_at",
                            field=model_utils.fields.AutoLastModifiedField(
                                default=django.utils.timezone.now, editable=False
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="activityinstance",
                            constraint=models.CheckConstraint(
                                condition=models.Q(
                                    ("time_stop__isnull", True),
                                    ("time_start__isnull", True),
                                    ("time_stop__gte", models.F("time_start")),
                                    _connector="OR",
                                ),
                                name="activity_instances_stop_after_start",
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="activityinstance",
                            constraint=models.CheckConstraint(
                                condition=models.Q(
                                    ("duration_seconds__isnull", True),
                                    ("duration_seconds__gte", 0),
                                    _connector="OR",
                                ),
                                name="activity_instances_duration_not_negative",
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="activityinstance",
                            constraint=models.UniqueConstraint(
                                models.F("id"),
                                models.F("root"),
                                name="activity_instances_id_root_key",
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="activityinstance",
                            constraint=goals_project.bases.constraints.CompositeForeignKey(
                                columns=("practice_session_id", "root_id"),
                                name="activity_instances_root_follows_practice_session",
                                on_update="CASCADE",
                                to_columns=("id", "root_id"),
                                to_table="goals",
                            ),
                        ),
                    ],
                ),
                goals_project.maintenance.migration_operations.AlterTableInOnePass(
                    model_name="metricvalue",
                    operations=[
                        migrations.AlterField(
                            model_name="metricvalue",
                            name="activity_instance",
                            field=models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="metric_values",
                                to="practice_sessions.activityinstance",
                            ),
                        ),
                        migrations.AlterField(
                            model_name="metricvalue",
                            name="created_at",
                            field=model_utils.fields.AutoCreatedField(
                                default=django.utils.timezone.now, editable=False
                            ),
                        ),
                        migrations.AlterField(
                            model_name="metricvalue",
                            name="metric_definition",
                            field=models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="metric_values",
                                to="goals.metricdefinition",
                            ),
                        ),
                        migrations.AlterField(
                            model_name="metricvalue",
                            name="root",
                            field=models.ForeignKey(
                                db_index=False,
                                editable=False,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="goals.goal",
                            ),
                        ),
                        migrations.AlterField(
                            model_name="metricvalue",
                            name="split_definition",
                            field=models.ForeignKey(
                                blank=True,
                                db_index=False,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="metric_values",
                                to="goals.splitdefinition",
                            ),
                        ),
                        migrations.AlterField(
                            model_name="metricvalue",
                            name="updated_at",
                            field=model_utils.fields.AutoLastModifiedField(
                                default=django.utils.timezone.now, editable=False
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="metricvalue",
                            constraint=goals_project.bases.constraints.CompositeForeignKey(
                                columns=("activity_instance_id", "root_id"),
                                name="metric_values_root_follows_activity_instance",
                                on_update="CASCADE",
                                to_columns=("id", "root_id"),
                                to_table="activity_instances",
                            ),
                        ),
                    ],
                ),
                goals_project.maintenance.migration_operations.AlterTableInOnePass(
                    model_name="program",
                    operations=[
                        migrations.AlterField(
                            model_name="program",
                            name="root",
                            field=models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="programs",
                                to="goals.goal",
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="program",
                            constraint=goals_project.bases.constraints.CompositeForeignKey(
                                columns=("root_id", "root_id"),
                                name="programs_root_is_a_root",
                                on_update="NO ACTION",
                                to_columns=("id", "root_id"),
                                to_table="goals",
                            ),
                        ),
                    ],
                ),
                goals_project.maintenance.migration_operations.AlterTableInOnePass(
                    model_name="programblock",
                    operations=[
                        migrations.AlterField(
                            model_name="programblock",
                            name="program",
                            field=models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="blocks",
                                to="practice_sessions.program",
                            ),
                        )
                    ],
                ),
                goals_project.maintenance.migration_operations.AlterTableInOnePass(
                    model_name="programday",
                    operations=[
                        migrations.AlterField(
                            model_name="programday",
                            name="block",
                            field=models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="days",
                                to="practice_sessions.programblock",
                            ),
                        )
                    ],
                ),
                goals_project.maintenance.migration_operations.AlterTableInOnePass(
                    model_name="scheduledsession",
                    operations=[
                        migrations.AlterField(
                            model_name="scheduledsession",
                            name="day",
                            field=models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="scheduled_sessions",
                                to="practice_sessions.programday",
                            ),
                        ),
                        migrations.AlterField(
                            model_name="scheduledsession",
                            name="session_template",
                            field=models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="scheduled_sessions",
                                to="goals.sessiontemplate",
                            ),
                        ),
                    ],
                ),
            ]
        ),
    ]
