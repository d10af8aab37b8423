"""Settings for development, the demo, the tests and the benchmarks: production's, plus the
development-data app (the legacy-database generator and `make_legacy_db`)."""

from goals_project.settings import *  # noqa: F403
from goals_project.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "goals_project.devdata.apps.DevDataConfig"]
