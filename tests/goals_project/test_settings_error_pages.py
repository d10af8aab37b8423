"""Debug is off unless asked for, and no error page shows the server's environment or settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
# The development server copies the process environment into each request's META; the test
# client takes extra keys the same way.
ENVIRONMENT = {"FRACTAL_PROBE_TOKEN": "value-from-the-server-environment"}
SETTINGS_SHOWN = ("INSTALLED_APPS", "DATABASES", "SECRET_KEY", "SETTINGS_MODULE")


def _debug_setting(**environment: str) -> str:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_DEBUG"}
    result = subprocess.run(
        [sys.executable, "-c", "import goals_project.settings as s; print(s.DEBUG)"],
        env={**env, **environment},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_debug_is_off_unless_asked_for():
    """Without DJANGO_DEBUG the settings have DEBUG off; DJANGO_DEBUG=1 turns it on."""
    assert _debug_setting() == "False"
    assert _debug_setting(DJANGO_DEBUG="1") == "True"


def _assert_nothing_of_the_server(body: str) -> None:
    assert ENVIRONMENT["FRACTAL_PROBE_TOKEN"] not in body
    for name in SETTINGS_SHOWN:
        assert name not in body, name


@pytest.mark.parametrize("debug", [False, True], ids=["debug off", "debug on"])
def test_a_foreign_host_gets_a_400_without_environment_or_settings(debug, settings):
    """An unauthenticated request with a Host header the server does not serve gets a 400 that
    shows neither the environment nor the settings, with debug off or on."""
    settings.DEBUG = debug
    response = Client().get("/admin/", HTTP_HOST="attacker.example", **ENVIRONMENT)
    assert response.status_code == 400
    _assert_nothing_of_the_server(response.content.decode())


@pytest.mark.urls("tests.goals_project.failing_urls")
@pytest.mark.parametrize("debug", [False, True], ids=["debug off", "debug on"])
def test_a_server_error_shows_no_settings(debug, settings):
    """A view that fails answers 500 without the environment or the settings; with debug on the
    page still shows the error itself."""
    settings.DEBUG = debug
    response = Client(raise_request_exception=False).get("/fail/", **ENVIRONMENT)
    assert response.status_code == 500
    body = response.content.decode()
    _assert_nothing_of_the_server(body)
    assert ("a bug in a view" in body) is debug
