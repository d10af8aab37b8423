from sessions.models.activity_instance import ActivityInstance, MetricValue
from sessions.models.program import Program, ProgramBlock, ProgramDay, ScheduledSession

__all__ = [
    "ActivityInstance",
    "MetricValue",
    "Program",
    "ProgramBlock",
    "ProgramDay",
    "ScheduledSession",
]
