"""Takes the README's screenshots of a migrated demo database served at BASE_URL.

Usage: python -m tests.e2e.screenshots BASE_URL OUTPUT_DIR (DATABASE_URL as for the server).

Before the shots it does, through the services the admin uses, what a person would have done:
today's session made from a template with values recorded and a timer running, and a goal
deleted, so the session page, the tree and the recycle bin show them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import django


def prepare() -> dict[str, str]:
    """The demo's state for the shots; returns the pages to take, by file name."""
    from goals.models import Goal, GoalType, SessionTemplate
    from goals.services import goal_delete
    from sessions.models import ActivityInstance, MetricValue
    from sessions.services import (
        MetricEntry,
        activity_metric_values_record,
        activity_timer_start,
        practice_session_create_from_template,
    )

    fractal = Goal.objects.filter(type=GoalType.ULTIMATE).order_by("name").first()
    templates = SessionTemplate.objects.filter(root=fractal, deleted_at__isnull=True)
    template = next(t for t in templates.order_by("name") if t.activity_ids())
    goals = Goal.objects.filter(root=fractal, type=GoalType.SHORT_TERM).order_by("name")
    session = practice_session_create_from_template(
        template=template, parent=goals.first(), name="Today's practice"
    )
    first = (
        ActivityInstance.objects.filter(practice_session=session)
        .select_related("activity_definition")
        .order_by("sort_order", "created_at")
        .first()
    )
    activity = first.activity_definition
    splits = list(activity.split_definitions.order_by("order")) if activity.has_splits else []
    entries = []
    for metric in activity.metric_definitions.filter(is_active=True).order_by("sort_order"):
        # The metric's last recorded value, as a person repeating their practice would type.
        last = (
            MetricValue.objects.filter(metric_definition=metric)
            .order_by("-created_at")
            .values_list("value", flat=True)
            .first()
        )
        entries += [
            MetricEntry(
                value=last if last is not None else 10,
                metric_definition_id=metric.pk,
                split_definition_id=split.pk if split else None,
            )
            for split in splits or [None]
        ]
    activity_metric_values_record(instance=first, entries=entries)
    activity_timer_start(instance=first)

    doomed = goals.last()
    goal_delete(goal=doomed)
    return {
        # Opened at today's session: its goal's folded session list unfolds around it.
        "goals-tree.png": f"/admin/goals/fractal/{fractal.pk}/tree/?focus={session.pk}",
        "practice-session.png": f"/admin/goals/practicesession/{session.pk}/change/",
        "recycle-bin.png": "/admin/recycle-bin/",
        "analytics.png": f"/admin/goals/fractal/{fractal.pk}/analytics/",
    }


# The pages shown whole; the others as the window shows them.
FULL_PAGE = {"practice-session.png", "analytics.png"}


def main(base: str, out: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "goals_project.settings")
    django.setup()
    pages = prepare()

    from tests.e2e.browser import chromium, log_in, new_page, wait_for_server

    wait_for_server(f"{base}/admin/login/")
    out.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = new_page(browser, viewport={"width": 1400, "height": 900})
        # The navigation sidebar off: the pages get the width.
        page.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
        log_in(page, base, "admin", os.environ.get("DEMO_ADMIN_PASSWORD", "fractal-goals-admin"))
        for name, path in pages.items():
            page.goto(base + path)
            if name == "practice-session.png":
                # The running timer has counted on the page.
                page.wait_for_function(
                    "() => /[1-9]/.test(document.querySelector('.timer-elapsed').textContent)"
                )
            page.screenshot(path=str(out / name), full_page=name in FULL_PAGE)
            print(f"wrote {out / name}")  # noqa: T201 - a script's report


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
