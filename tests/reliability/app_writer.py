"""The app writing continuously, through its models, for the concurrency tests.

    python -m tests.reliability.app_writer

Creates a fractal, then keeps adding a practice session with an activity instance and two
metric values, one transaction each, until its standard input is closed. Then it prints one
JSON line: how many sessions it wrote, the root id, and the slowest transaction in seconds
(how long it was kept waiting). The test decides when it has seen enough, not a clock.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "goals_project.settings")
    import django

    django.setup()
    from django.db import transaction

    from goals.models import (
        ActivityDefinition,
        LongTermGoal,
        MetricDefinition,
        PracticeSession,
        ShortTermGoal,
        UltimateGoal,
    )
    from sessions.models import ActivityInstance, MetricValue

    root = UltimateGoal.objects.create(name=f"Writer {os.getpid()}")
    short = ShortTermGoal.objects.create(
        name="Practise", parent=LongTermGoal.objects.create(name="Long", parent=root)
    )
    activity = ActivityDefinition.objects.create(root=root, name="Squat")
    weight = MetricDefinition.objects.create(activity=activity, name="Weight", unit="kg")
    reps = MetricDefinition.objects.create(activity=activity, name="Reps", unit="")
    print(json.dumps({"started": True}), flush=True)  # noqa: T201 - to the test
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    written, slowest = 0, 0.0
    while not stop.is_set() or written == 0:
        began = time.monotonic()
        with transaction.atomic():
            session = PracticeSession.objects.create(name=f"Session {written}", parent=short)
            instance = ActivityInstance.objects.create(
                practice_session=session, activity_definition=activity
            )
            MetricValue.objects.create(
                activity_instance=instance, metric_definition=weight, value=80
            )
            MetricValue.objects.create(activity_instance=instance, metric_definition=reps, value=5)
        slowest = max(slowest, time.monotonic() - began)
        written += 1
    print(json.dumps({"sessions": written, "root_id": root.pk, "slowest": slowest}))  # noqa: T201


if __name__ == "__main__":
    main()
