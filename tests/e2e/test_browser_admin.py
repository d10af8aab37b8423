"""The admin driven end to end in headless Chromium against the dev server on loopback.

One story, as a person would click it: a fractal with goals, a session with an activity, its
timer and a metric value, a deletion restored from the recycle bin, the analytics page, and a
second staff user who cannot see any of it. Screenshots of each step are kept as artifacts
(FRACTAL_E2E_ARTIFACTS, default test-artifacts/e2e).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.browser import choose_autocomplete, chromium, dev_server, log_in, new_page

pytestmark = pytest.mark.sqlite_only

ROOT = Path(__file__).resolve().parents[2]
USERS = """
from django.contrib.auth.models import Permission, User
for name in ("alice", "bob"):
    user = User.objects.create_user(name, password="pw-" + name, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label__in=["goals", "practice_sessions"]))
"""


@dataclass
class Server:
    url: str
    database: Path


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    database = tmp_path / "goals.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, cwd=ROOT)  # noqa: S603
    subprocess.run(  # noqa: S603 - our own manage.py
        [*manage, "shell", "--no-imports", "-c", USERS], env=env, check=True, cwd=ROOT
    )
    with dev_server(manage, env=env, cwd=ROOT) as url:
        yield Server(url, database)


@pytest.fixture
def artifacts() -> Path:
    folder = Path(os.environ.get("FRACTAL_E2E_ARTIFACTS", ROOT / "test-artifacts" / "e2e"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def goal_id(database: Path, name: str) -> str:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT id FROM goals WHERE name = ?", [name]).fetchone()[0]


def add_goal(page, base: str, name: str, goal_type: str, parent: str | None = None) -> None:
    page.goto(f"{base}/admin/goals/goal/add/")
    page.fill("#id_name", name)
    page.select_option("#id_type", goal_type)
    if parent:
        choose_autocomplete(page, "parent", parent)
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")


def test_a_person_manages_a_fractal_in_the_browser(server, artifacts):
    """Every step of the story succeeds in a real browser, and bob sees none of alice's rows."""
    with chromium() as browser:
        page = new_page(browser, viewport={"width": 1400, "height": 1000})
        try:
            story(page, browser, server, artifacts)
        except Exception:
            page.screenshot(path=str(artifacts / "failure.png"), full_page=True)
            raise


def story(page, browser, server, artifacts) -> None:
    base = server.url
    shot = iter(range(1, 100))

    def snap(name: str) -> None:
        page.screenshot(path=str(artifacts / f"{next(shot):02d}-{name}.png"), full_page=True)

    log_in(page, base, "alice", "pw-alice")
    add_goal(page, base, "Run a marathon", "UltimateGoal")
    add_goal(page, base, "Build endurance", "LongTermGoal", parent="Run a marathon")
    add_goal(page, base, "Half marathon", "MidTermGoal", parent="Build endurance")
    add_goal(page, base, "Run 10k", "ShortTermGoal", parent="Half marathon")
    snap("goals")

    page.goto(f"{base}/admin/goals/activitydefinition/add/")
    page.fill("#id_name", "Running")
    choose_autocomplete(page, "root", "Run a marathon")
    page.click("#metric_definitions-group .add-row a")
    page.fill("#id_metric_definitions-0-name", "Distance")
    page.fill("#id_metric_definitions-0-unit", "km")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")

    page.goto(f"{base}/admin/goals/practicesession/add/")
    page.fill("#id_name", "Tuesday run")
    choose_autocomplete(page, "parent", "Run 10k")
    page.click("#activity_instances-group .add-row a")
    choose_autocomplete(page, "activity_instances-0-activity_definition", "Running")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    snap("session")

    page.click("button:has-text('Start timer')")
    page.wait_for_selector(".messagelist .success:has-text('Started the timer')")
    page.click("button:has-text('Stop timer')")
    page.wait_for_selector(".messagelist .success:has-text('Stopped the timer')")
    with sqlite3.connect(server.database) as connection:
        duration = connection.execute("SELECT duration_seconds FROM activity_instances").fetchone()
    assert duration[0] is not None and duration[0] >= 0
    snap("timer")

    page.click("#activity_instances-group a.inlinechangelink")
    # The admin searches names and units word by word: "(km)" is no word of either.
    choose_autocomplete(page, "metric_values-0-metric_definition", "Distance (km)", "Distance")
    page.fill("#id_metric_values-0-value", "5.2")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    session_id = goal_id(server.database, "Tuesday run")
    page.goto(f"{base}/admin/goals/practicesession/{session_id}/change/")
    assert page.locator("text=Distance 5.2 km").count() == 1
    snap("metric-value")

    short_id = goal_id(server.database, "Run 10k")
    page.goto(f"{base}/admin/goals/goal/{short_id}/delete/")
    snap("delete-preview")
    page.click("input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    page.goto(f"{base}/admin/recycle-bin/")
    assert page.locator("text=Run 10k").count() >= 1
    snap("recycle-bin")
    page.click("a:has-text('Restore or purge deleted goals')")
    page.check(f"input[name=_selected_action][value='{short_id}']")
    page.select_option("select[name=action]", "restore_selected")
    page.click("button[name=index]")
    page.click("input[value='Yes, restore']")
    page.wait_for_selector(".messagelist .success:has-text('Restored 1 goal.')")
    with sqlite3.connect(server.database) as connection:
        deleted = connection.execute(
            "SELECT COUNT(*) FROM goals WHERE deleted_at IS NOT NULL"
        ).fetchone()[0]
    assert deleted == 0

    fractal_id = goal_id(server.database, "Run a marathon")
    page.goto(f"{base}/admin/goals/fractal/")
    page.click("a:has-text('Analytics')")
    page.wait_for_selector("h1:has-text('Analytics of Run a marathon')")
    assert page.locator("#analytics-summary td").first.inner_text() == "1"
    snap("analytics")

    other = new_page(browser)
    log_in(other, base, "bob", "pw-bob")
    other.goto(f"{base}/admin/goals/goal/")
    assert "Run a marathon" not in other.content()
    response = other.goto(f"{base}/admin/goals/goal/{fractal_id}/change/")
    assert response.status == 404
    response = other.goto(f"{base}/admin/goals/fractal/{fractal_id}/analytics/")
    assert response.status == 404
    other.screenshot(path=str(artifacts / "99-second-user.png"))
