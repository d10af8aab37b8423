"""Owners: each fractal's root goal may name the user it belongs to (admin isolation).

Existing fractals get no owner: only superusers see them until `assign_fractal_owner` gives
them one. The nullable column and its index are added in place on SQLite, and so is the check
where the table allows it: written into the table's definition and proved on the rows already
there (`alter_constraints_in_place`), without the rebuild Django's AddConstraint makes.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import goals_project.maintenance.migration_operations


class Migration(migrations.Migration):
    dependencies = [
        ("goals", "0005_enforce_root_ids_and_constraints"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="goal",
            name="owner",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="fractals",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="goal",
            index=models.Index(
                condition=models.Q(("owner__isnull", False)),
                fields=["owner"],
                name="idx_goals_owner",
            ),
        ),
        goals_project.maintenance.migration_operations.AlterTableInOnePass(
            model_name="goal",
            operations=[
                migrations.AddConstraint(
                    model_name="goal",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            ("owner__isnull", True), ("root", models.F("id")), _connector="OR"
                        ),
                        name="goals_owner_on_roots_only",
                        violation_error_message="Only a fractal's root goal has an owner.",
                    ),
                ),
            ],
        ),
    ]
