"""The lists of tables and indexes that code reads are the models' own: tested equal to `Meta`."""

from __future__ import annotations

from django.apps import apps

from goals.roots import CHAINS, CHOSEN_ROOT_TABLES, KEYED_TABLES, ROOT_TABLES
from goals_project.maintenance.legacy.schemas import LEGACY_TABLES
from goals_project.maintenance.verification import OTHER_INDEXES, PLAN_INDEXES

PROJECT_APPS = ("goals", "practice_sessions")


def _models():
    return [
        model
        for label in PROJECT_APPS
        for model in apps.get_app_config(label).get_models()
        if not model._meta.proxy
    ]


def test_the_legacy_tables_are_the_models_tables_but_legacy_repairs():
    tables = {model._meta.db_table for model in _models()}
    assert set(LEGACY_TABLES) == tables - {"legacy_repairs"}


def test_the_root_tables_are_the_models_with_a_root():
    rooted = {
        model._meta.db_table
        for model in _models()
        if any(field.name == "root" for field in model._meta.concrete_fields)
    }
    assert set(ROOT_TABLES) == rooted
    assert set(CHAINS) | set(CHOSEN_ROOT_TABLES) == rooted
    assert set(KEYED_TABLES) <= rooted


def test_the_26_plan_indexes_and_the_others_are_the_models_indexes():
    declared = {
        model._meta.db_table: {index.name for index in model._meta.indexes}
        for model in _models()
        if model._meta.indexes
    }
    plan = {table: set(names) for table, names in PLAN_INDEXES.items()}
    assert sum(len(names) for names in plan.values()) == 26
    kept = {table: set(names) for table, names in OTHER_INDEXES.items()}
    assert {table: plan.get(table, set()) | kept.get(table, set()) for table in declared} == (
        declared
    )
    assert not any(plan.get(table, set()) & names for table, names in kept.items())
