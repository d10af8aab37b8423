"""AlterTableInOnePass renders its model once, after all of its alterations: the migration state
that follows must be the one rendered after each alteration, every model and every relation."""

from __future__ import annotations

import pytest
from django.db.migrations.loader import MigrationLoader

from goals_project.maintenance.migration_operations import AlterTableInOnePass


def _one_pass_migrations(loader: MigrationLoader) -> list[tuple[str, str]]:
    return sorted(
        key
        for key, migration in loader.graph.nodes.items()
        if any(isinstance(operation, AlterTableInOnePass) for operation in migration.operations)
    )


def _described(apps) -> dict[str, tuple]:
    """Each model's fields, constraints and indexes as their migrations would write them, and
    its reverse relations."""
    described = {}
    for model in apps.get_models():
        fields = []
        for field in model._meta.local_fields:
            _, path, args, kwargs = field.deconstruct()
            fields.append((field.name, path, args, sorted(kwargs.items(), key=repr)))
        described[model._meta.label] = (
            fields,
            sorted(repr(constraint) for constraint in model._meta.constraints),
            sorted(repr(index) for index in model._meta.indexes),
            sorted(
                (rel.related_model._meta.label, rel.field.name)
                for rel in model._meta.related_objects
            ),
        )
    return described


def test_the_migrations_use_the_one_pass_alterations():
    assert len(_one_pass_migrations(MigrationLoader(None, ignore_no_migrations=True))) >= 2


@pytest.mark.parametrize(
    "key", _one_pass_migrations(MigrationLoader(None, ignore_no_migrations=True)), ids=str
)
def test_rendering_once_gives_the_state_rendered_after_each_alteration(key):
    loader = MigrationLoader(None, ignore_no_migrations=True)
    migration = loader.graph.nodes[key]
    before = loader.project_state(key, at_end=False)
    before.apps  # rendered, as migrate renders it before applying  # noqa: B018
    once, each = before.clone(), before.clone()
    for operation in migration.operations:
        operation.state_forwards(migration.app_label, once)
        inner = getattr(operation, "operations", [operation])
        for step in inner if isinstance(operation, AlterTableInOnePass) else [operation]:
            step.state_forwards(migration.app_label, each)
    assert _described(once.apps) == _described(each.apps)
    # Rendered without delay: every relation leads to a model of the new registry.
    for model in once.apps.get_models():
        for field in model._meta.local_fields:
            if field.is_relation:
                assert field.related_model is once.apps.get_model(field.related_model._meta.label)
