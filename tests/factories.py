"""factory_boy factories for the goal tree and session data."""

from __future__ import annotations

import factory

from goals.models import (
    ActivityDefinition,
    LongTermGoal,
    MetricDefinition,
    MidTermGoal,
    PracticeSession,
    ShortTermGoal,
    UltimateGoal,
)
from sessions.models import ActivityInstance, MetricValue


class UltimateGoalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UltimateGoal

    name = factory.Sequence(lambda n: f"Fractal {n}")


class LongTermGoalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LongTermGoal

    name = factory.Sequence(lambda n: f"Long-term goal {n}")
    parent = factory.SubFactory(UltimateGoalFactory)


class MidTermGoalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MidTermGoal

    name = factory.Sequence(lambda n: f"Mid-term goal {n}")
    parent = factory.SubFactory(LongTermGoalFactory)


class ShortTermGoalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShortTermGoal

    name = factory.Sequence(lambda n: f"Short-term goal {n}")
    parent = factory.SubFactory(MidTermGoalFactory)


class PracticeSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PracticeSession

    name = factory.Sequence(lambda n: f"Session {n}")
    parent = factory.SubFactory(ShortTermGoalFactory)


class ActivityDefinitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActivityDefinition

    name = factory.Sequence(lambda n: f"Activity {n}")
    root = factory.SubFactory(UltimateGoalFactory)


class MetricDefinitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MetricDefinition

    name = factory.Sequence(lambda n: f"Metric {n}")
    unit = "kg"
    activity = factory.SubFactory(ActivityDefinitionFactory)


class ActivityInstanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActivityInstance

    practice_session = factory.SubFactory(PracticeSessionFactory)
    activity_definition = factory.SubFactory(
        ActivityDefinitionFactory, root=factory.SelfAttribute("..practice_session.root")
    )


class MetricValueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MetricValue

    activity_instance = factory.SubFactory(ActivityInstanceFactory)
    metric_definition = factory.SubFactory(
        MetricDefinitionFactory,
        activity=factory.SelfAttribute("..activity_instance.activity_definition"),
    )
    value = 42.5


def short_term_goal_with_sessions(sessions: int) -> ShortTermGoal:
    """A short-term goal with `sessions` practice sessions, each with an instance and a value."""
    short = ShortTermGoalFactory()
    for _ in range(sessions):
        MetricValueFactory(
            activity_instance=ActivityInstanceFactory(practice_session__parent=short)
        )
    return short
