"""JSON kept as text (the legacy columns `targets`, `attributes`, `session_data`,
`template_data`): parsed with one error for any text that is not JSON Python can read, however
deeply nested, and measured before it is shown."""

from __future__ import annotations

import json


def json_parse(text: str):
    """The value `text` holds; ValueError for text that is not JSON, and for JSON nested deeper
    than Python's parser goes (its RecursionError, at about a thousand levels)."""
    try:
        return json.loads(text)
    except RecursionError as error:
        raise ValueError("nested too deeply to read") from error


def json_depth(data) -> int:
    """How deeply lists and objects nest in `data` (0 for a scalar), counted without recursion."""
    deepest, stack = 0, [(data, 0)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return deepest
