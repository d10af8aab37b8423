"""Headless Chromium from Debian's package, driven by Playwright, against a local server."""

from __future__ import annotations

import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Browser, Page, Response, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# Without these, Chromium keeps calling out to Google's hosts, which a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# How long a step may take before the server or the browser counts as hung. It bounds a hang; it
# is not a wait: every step waits for the event it needs (a response, an element) and goes on as
# soon as that happens, however loaded the machine is.
HUNG_MS = 180_000
LISTENING = re.compile(r"Starting development server at (http://\S+?)/?$")


@contextmanager
def dev_server(manage: list[str], *, env: Mapping[str, str], cwd: Path) -> Iterator[str]:
    """Django's development server on a port the system picks, yielding its URL once it listens.

    runserver prints its address only after binding its socket, so reading that line is the
    wait. --insecure serves the admin's CSS and JS with debug off, as scripts/demo does.
    """
    process = subprocess.Popen(  # noqa: S603 - our own manage.py
        [*manage, "runserver", "127.0.0.1:0", "--noreload", "--insecure"],
        env={**env, "PYTHONUNBUFFERED": "1"},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        for line in process.stdout:
            if found := LISTENING.search(line.strip()):
                yield found.group(1)
                return
        raise RuntimeError(f"runserver stopped before listening (exit {process.wait()})")
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_for_server(url: str, timeout: float = 30) -> None:
    """Poll `url` until it answers (for scripts/screenshots, whose server the shell started)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback http only
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@contextmanager
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(
            f"{CHROMIUM} not found: install Debian's chromium package (scripts/test does)."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=HUNG_MS
        )
        try:
            yield browser
        finally:
            browser.close()


def log_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def new_page(browser: Browser, **options) -> Page:
    """A page whose waits give up only when the server or the browser hangs (HUNG_MS)."""
    page = browser.new_page(**options)
    page.set_default_timeout(HUNG_MS)
    page.set_default_navigation_timeout(HUNG_MS)
    return page


def choose_autocomplete(page: Page, field: str, option: str, search: str | None = None) -> None:
    """Pick `option` in the admin's select2 autocomplete for `field` (e.g. "parent"), typing
    `search` (default: the option itself), which the admin's search must match.

    Waits for what the choice needs, in order: the answer to the autocomplete request for what
    was typed, then the option in that answer. Options of an earlier answer (select2 asks once
    for everything when it opens) are never taken for it.
    """
    term = option if search is None else search
    page.click(f"[aria-labelledby='select2-id_{field}-container']")
    with page.expect_response(lambda response: _autocomplete_answer(response, term)) as answer:
        page.fill(".select2-container--open .select2-search__field", term)
    assert answer.value.ok, f"autocomplete for {term!r} answered {answer.value.status}"
    labels = [result["text"] for result in answer.value.json()["results"]]
    assert option in labels, f"autocomplete for {term!r} offered {labels}, not {option!r}"
    # Click the option itself: Enter would take whichever option a stale result list highlights.
    page.click(f".select2-container--open .select2-results__option:text-is('{option}')")


def _autocomplete_answer(response: Response, term: str) -> bool:
    url = urlsplit(response.url)
    return url.path.endswith("/autocomplete/") and parse_qs(url.query).get("term") == [term]
