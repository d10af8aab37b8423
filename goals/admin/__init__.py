"""The goal tree's admin pages (goals, fractals) and the definitions of what is practised."""

from goals.admin import definitions, goals  # noqa: F401 - registers the ModelAdmins
