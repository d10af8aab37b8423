"""The session data's part in a goal's cascade (goals.cascade): a session's activity instances
go and come back with it; a purge removes their metric values first, and a purged fractal's
programs and remaining session rows before its definitions. Registered by
PracticeSessionsConfig.ready()."""

from __future__ import annotations

from django.db.models import Q

from goals.cascade import CascadePart
from sessions.models import (
    ActivityInstance,
    MetricValue,
    Program,
    ProgramBlock,
    ProgramDay,
    ScheduledSession,
)


class SessionDataCascade(CascadePart):
    def scopes(self, of_sessions):
        return [(ActivityInstance, of_sessions("practice_session_id"))]

    def purge_first(self, scope_of):
        instances = ActivityInstance._base_manager.filter(scope_of[ActivityInstance])
        return [MetricValue._base_manager.filter(activity_instance__in=instances), instances]

    def fractal_purge_first(self, root_id):
        return [
            MetricValue._base_manager.filter(root_id=root_id),
            ActivityInstance._base_manager.filter(root_id=root_id),
            ScheduledSession._base_manager.filter(
                Q(day__block__program__root_id=root_id) | Q(session_template__root_id=root_id)
            ),
            ProgramDay._base_manager.filter(block__program__root_id=root_id),
            ProgramBlock._base_manager.filter(program__root_id=root_id),
            Program._base_manager.filter(root_id=root_id),
        ]
