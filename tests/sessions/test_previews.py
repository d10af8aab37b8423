"""A confirmation page's preview is the action itself, run and rolled back: it counts exactly
what the action then does, and says at once when the action would be refused."""

from __future__ import annotations

import datetime

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils import timezone

from goals.models import Goal
from goals.services import goal_delete, goal_purge, goal_restore
from goals_project.bases.services import CascadeResult
from sessions.models import Program
from tests.factories import short_term_goal_with_sessions

pytestmark = pytest.mark.django_db


def _named(result: CascadeResult) -> dict[str, int]:
    from django.apps import apps

    return {
        str(apps.get_model(label)._meta.verbose_name_plural): counted
        for label, counted in result.counts.items()
        if counted
    }


def _goal_admin():
    return admin.site._registry[Goal]


def _snapshot() -> list[tuple]:
    return sorted(Goal.all_objects.values_list("id", "deleted_at"))


def test_the_purge_preview_counts_what_purge_removes_programs_and_links_included():
    short = short_term_goal_with_sessions(2)
    fractal = short.root
    Goal.objects.filter(type="PracticeSession").update(parent=None)
    for session in Goal.objects.filter(type="PracticeSession"):
        session.short_term_goal_links.create(short_term_goal=short)
    now = timezone.now()
    Program.objects.create(
        root=fractal, name="Plan", start_date=now, end_date=now + datetime.timedelta(days=7)
    )
    goal_delete(goal=fractal)
    fractal.refresh_from_db()
    before = _snapshot()
    preview = _goal_admin().preview(fractal, "purge")
    assert _snapshot() == before  # the preview changed nothing
    done = _named(goal_purge(goal=fractal))
    assert preview == done
    assert done["programs"] == 1
    assert done["practice session goals"] == 2


def test_delete_and_restore_previews_count_what_they_do():
    short = short_term_goal_with_sessions(3)
    preview = _goal_admin().preview(short, "delete")
    assert preview == _named(goal_delete(goal=short))
    short.refresh_from_db()
    preview = _goal_admin().preview(short, "restore")
    assert preview == _named(goal_restore(goal=short))


def test_a_preview_of_a_refused_restore_says_why_at_once():
    short = short_term_goal_with_sessions(1)
    parent = short.parent
    goal_delete(goal=parent)
    short.refresh_from_db()
    with pytest.raises(ValidationError, match=r"restore .* first"):
        _goal_admin().preview(short, "restore")
