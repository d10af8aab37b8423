from goals.models.activity import (
    ActivityDefinition,
    ActivityGroup,
    MetricDefinition,
    SplitDefinition,
)
from goals.models.goal import (
    GOAL_TYPE_MODELS,
    Fractal,
    Goal,
    GoalType,
    ImmediateGoal,
    LongTermGoal,
    MicroGoal,
    MidTermGoal,
    NanoGoal,
    PracticeSession,
    PracticeSessionGoal,
    ShortTermGoal,
    UltimateGoal,
)
from goals.models.legacy_repair import LegacyRepair
from goals.models.session_template import SessionTemplate

__all__ = [
    "GOAL_TYPE_MODELS",
    "ActivityDefinition",
    "ActivityGroup",
    "Fractal",
    "Goal",
    "GoalType",
    "ImmediateGoal",
    "LegacyRepair",
    "LongTermGoal",
    "MetricDefinition",
    "MicroGoal",
    "MidTermGoal",
    "NanoGoal",
    "PracticeSession",
    "PracticeSessionGoal",
    "SessionTemplate",
    "ShortTermGoal",
    "SplitDefinition",
    "UltimateGoal",
]
