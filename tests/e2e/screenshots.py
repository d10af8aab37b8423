"""Takes the README's screenshots of a migrated demo database served at BASE_URL.

Usage: python -m tests.e2e.screenshots BASE_URL OUTPUT_DIR (DATABASE_URL as for the server).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import django


def main(base: str, out: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "goals_project.settings")
    django.setup()
    from goals.models import Goal, GoalType
    from goals.services import goal_delete

    fractal = Goal.objects.filter(type=GoalType.ULTIMATE).order_by("name").first()
    session = (
        Goal.objects.filter(
            root=fractal, type=GoalType.PRACTICE_SESSION, activity_instances__isnull=False
        )
        .order_by("-created_at")
        .first()
    )
    doomed = Goal.objects.filter(root=fractal, type=GoalType.SHORT_TERM).order_by("name").last()
    if doomed is not None:
        goal_delete(goal=doomed)

    from tests.e2e.browser import chromium, log_in, wait_for_server

    wait_for_server(f"{base}/admin/login/")
    out.mkdir(parents=True, exist_ok=True)
    pages = {
        "goals-tree.png": f"/admin/goals/goal/?fractal={fractal.pk}&o=-3.1",
        "practice-session.png": f"/admin/goals/practicesession/{session.pk}/change/",
        "recycle-bin.png": "/admin/recycle-bin/",
        "analytics.png": f"/admin/goals/fractal/{fractal.pk}/analytics/",
    }
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        # The navigation sidebar off: the pages get the width.
        page.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
        log_in(page, base, "admin", os.environ.get("DEMO_ADMIN_PASSWORD", "fractal-goals-admin"))
        for name, path in pages.items():
            page.goto(base + path)
            page.screenshot(path=str(out / name), full_page=name == "practice-session.png")
            print(f"wrote {out / name}")  # noqa: T201 - a script's report


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
