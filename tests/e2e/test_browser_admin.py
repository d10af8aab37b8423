"""The admin driven end to end in headless Chromium against the dev server on loopback.

One story, as a person would click it: a fractal planned from its tree page, a session logged on
its own page (metric values typed in the activity's row, its timer started and stopped without
losing what was typed), a goal deleted and restored from its entry in the recycle bin, the
analytics charts read, the session page used at phone width, and a second staff user who sees
none of it. Screenshots of each step are kept as artifacts (FRACTAL_E2E_ARTIFACTS, default
test-artifacts/e2e).
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

from goals.selectors import PLACE_SEPARATOR
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
# The visible Save: the form's first submit button is a hidden Save that takes Enter.
SAVE = "input[name=_save]:not(.default-on-enter)"
SAVE_AND_CONTINUE = "input[name=_continue]"
PHONE_WIDTH = 390


@dataclass
class Server:
    url: str
    database: Path

    def query(self, sql: str, *params) -> list[tuple]:
        with sqlite3.connect(self.database) as connection:
            return connection.execute(sql, params).fetchall()

    def goal_id(self, name: str) -> str:
        return self.query("SELECT id FROM goals WHERE name = ?", name)[0][0]


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


def save(page, button: str = SAVE) -> None:
    page.click(button)
    page.wait_for_selector(".messagelist .success")


def choose_goal(page, field: str, place: list[str]) -> None:
    """Pick a goal in a picker that names goals by their place in the tree, typing its name."""
    choose_autocomplete(page, field, PLACE_SEPARATOR.join(place), place[-1])


def add_goal(page, base: str, name: str, goal_type: str, parent_place: list[str]) -> None:
    page.goto(f"{base}/admin/goals/goal/add/")
    page.fill("#id_name", name)
    page.select_option("#id_type", goal_type)
    choose_goal(page, "parent", parent_place)
    save(page)


def test_a_person_manages_a_fractal_in_the_browser(server, artifacts):
    """Every step of the story succeeds in a real browser, and bob sees none of alice's rows."""
    with chromium() as browser:
        page = new_page(browser, viewport={"width": 1400, "height": 1000})
        try:
            story(page, browser, server, artifacts)
        except Exception:
            page.screenshot(path=str(artifacts / "failure.png"), full_page=True)
            raise


def story(page, browser, server: Server, artifacts: Path) -> None:
    base = server.url
    shot = iter(range(1, 100))

    def snap(name: str, on=None) -> None:
        (on or page).screenshot(
            path=str(artifacts / f"{next(shot):02d}-{name}.png"), full_page=True
        )

    log_in(page, base, "alice", "pw-alice")
    fractal_id = plan_goals(page, server)
    snap("tree")
    session_id = log_session(page, server)
    snap("session")
    phone_check(browser, server, session_id, snap)
    stop_timer(page, server, session_id)
    snap("timer-stopped")
    delete_and_restore(page, server, snap)
    read_analytics(page, server, fractal_id)
    snap("analytics")
    second_user(browser, server, fractal_id, session_id, snap)


def plan_goals(page, server: Server) -> str:
    """A fractal, a goal added from its tree page, more under it by their place in the tree;
    the tree page shows each goal under its parent."""
    base = server.url
    page.goto(f"{base}/admin/goals/goal/add/")
    page.fill("#id_name", "Run a marathon")
    page.select_option("#id_type", "UltimateGoal")
    save(page)
    fractal_id = server.goal_id("Run a marathon")

    page.goto(f"{base}/admin/goals/fractal/{fractal_id}/tree/")
    page.click("a.addlink:has-text('Add a goal under Run a marathon')")
    # The parent comes chosen, named by its place in the tree.
    page.wait_for_selector("#select2-id_parent-container:has-text('Run a marathon')")
    page.fill("#id_name", "Build endurance")
    page.select_option("#id_type", "LongTermGoal")
    save(page)
    add_goal(page, base, "Half marathon", "MidTermGoal", ["Run a marathon", "Build endurance"])
    add_goal(
        page,
        base,
        "Run 10k",
        "ShortTermGoal",
        ["Run a marathon", "Build endurance", "Half marathon"],
    )

    page.goto(f"{base}/admin/goals/fractal/{fractal_id}/tree/")
    page.wait_for_selector("h1:has-text('Tree of Run a marathon')")
    nested = " ".join(
        f"#goal-{server.goal_id(name)}"
        for name in ("Run a marathon", "Build endurance", "Half marathon", "Run 10k")
    )
    # Each goal sits inside its parent's branch (counted: a missing branch fails at once).
    assert page.locator(nested).count() == 1
    assert page.locator(f"{nested} a.goal-name").first.inner_text() == "Run 10k"
    # A branch folds on its line.
    half = page.locator(f"#goal-{server.goal_id('Half marathon')} > details")
    half.locator("> summary").click()
    page.wait_for_function(
        "id => !document.querySelector('#goal-' + id + ' > details').open",
        arg=server.goal_id("Half marathon"),
    )
    assert not page.locator(f"#goal-{server.goal_id('Run 10k')}").is_visible()
    half.locator("> summary").click()
    page.wait_for_selector(f"#goal-{server.goal_id('Run 10k')}", state="visible")
    return fractal_id


def log_session(page, server: Server) -> str:
    """An activity with a metric, then a session on one page: the activity added, a value typed
    in its row, the timer started; what was typed is saved and shown back with the running
    timer's elapsed time."""
    base = server.url
    page.goto(f"{base}/admin/goals/activitydefinition/add/")
    page.fill("#id_name", "Running")
    choose_autocomplete(page, "root", "Run a marathon")
    page.click("#metric_definitions-group .add-row a")
    page.fill("#id_metric_definitions-0-name", "Distance")
    page.fill("#id_metric_definitions-0-unit", "km")
    save(page)

    page.goto(f"{base}/admin/goals/practicesession/add/")
    page.fill("#id_name", "Tuesday run")
    choose_goal(page, "parent", ["Run a marathon", "Build endurance", "Half marathon", "Run 10k"])
    page.click("#activity_instances-group .add-row a")
    choose_autocomplete(page, "activity_instances-0-activity_definition", "Running")
    save(page, SAVE_AND_CONTINUE)
    session_id = server.goal_id("Tuesday run")

    distance = page.locator("#activity_instances-group input[aria-label='Distance (km)']")
    distance.fill("5.2")
    page.fill("#id_description", "Easy pace")
    page.click("#activity_instances-group button[name=_timer]:has-text('Start timer')")
    page.wait_for_selector(".messagelist .success:has-text('Started the timer')")
    # What was typed before the timer's button was saved with it.
    assert distance.input_value() == "5.2"
    assert page.locator("#id_description").input_value() == "Easy pace"
    assert server.query("SELECT value FROM metric_values") == [(5.2,)]
    # The running timer counts: its elapsed time changes on the page.
    elapsed = page.locator("#activity_instances-group .timer-elapsed")
    first = elapsed.inner_text()
    page.wait_for_function(
        "shown => document.querySelector('.timer-elapsed').textContent !== shown", arg=first
    )
    return session_id


def phone_check(browser, server: Server, session_id: str, snap) -> None:
    """At 390 px the session's activity table scrolls inside its box: the activity, its value
    input and its timer button can each be brought into view and used."""
    phone = new_page(browser, viewport={"width": PHONE_WIDTH, "height": 800})
    log_in(phone, server.url, "alice", "pw-alice")
    phone.goto(f"{server.url}/admin/goals/practicesession/{session_id}/change/")
    group = "#activity_instances-group"
    box = phone.locator(f"{group} fieldset.module")
    overflow = box.evaluate("el => getComputedStyle(el).overflowX")
    assert overflow in {"auto", "scroll"}, overflow
    # The page itself is no wider than the phone: the table scrolls in its box instead.
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"the page is {width} px wide at {PHONE_WIDTH} px"
    row = "#activity_instances-0"
    for selector in (
        f"{row} td.field-activity_definition .select2",
        f"{row} input[aria-label='Distance (km)']",
        f"{row} button[name=_timer]:has-text('Stop timer')",
        f"{row} .timer-elapsed",
    ):
        element = phone.locator(selector)
        element.scroll_into_view_if_needed()
        shown = element.bounding_box()
        assert shown is not None, selector
        assert shown["x"] >= 0, (selector, shown)
        assert shown["x"] + shown["width"] <= PHONE_WIDTH, (selector, shown)
    snap("phone", on=phone)
    phone.context.close()


def stop_timer(page, server: Server, session_id: str) -> None:
    """The value changed, then the timer stopped: both kept; the activity's duration is the
    session's total and its times the session's."""
    distance = page.locator("#activity_instances-group input[aria-label='Distance (km)']")
    distance.fill("5.4")
    page.click("#activity_instances-group button[name=_timer]:has-text('Stop timer')")
    page.wait_for_selector(".messagelist .success:has-text('Stopped the timer')")
    assert distance.input_value() == "5.4"
    assert server.query("SELECT value FROM metric_values") == [(5.4,)]
    [(start, stop, seconds)] = server.query(
        "SELECT time_start, time_stop, duration_seconds FROM activity_instances"
    )
    assert start is not None and stop is not None and seconds >= 1
    [(session_start, session_end, total)] = server.query(
        "SELECT session_start, session_end, total_duration_seconds FROM goals WHERE id = ?",
        session_id,
    )
    assert (session_start, session_end, total) == (start, stop, seconds)
    assert page.locator("#activity_instances-group button[name=_timer]").count() == 0


def delete_and_restore(page, server: Server, snap) -> None:
    """A goal deleted with its session is one entry in the bin; the entry's own Restore shows
    what it brings back and brings it back."""
    base = server.url
    short_id = server.goal_id("Run 10k")
    page.goto(f"{base}/admin/goals/goal/{short_id}/delete/")
    page.click("input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    assert server.query("SELECT COUNT(*) FROM goals WHERE deleted_at IS NOT NULL") == [(2,)]

    page.goto(f"{base}/admin/recycle-bin/")
    entry = page.locator("#deletions tr.deletion")
    assert entry.count() == 1
    assert "Run 10k" in entry.inner_text()
    assert "1 activity instance" in entry.inner_text()
    snap("recycle-bin")
    entry.locator("a.button:has-text('Restore')").click()
    page.wait_for_selector("h1:has-text('Restore Run 10k?')")
    preview = page.locator(".bin-preview").inner_text()
    assert "activity instance" in preview, preview
    page.click("input[value='Yes, restore']")
    page.wait_for_selector(".messagelist .success:has-text('Restored 1 goal.')")
    assert page.locator("#deletions tr.deletion").count() == 0
    assert server.query("SELECT COUNT(*) FROM goals WHERE deleted_at IS NOT NULL") == [(0,)]
    assert server.query("SELECT COUNT(*) FROM activity_instances WHERE deleted_at IS NOT NULL") == [
        (0,)
    ]


def read_analytics(page, server: Server, fractal_id: str) -> None:
    """Reached from the fractal list: the counts, and charts drawn with both axes."""
    page.goto(f"{server.url}/admin/goals/fractal/")
    page.click("a:has-text('Analytics')")
    page.wait_for_selector("h1:has-text('Analytics of Run a marathon')")
    assert page.locator("#analytics-summary td").first.inner_text() == "1"
    for chart in ("#sessions-per-week", "#metric-series"):
        svg = page.locator(f"{chart} .chart svg").first
        assert svg.locator("g.axis.x").count() == 1, chart
        assert svg.locator("g.axis.y").count() == 1, chart
        assert svg.bounding_box()["width"] > 0, chart
    page.click("#metric-series details.chart-values > summary")
    assert page.locator("#metric-series details.chart-values td.number").inner_text() == "5.4"
    assert page.locator("#goals-done").inner_text().count("of 1") >= 1


def second_user(browser, server: Server, fractal_id: str, session_id: str, snap) -> None:
    base = server.url
    other = new_page(browser)
    log_in(other, base, "bob", "pw-bob")
    other.goto(f"{base}/admin/goals/goal/")
    assert "Run a marathon" not in other.content()
    other.goto(f"{base}/admin/recycle-bin/")
    assert "Run 10k" not in other.content()
    for path in (
        f"/admin/goals/goal/{fractal_id}/change/",
        f"/admin/goals/fractal/{fractal_id}/tree/",
        f"/admin/goals/fractal/{fractal_id}/analytics/",
        f"/admin/goals/practicesession/{session_id}/change/",
    ):
        assert other.goto(base + path).status == 404, path
    snap("second-user", on=other)
