"""AlterTableInOnePass renders its model once, after all of its alterations: the migration state
that follows must be the one rendered after each alteration, every model and every relation."""

from __future__ import annotations

import pytest
from django.db.migrations import AddIndex
from django.db.migrations.loader import MigrationLoader

from goals_project.maintenance.migration_operations import AddIndexes, AlterTableInOnePass


def _one_pass_migrations(loader: MigrationLoader) -> list[tuple[str, str]]:
    return sorted(
        key
        for key, migration in loader.graph.nodes.items()
        if any(
            isinstance(operation, (AlterTableInOnePass, AddIndexes))
            for operation in migration.operations
        )
    )


def _step_by_step(operation) -> list:
    """The Django operations that `operation` does in one pass."""
    if isinstance(operation, AlterTableInOnePass):
        return operation.operations
    if isinstance(operation, AddIndexes):
        return [AddIndex(model_name=operation.model_name, index=i) for i in operation.indexes]
    return [operation]


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
    assert len(_one_pass_migrations(MigrationLoader(None, ignore_no_migrations=True))) >= 4


def test_indexes_added_together_render_their_model_once(monkeypatch):
    """AddIndexes renders its model's state once for all its indexes, where AddIndex renders
    it again after each."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    key = ("goals", "0007_add_indexes")
    (goals,) = [
        op
        for op in loader.graph.nodes[key].operations
        if isinstance(op, AddIndexes) and op.model_name == "goal"
    ]
    assert len(goals.indexes) > 1
    state = loader.project_state(key, at_end=False)
    state.apps  # rendered, as migrate renders it before applying  # noqa: B018
    renders = []
    render = type(state)._reload

    def counted(self, related_models):
        renders.append(sorted(related_models))
        return render(self, related_models)

    monkeypatch.setattr(type(state), "_reload", counted)
    goals.state_forwards("goals", state)
    assert len(renders) == 1
    assert ("goals", "goal") in renders[0]
    names = {index.name for index in state.apps.get_model("goals", "goal")._meta.indexes}
    assert {index.name for index in goals.indexes} <= names


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
        for step in _step_by_step(operation):
            step.state_forwards(migration.app_label, each)
    assert _described(once.apps) == _described(each.apps)
    if not any(isinstance(op, AlterTableInOnePass) for op in migration.operations):
        return  # indexes: rendered with delay, as Django's AddIndex renders them
    # Rendered without delay: every relation leads to a model of the new registry.
    for model in once.apps.get_models():
        for field in model._meta.local_fields:
            if field.is_relation:
                assert field.related_model is once.apps.get_model(field.related_model._meta.label)
