"""AlterTableInOnePass, AddIndexes and AddFields render their model once, after all of their
changes, and AlterModels renders the models of several of those once: the migration state that
follows must be the one rendered after each change, every model and every relation."""

from __future__ import annotations

import pytest
from django.db import models
from django.db.migrations import AddIndex
from django.db.migrations.loader import MigrationLoader

from goals_project.maintenance.migration_operations import (
    AddFields,
    AddIndexes,
    AlterModels,
    AlterTableInOnePass,
    each_operation,
)


def _one_pass_migrations(loader: MigrationLoader) -> list[tuple[str, str]]:
    return sorted(
        key
        for key, migration in loader.graph.nodes.items()
        if any(
            isinstance(operation, (AlterTableInOnePass, AddIndexes, AddFields, AlterModels))
            for operation in migration.operations
        )
    )


def _step_by_step(operation) -> list:
    """The Django operations that `operation` does in one pass."""
    if isinstance(operation, AlterModels):
        return [step for inner in operation.operations for step in _step_by_step(inner)]
    if isinstance(operation, (AlterTableInOnePass, AddFields)):
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


def _rendered_state_counting_renders(monkeypatch, loader, key) -> tuple[object, list]:
    """The state before migration `key`, rendered as migrate renders it before applying, and
    the list of the models of each rendering done from then on."""
    state = loader.project_state(key, at_end=False)
    state.apps  # noqa: B018
    renders = []
    render = type(state)._reload

    def counted(self, related_models):
        renders.append(sorted(related_models))
        return render(self, related_models)

    monkeypatch.setattr(type(state), "_reload", counted)
    return state, renders


def test_the_migrations_use_the_one_pass_alterations():
    assert len(_one_pass_migrations(MigrationLoader(None, ignore_no_migrations=True))) >= 4


@pytest.mark.parametrize(
    ("key", "kind", "model", "added"),
    [
        (("goals", "0007_add_indexes"), AddIndexes, "goal", "indexes"),
        (
            ("practice_sessions", "0002_add_root_and_audit_columns"),
            AddFields,
            "metricvalue",
            "fields",
        ),
        (("goals", "0003_add_root_and_audit_columns"), AddFields, "goal", "fields"),
    ],
)
def test_changes_added_together_render_their_model_once(monkeypatch, key, kind, model, added):
    """AddIndexes and AddFields render their model's state once for all they add, where
    Django's AddIndex and AddField render it again after each."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    (operation,) = [
        op
        for op in each_operation(loader.graph.nodes[key].operations)
        if isinstance(op, kind) and op.model_name_lower == model
    ]
    assert len(getattr(operation, added)) > 1
    state, renders = _rendered_state_counting_renders(monkeypatch, loader, key)
    operation.state_forwards(key[0], state)
    assert len(renders) == 1
    assert (key[0], model) in renders[0]
    rendered = state.apps.get_model(key[0], model)._meta
    if kind is AddIndexes:
        names = {index.name for index in rendered.indexes}
        assert {index.name for index in operation.indexes} <= names
    else:
        assert {name for name, _ in operation.fields} <= {f.name for f in rendered.get_fields()}


def _alter_models(loader: MigrationLoader) -> list[tuple[tuple[str, str], int]]:
    return sorted(
        (key, index)
        for key, migration in loader.graph.nodes.items()
        for index, operation in enumerate(migration.operations)
        if isinstance(operation, AlterModels)
    )


@pytest.mark.parametrize(
    ("key", "index"), _alter_models(MigrationLoader(None, ignore_no_migrations=True)), ids=str
)
def test_models_altered_together_are_rendered_once(monkeypatch, key, index):
    """AlterModels renders the state once for all the models it alters, where each of its
    alterations renders its own models again."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    operation = loader.graph.nodes[key].operations[index]
    assert len(operation.operations) > 1
    state, renders = _rendered_state_counting_renders(monkeypatch, loader, key)
    separately = state.clone()
    operation.state_forwards(key[0], state)
    assert len(renders) == 1
    assert {(key[0], inner.model_name_lower) for inner in operation.operations} <= set(renders[0])
    renders.clear()
    for inner in operation.operations:
        inner.state_forwards(key[0], separately)
    assert len(renders) == len(operation.operations)
    assert _described(state.apps) == _described(separately.apps)


@pytest.mark.parametrize(
    ("operations", "refused"),
    [
        (
            [AddIndexes("goal", [models.Index(fields=["name"], name="a")]), AddFields("goal", [])],
            "each model once",
        ),
        ([AddIndex("goal", models.Index(fields=["name"], name="a"))], "AddFields, AddIndexes"),
    ],
    ids=["a model twice", "another operation"],
)
def test_alter_models_refuses_what_it_cannot_apply_from_the_final_state(operations, refused):
    with pytest.raises(ValueError, match=refused):
        AlterModels(operations)


@pytest.mark.parametrize(
    "field",
    [
        models.IntegerField(),
        models.IntegerField(null=True, default=0),
        models.IntegerField(null=True, db_default=0),
        models.CharField(max_length=8, null=True, unique=True),
        models.DateTimeField(null=True, auto_now=True),
        models.DateField(null=True, auto_now_add=True),
    ],
    ids=["not null", "default", "db_default", "unique", "auto_now", "auto_now_add"],
)
def test_add_fields_refuses_a_column_sqlite_would_add_by_a_rebuild(field):
    with pytest.raises(ValueError, match=r"goal\.extra is not one: add it with AddField"):
        AddFields("goal", [("extra", field)])


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
    # A relation left leading to a model of an older registry (Django's reload with delay, as
    # for a field that is no relation) is one rendering each change leaves so as well.
    assert _stale_relations(once.apps) <= _stale_relations(each.apps)
    if any(isinstance(op, AlterTableInOnePass) for op in each_operation(migration.operations)):
        assert not _stale_relations(once.apps)  # rendered without delay


def _stale_relations(apps) -> set[tuple[str, str]]:
    """The relations that lead to a model other than the registry's own of that name."""
    return {
        (model._meta.label, field.name)
        for model in apps.get_models()
        for field in model._meta.local_fields
        if field.is_relation
        and field.related_model is not apps.get_model(field.related_model._meta.label)
    }
