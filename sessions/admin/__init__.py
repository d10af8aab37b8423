"""Admin pages of the goal tree, practice sessions and programs.

They are here rather than in goals.admin because goals cascade into session data; imports point
one way (sessions → goals).
"""

from sessions.admin import goals, practice, programs  # noqa: F401 - registers the ModelAdmins
