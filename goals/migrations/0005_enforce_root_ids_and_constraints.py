"""Phase 2: NOT NULL root_id and audit columns, real foreign keys, unique names and checks, and
the root rule enforced by the database (goals.roots).

The constraints are the root rule's check: a row they refuse rolls this migration back and stops
migrate with the rows that break the rule listed; the one part no constraint holds (sessions
without a parent) is checked on the rows first. On SQLite each table is altered in place, or
rebuilt once where a copy would store its rows otherwise (AlterTableInOnePass); 0004 has filled
every column.
"""

import django.db.models.deletion
import django.utils.timezone
import model_utils.fields
from django.db import migrations, models

import goals_project.bases.constraints
import goals_project.maintenance.migration_operations
from goals_project.maintenance.migration_executor import reads_only
from goals_project.maintenance.verification import roots_broken, unenforced_root_report


@reads_only
def check_unenforced_roots(apps, schema_editor) -> None:
    """Sessions without a parent against the part of the root rule that no constraint holds.
    The constraints below hold the rest: a row they refuse rolls this migration back, and the
    rows that break the rule are listed (goals_project.maintenance.migration_executor)."""
    report = unenforced_root_report(using=schema_editor.connection.alias)
    if not report.ok:
        raise roots_broken(report, migration="goals.0005_enforce_root_ids_and_constraints")


class Migration(migrations.Migration):
    dependencies = [
        ("goals", "0004_backfill_root_ids"),
    ]

    operations = [
        migrations.RunPython(check_unenforced_roots, migrations.RunPython.noop),
        goals_project.maintenance.migration_operations.AlterModels(
            [
                goals_project.maintenance.migration_operations.AlterTableInOnePass(
                    model_name="goal",
                    operations=[
                        migrations.AlterField(
                            model_name="goal",
                            name="created_at",
                            field=model_utils.fields.AutoCreatedField(
                                default=django.utils.timezone.now, editable=False
                            ),
                        ),
                        migrations.AlterField(
                            model_name="goal",
                            name="parent",
                            field=models.ForeignKey(
                                blank=True,
                                db_index=False,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="children",
                                to="goals.goal",
                            ),
                        ),
                        migrations.AlterField(
                            model_name="goal",
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
                            model_name="goal",
                            name="sort_order",
                            field=models.IntegerField(default=0),
                        ),
                        migrations.AlterField(
                            model_name="goal",
                            name="template",
                            field=models.ForeignKey(
                                blank=True,
                                db_index=False,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="practice_sessions",
                                to="goals.sessiontemplate",
                            ),
                        ),
                        migrations.AlterField(
                            model_name="goal",
                            name="updated_at",
                            field=model_utils.fields.AutoLastModifiedField(
                                default=django.utils.timezone.now, editable=False
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="goal",
                            constraint=models.CheckConstraint(
                                condition=models.Q(
                                    (
                                        "type__in",
                                        [
                                            "UltimateGoal",
                                            "LongTermGoal",
                                            "MidTermGoal",
                                            "ShortTermGoal",
                                            "PracticeSession",
                                            "ImmediateGoal",
                                            "MicroGoal",
                                            "NanoGoal",
                                        ],
                                    )
                                ),
                                name="goals_valid_type",
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="goal",
                            constraint=models.CheckConstraint(
                                condition=models.Q(
                                    ("session_end__isnull", True),
                                    ("session_start__isnull", True),
                                    ("session_end__gte", models.F("session_start")),
                                    _connector="OR",
                                ),
                                name="goals_session_end_after_start",
                                violation_error_message=(
                                    "A session ends at or after it starts: enter an end at or "
                                    "after the start."
                                ),
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="goal",
                            constraint=models.CheckConstraint(
                                condition=models.Q(
                                    ("total_duration_seconds__isnull", True),
                                    ("total_duration_seconds__gte", 0),
                                    _connector="OR",
                                ),
                                name="goals_total_duration_not_negative",
                                violation_error_message=(
                                    "A session's total duration is 0 seconds or more."
                                ),
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="goal",
                            constraint=models.CheckConstraint(
                                condition=models.Q(
                                    ("duration_minutes__isnull", True),
                                    ("duration_minutes__gte", 0),
                                    _connector="OR",
                                ),
                                name="goals_duration_minutes_not_negative",
                                violation_error_message="A duration in minutes is 0 or more.",
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="goal",
                            constraint=models.UniqueConstraint(
                                models.F("id"), models.F("root"), name="goals_id_root_key"
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="goal",
                            constraint=goals_project.bases.constraints.CompositeForeignKey(
                                columns=("parent_id", "root_id"),
                                name="goals_root_follows_parent",
                                on_update="CASCADE",
                                to_columns=("id", "root_id"),
                                to_table="goals",
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="goal",
                            constraint=goals_project.bases.constraints.CompositeForeignKey(
                                columns=("root_id", "root_id"),
                                name="goals_root_is_a_root",
                                on_update="NO ACTION",
                                to_columns=("id", "root_id"),
                                to_table="goals",
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="goal",
                            constraint=models.CheckConstraint(
                                condition=models.Q(
                                    models.Q(("root", models.F("id")), _negated=True),
                                    models.Q(
                                        ("parent__isnull", True),
                                        (
                                            "type__in",
                                            (
                                                "UltimateGoal",
                                                "LongTermGoal",
                                                "MidTermGoal",
                                                "ShortTermGoal",
                                            ),
                                        ),
                                    ),
                                    _connector="OR",
                                ),
                                name="goals_own_root_is_a_parentless_root_type",
                                violation_error_message=(
                                    "Only a parentless goal of a root type is a root."
                                ),
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="goal",
                            constraint=models.CheckConstraint(
                                condition=models.Q(
                                    ("parent__isnull", False),
                                    models.Q(
                                        (
                                            "type__in",
                                            (
                                                "UltimateGoal",
                                                "LongTermGoal",
                                                "MidTermGoal",
                                                "ShortTermGoal",
                                            ),
                                        ),
                                        _negated=True,
                                    ),
                                    ("root", models.F("id")),
                                    _connector="OR",
                                ),
                                name="goals_parentless_root_type_is_own_root",
                                violation_error_message=(
                                    "A parentless goal of a root type is its own root."
                                ),
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="goal",
                            constraint=models.CheckConstraint(
                                condition=models.Q(
                                    ("parent__isnull", False),
                                    (
                                        "type__in",
                                        (
                                            "UltimateGoal",
                                            "LongTermGoal",
                                            "MidTermGoal",
                                            "ShortTermGoal",
                                            "PracticeSession",
                                        ),
                                    ),
                                    _connector="OR",
                                ),
                                name="goals_parentless_only_roots_and_sessions",
                                violation_error_message=(
                                    "Only roots and sessions may lack a parent."
                                ),
                            ),
                        ),
                    ],
                ),
                goals_project.maintenance.migration_operations.AlterTableInOnePass(
                    model_name="activitydefinition",
                    operations=[
                        migrations.AlterField(
                            model_name="activitydefinition",
                            name="created_at",
                            field=model_utils.fields.AutoCreatedField(
                                default=django.utils.timezone.now, editable=False
                            ),
                        ),
                        migrations.AlterField(
                            model_name="activitydefinition",
                            name="group",
                            field=models.ForeignKey(
                                blank=True,
                                db_index=False,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="activity_definitions",
                                to="goals.activitygroup",
                            ),
                        ),
                        migrations.AlterField(
                            model_name="activitydefinition",
                            name="root",
                            field=models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="activity_definitions",
                                to="goals.goal",
                            ),
                        ),
                        migrations.AlterField(
                            model_name="activitydefinition",
                            name="updated_at",
                            field=model_utils.fields.AutoLastModifiedField(
                                default=django.utils.timezone.now, editable=False
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="activitydefinition",
                            constraint=models.UniqueConstraint(
                                condition=models.Q(("deleted_at__isnull", True)),
                                fields=("root", "name"),
                                name="uniq_activity_definition_name_per_root",
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="activitydefinition",
                            constraint=models.UniqueConstraint(
                                models.F("id"),
                                models.F("root"),
                                name="activity_definitions_id_root_key",
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="activitydefinition",
                            constraint=goals_project.bases.constraints.CompositeForeignKey(
                                columns=("root_id", "root_id"),
                                name="activity_definitions_root_is_a_root",
                                on_update="NO ACTION",
                                to_columns=("id", "root_id"),
                                to_table="goals",
                            ),
                        ),
                    ],
                ),
                goals_project.maintenance.migration_operations.AlterTableInOnePass(
                    model_name="activitygroup",
                    operations=[
                        migrations.AlterField(
                            model_name="activitygroup",
                            name="created_at",
                            field=model_utils.fields.AutoCreatedField(
                                default=django.utils.timezone.now, editable=False
                            ),
                        ),
                        migrations.AlterField(
                            model_name="activitygroup",
                            name="root",
                            field=models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="activity_groups",
                                to="goals.goal",
                            ),
                        ),
                        migrations.AlterField(
                            model_name="activitygroup",
                            name="updated_at",
                            field=model_utils.fields.AutoLastModifiedField(
                                default=django.utils.timezone.now, editable=False
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="activitygroup",
                            constraint=models.UniqueConstraint(
                                condition=models.Q(("deleted_at__isnull", True)),
                                fields=("root", "name"),
                                name="uniq_activity_group_name_per_root",
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="activitygroup",
                            constraint=goals_project.bases.constraints.CompositeForeignKey(
                                columns=("root_id", "root_id"),
                                name="activity_groups_root_is_a_root",
                                on_update="NO ACTION",
                                to_columns=("id", "root_id"),
                                to_table="goals",
                            ),
                        ),
                    ],
                ),
                goals_project.maintenance.migration_operations.AlterTableInOnePass(
                    model_name="metricdefinition",
                    operations=[
                        migrations.AlterField(
                            model_name="metricdefinition",
                            name="activity",
                            field=models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="metric_definitions",
                                to="goals.activitydefinition",
                            ),
                        ),
                        migrations.AlterField(
                            model_name="metricdefinition",
                            name="created_at",
                            field=model_utils.fields.AutoCreatedField(
                                default=django.utils.timezone.now, editable=False
                            ),
                        ),
                        migrations.AlterField(
                            model_name="metricdefinition",
                            name="deleted_at",
                            field=models.DateTimeField(blank=True, editable=False, null=True),
                        ),
                        migrations.AlterField(
                            model_name="metricdefinition",
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
                            model_name="metricdefinition",
                            name="sort_order",
                            field=models.IntegerField(default=0),
                        ),
                        migrations.AlterField(
                            model_name="metricdefinition",
                            name="updated_at",
                            field=model_utils.fields.AutoLastModifiedField(
                                default=django.utils.timezone.now, editable=False
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="metricdefinition",
                            constraint=models.UniqueConstraint(
                                condition=models.Q(("deleted_at__isnull", True)),
                                fields=("activity", "name"),
                                name="uniq_metric_name_per_activity",
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="metricdefinition",
                            constraint=goals_project.bases.constraints.CompositeForeignKey(
                                columns=("activity_id", "root_id"),
                                name="metric_definitions_root_follows_activity",
                                on_update="CASCADE",
                                to_columns=("id", "root_id"),
                                to_table="activity_definitions",
                            ),
                        ),
                    ],
                ),
                goals_project.maintenance.migration_operations.AlterTableInOnePass(
                    model_name="practicesessiongoal",
                    operations=[
                        migrations.AlterField(
                            model_name="practicesessiongoal",
                            name="practice_session",
                            field=models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="short_term_goal_links",
                                to="goals.goal",
                            ),
                        ),
                        migrations.AlterField(
                            model_name="practicesessiongoal",
                            name="short_term_goal",
                            field=models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="practice_session_links",
                                to="goals.goal",
                            ),
                        ),
                    ],
                ),
                goals_project.maintenance.migration_operations.AlterTableInOnePass(
                    model_name="sessiontemplate",
                    operations=[
                        migrations.AlterField(
                            model_name="sessiontemplate",
                            name="created_at",
                            field=model_utils.fields.AutoCreatedField(
                                default=django.utils.timezone.now, editable=False
                            ),
                        ),
                        migrations.AlterField(
                            model_name="sessiontemplate",
                            name="root",
                            field=models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="session_templates",
                                to="goals.goal",
                            ),
                        ),
                        migrations.AlterField(
                            model_name="sessiontemplate",
                            name="updated_at",
                            field=model_utils.fields.AutoLastModifiedField(
                                default=django.utils.timezone.now, editable=False
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="sessiontemplate",
                            constraint=models.UniqueConstraint(
                                condition=models.Q(("deleted_at__isnull", True)),
                                fields=("root", "name"),
                                name="uniq_session_template_name_per_root",
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="sessiontemplate",
                            constraint=goals_project.bases.constraints.CompositeForeignKey(
                                columns=("root_id", "root_id"),
                                name="session_templates_root_is_a_root",
                                on_update="NO ACTION",
                                to_columns=("id", "root_id"),
                                to_table="goals",
                            ),
                        ),
                    ],
                ),
                goals_project.maintenance.migration_operations.AlterTableInOnePass(
                    model_name="splitdefinition",
                    operations=[
                        migrations.AlterField(
                            model_name="splitdefinition",
                            name="activity",
                            field=models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="split_definitions",
                                to="goals.activitydefinition",
                            ),
                        ),
                        migrations.AlterField(
                            model_name="splitdefinition",
                            name="created_at",
                            field=model_utils.fields.AutoCreatedField(
                                default=django.utils.timezone.now, editable=False
                            ),
                        ),
                        migrations.AlterField(
                            model_name="splitdefinition",
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
                            model_name="splitdefinition",
                            name="updated_at",
                            field=model_utils.fields.AutoLastModifiedField(
                                default=django.utils.timezone.now, editable=False
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="splitdefinition",
                            constraint=models.UniqueConstraint(
                                condition=models.Q(("deleted_at__isnull", True)),
                                fields=("activity", "name"),
                                name="uniq_split_name_per_activity",
                            ),
                        ),
                        migrations.AddConstraint(
                            model_name="splitdefinition",
                            constraint=goals_project.bases.constraints.CompositeForeignKey(
                                columns=("activity_id", "root_id"),
                                name="split_definitions_root_follows_activity",
                                on_update="CASCADE",
                                to_columns=("id", "root_id"),
                                to_table="activity_definitions",
                            ),
                        ),
                    ],
                ),
            ]
        ),
    ]
