"""JSON from clients, parsed only when it is nested no deeper than MAX_DEPTH.

Python's parser recurses once per level: a body of a thousand `[` raised RecursionError, a
500 from any JSON route and a 1011 from a websocket. Depth is counted first, in one pass over
the text outside strings, so a hostile body is refused with a clear message and nothing else
is done.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 64  # a run's config is 2 deep, a DNA 4


def depth(text: str) -> int:
    """The deepest nesting of objects and arrays in `text` (strings and escapes skipped)."""
    deepest = level = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            level += 1
            deepest = max(deepest, level)
        elif ch in "]}":
            level -= 1
    return deepest


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads, refusing NaN/Infinity and anything nested deeper than `max_depth`
    (ValueError with a message for people)."""
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    if depth(text) > max_depth:
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    return json.loads(text, parse_constant=_refuse_constant)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with the depth bound; a refusal is a 400 that says why."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            return loads(stream.read().decode(encoding))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {str(exc)[:200]}") from None
