"""Admin pages of session data: practice sessions with their activities and metric values,
programs, and the analytics added to goals' fractal page."""

from sessions.admin import analytics, practice, programs  # noqa: F401 - registers the ModelAdmins
