"""A user without a fractal is told what to do first, on the index and the goal list."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from goals.models import Goal
from goals.services import goal_delete
from tests.admin_forms import page_text
from tests.sessions.conftest import staff_user

pytestmark = pytest.mark.django_db
PAGES = ["admin:index", "admin:goals_goal_changelist"]


@pytest.mark.parametrize("page", PAGES)
def test_a_staff_user_without_a_fractal_is_asked_to_create_one(bob, page):
    """A new staff user (another owner's fractal exists) sees how to start, with the link."""
    client = Client()
    client.force_login(staff_user("carol"))
    content = page_text(client.get(reverse(page)))
    assert 'id="no-fractal"' in content
    assert f'href="{reverse("admin:goals_fractal_add")}">Create a fractal</a>' in content
    assert "Bob" not in content


@pytest.mark.parametrize("page", PAGES)
def test_a_user_with_a_fractal_is_not_told_to_create_one(alice, page):
    """Someone with a fractal gets the usual pages, without the hint."""
    content = alice.client.get(reverse(page)).content.decode()
    assert 'id="no-fractal"' not in content


def test_a_deleted_fractal_does_not_count(alice):
    """Once a user's only fractal is deleted, the index asks for a new one again."""
    goal_delete(goal=Goal.objects.get(pk=alice.fractal.pk))
    content = alice.client.get(reverse("admin:index")).content.decode()
    assert 'id="no-fractal"' in content
