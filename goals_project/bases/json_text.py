"""JSON kept as text (the legacy columns `targets`, `attributes`, `session_data`,
`template_data`): parsed with one error for any text that is not JSON Python can read, however
deeply nested, and measured before it is shown."""

from __future__ import annotations

import json
import re

# What a string of the parsed value holds when the text had a `\uXXXX` escape of one half of a
# surrogate pair without the other (a whole pair is read as its character): no character, and
# no UTF-8 text can hold it.
SURROGATE = re.compile("[\ud800-\udfff]")


def json_parse(text: str, *, strict: bool = True):
    """The value `text` holds; ValueError, saying why, for text that is not JSON, and for JSON
    nested deeper than Python's parser goes (its RecursionError, at about a thousand levels).

    Strict (what a person types, and what pages show): also for what Python's parser takes but
    JSON is not, or cannot be shown: NaN and Infinity, a key repeated in one object (whose first
    value the parser drops), and a string holding half of a surrogate pair (`"\\ud800"`), which
    no page can encode. `strict=False` reads such legacy text as Python's parser does.
    """
    try:
        if not strict:
            return json.loads(text)
        data = json.loads(text, parse_constant=_not_a_number, object_pairs_hook=_one_value_a_key)
    except RecursionError as error:
        raise ValueError("nested too deeply to read") from error
    _refuse_surrogates(data)
    return data


def _not_a_number(word: str):
    raise ValueError(f"{word} is not a JSON number: write a number, or null")


def _one_value_a_key(pairs: list[tuple[str, object]]) -> dict:
    seen = set()
    for key, _value in pairs:
        _refuse_surrogates(key)  # before the key is written into a message
        if key in seen:
            raise ValueError(f"the key “{key}” appears more than once in one object")
        seen.add(key)
    return dict(pairs)


def _refuse_surrogates(data) -> None:
    """ValueError when a string in `data` (keys included) holds half of a surrogate pair;
    without recursion, as json_depth."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            half = SURROGATE.search(value)
            if half is not None:
                raise ValueError(
                    f"\\u{ord(half.group()):04x} is half of a surrogate pair, not a character: "
                    "write the character itself, or both halves of its pair"
                )


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
