"""Strict JSON for signed bodies: duplicate keys and deep nesting are refused, not guessed."""

from __future__ import annotations

import json
from typing import Any

from backend.domain.errors import InvalidRequest

MAX_DEPTH = 8  # the policy document is the deepest body: body → policy → rules → rule → principals → list


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise InvalidRequest(f"the JSON body repeats the key '{key}'")
        seen[key] = value
    return seen


def _nesting_depth(text: str) -> int:
    """The deepest ``[``/``{`` nesting in JSON text, brackets inside strings not counted. A linear
    scan before decoding: the decoder recurses per level and fails with RecursionError (a 500)
    long before it could report the depth."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def _depth(value: Any, level: int = 1) -> int:
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


def parse_strict(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest("the body is not valid UTF-8") from exc
    if not text.strip():
        raise InvalidRequest("a JSON object body is required")
    if _nesting_depth(text) > MAX_DEPTH:
        raise InvalidRequest(f"the JSON body is nested deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc.msg} at position {exc.pos}") from exc
    if not isinstance(value, dict):
        raise InvalidRequest("the body must be a JSON object")
    if _depth(value) > MAX_DEPTH:
        raise InvalidRequest(f"the JSON body is nested deeper than {MAX_DEPTH} levels")
    return value
