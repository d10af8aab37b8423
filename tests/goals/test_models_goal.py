"""The goal tree models on the legacy `goals` table."""

from __future__ import annotations

import pytest
from django.db import connection

from goals.models import (
    Goal,
    GoalType,
    PracticeSession,
    PracticeSessionGoal,
    ShortTermGoal,
    UltimateGoal,
)

pytestmark = pytest.mark.django_db


def test_type_proxies_store_their_type():
    """Creating through a type's proxy model writes that type into the `type` column."""
    root = UltimateGoal.objects.create(name="Play piano")
    short = ShortTermGoal.objects.create(name="Scales", parent=root)
    assert Goal.objects.get(pk=root.pk).type == GoalType.ULTIMATE
    assert Goal.objects.get(pk=short.pk).type == GoalType.SHORT_TERM


def test_type_proxy_managers_only_see_their_type():
    """A proxy's manager lists only goals of its type."""
    root = UltimateGoal.objects.create(name="Run")
    ShortTermGoal.objects.create(name="5k", parent=root)
    assert list(UltimateGoal.objects.values_list("name", flat=True)) == ["Run"]
    assert list(ShortTermGoal.objects.values_list("name", flat=True)) == ["5k"]
    assert Goal.objects.count() == 2


def test_as_typed_returns_the_proxy_for_the_row_type():
    """A plain Goal row becomes an instance of its type's proxy model."""
    root = UltimateGoal.objects.create(name="Climb")
    session = PracticeSession.objects.create(name="Bouldering", parent=root)
    assert isinstance(Goal.objects.get(pk=session.pk).as_typed(), PracticeSession)


def test_ids_are_uuid4_strings():
    """New rows get the legacy id format: a 36-character uuid4 string."""
    goal = UltimateGoal.objects.create(name="Read")
    assert len(goal.pk) == 36
    assert goal.pk[14] == "4"


def test_practice_session_goal_links_by_composite_key():
    """Sessions link to short-term goals through the two-column key of the legacy table."""
    root = UltimateGoal.objects.create(name="Swim")
    short = ShortTermGoal.objects.create(name="Crawl", parent=root)
    session = PracticeSession.objects.create(name="Pool", root=root)
    PracticeSessionGoal.objects.create(practice_session=session, short_term_goal=short)
    link = PracticeSessionGoal.objects.get(pk=(session.pk, short.pk))
    assert link.short_term_goal == short
    assert list(short.practice_session_links.values_list("practice_session__name", flat=True)) == [
        "Pool"
    ]


@pytest.mark.sqlite_only
def test_legacy_timestamp_text_survives_read_and_save():
    """A legacy naive timestamp read through the ORM and saved again is the same text."""
    legacy_text = "2025-12-21 22:52:28.442831"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO goals (id, type, name, created_at, updated_at, session_start, "
            "description, root_id, sort_order) "
            "VALUES ('g1', 'UltimateGoal', 'Legacy', %s, %s, %s, NULL, 'g1', 0)",
            [legacy_text, legacy_text, legacy_text],
        )
    goal = Goal.objects.get(pk="g1")
    goal.name = "Legacy, renamed"
    goal.save()
    with connection.cursor() as cursor:
        # CAST: Django's SQLite cursor would otherwise parse the declared datetime type.
        cursor.execute(
            "SELECT CAST(created_at AS TEXT), CAST(session_start AS TEXT), typeof(description) "
            "FROM goals WHERE id = 'g1'"
        )
        assert cursor.fetchone() == (legacy_text, legacy_text, "null")


def test_every_manager_of_a_type_proxy_is_scoped_to_its_type():
    """UltimateGoal.all_objects and .deleted_objects hold ultimate goals only, like .objects."""
    from goals.models import UltimateGoal
    from tests.factories import LongTermGoalFactory

    long_term = LongTermGoalFactory()
    fractal = long_term.parent
    Goal.objects.filter(pk=long_term.pk).delete()
    assert list(UltimateGoal.all_objects.values_list("pk", flat=True)) == [fractal.pk]
    assert not UltimateGoal.deleted_objects.exists()
    assert [goal.pk for goal in Goal.deleted_objects.all()] == [long_term.pk]


def test_saving_no_fields_saves_nothing(django_assert_num_queries):
    """save(update_fields=[]) is a no-op, as in Django: updated_at is not written either."""
    from tests.factories import UltimateGoalFactory

    fractal = UltimateGoalFactory()
    stamped = Goal.objects.get(pk=fractal.pk).updated_at
    fractal.name = "Not saved"
    with django_assert_num_queries(0):
        fractal.save(update_fields=[])
    assert Goal.objects.values_list("name", "updated_at").get(pk=fractal.pk) == (
        Goal.objects.get(pk=fractal.pk).name,
        stamped,
    )
    assert Goal.objects.get(pk=fractal.pk).name != "Not saved"
