"""JSON text columns as a person reads them on admin pages (goals' targets and attributes,
sessions' data): nested lists of names and values."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from goals_project.bases.json_text import json_depth, json_parse

# Nested deeper than this, JSON is shown as its text: lists inside lists past it read no better,
# and each level of the HTML takes several Python frames (at 200 levels the page failed).
MOST_NESTED = 20


def json_as_html(text: str | None) -> SafeString | str:
    """JSON text as nested lists a person reads ("energy: 4"); text that is not JSON, or nests
    deeper than MOST_NESTED, as it is."""
    if not text:
        return "-"
    try:
        data = json_parse(text)
    except ValueError:
        return text
    if json_depth(data) > MOST_NESTED:
        return text
    return _as_html(data)


def _as_html(data) -> SafeString | str:
    if isinstance(data, dict):
        if not data:
            return "-"
        return format_html(
            '<ul class="json-data">{}</ul>',
            format_html_join(
                "", "<li><strong>{}</strong>: {}</li>", ((k, _as_html(v)) for k, v in data.items())
            ),
        )
    if isinstance(data, list):
        if not data:
            return "-"
        return format_html(
            '<ul class="json-data">{}</ul>',
            format_html_join("", "<li>{}</li>", ((_as_html(item),) for item in data)),
        )
    if isinstance(data, bool):
        return "yes" if data else "no"
    if data is None:
        return "-"
    return str(data)
