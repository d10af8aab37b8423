"""The goals app's admin pages; the goal tree and sessions are in sessions.admin."""

from goals.admin import definitions  # noqa: F401 - registers the ModelAdmins
