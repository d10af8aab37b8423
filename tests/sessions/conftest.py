"""Two owners with a fractal each, for the admin's isolation and behaviour tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from goals.models import Goal, SessionTemplate
from sessions.models import Program
from tests.factories import (
    ActivityInstanceFactory,
    LongTermGoalFactory,
    MetricValueFactory,
    PracticeSessionFactory,
    ShortTermGoalFactory,
    UltimateGoalFactory,
)


@dataclass
class World:
    """One owner's fractal with a row of every kind."""

    user: User
    client: Client
    fractal: Goal
    short: Goal
    session: Goal
    value: object
    template: SessionTemplate
    program: Program

    @property
    def instance(self):
        return self.value.activity_instance

    @property
    def activity(self):
        return self.value.activity_instance.activity_definition

    @property
    def metric(self):
        return self.value.metric_definition


def staff_user(username: str) -> User:
    """A staff user with every permission of the two apps, but not a superuser."""
    user = User.objects.create_user(username, password="pw-" + username, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["goals", "practice_sessions"])
    )
    return user


def make_world(user: User, label: str) -> World:
    fractal = UltimateGoalFactory(name=f"{label} fractal", owner=user)
    long = LongTermGoalFactory(name=f"{label} long", parent=fractal)
    short = ShortTermGoalFactory(name=f"{label} short", parent=long)
    session = PracticeSessionFactory(name=f"{label} session", parent=short)
    instance = ActivityInstanceFactory(
        practice_session=session, activity_definition__name=f"{label} squat"
    )
    value = MetricValueFactory(
        activity_instance=instance, metric_definition__name=f"{label} weight"
    )
    template = SessionTemplate.objects.create(
        name=f"{label} template",
        root=fractal,
        template_data=f'{{"activities": ["{instance.activity_definition_id}"]}}',
    )
    program = Program.objects.create(
        name=f"{label} program",
        root=fractal,
        start_date="2026-01-01T00:00:00Z",
        end_date="2026-02-01T00:00:00Z",
    )
    client = Client()
    client.force_login(user)
    return World(user, client, fractal, short, session, value, template, program)


@pytest.fixture
def alice(db) -> World:
    return make_world(staff_user("alice"), "Alice")


@pytest.fixture
def bob(db) -> World:
    return make_world(staff_user("bob"), "Bob")
