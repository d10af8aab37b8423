"""How session data reads on admin pages: durations in hours and minutes (JSON as lists:
goals_project.bases.display)."""

from __future__ import annotations


def duration_label(seconds: int | None) -> str:
    """`1 h 05 min`, `12 min 30 s`, `45 s`; "-" for no duration."""
    if seconds is None:
        return "-"
    hours, rest = divmod(int(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {seconds:02d} s" if seconds else f"{minutes} min"
    return f"{seconds} s"
