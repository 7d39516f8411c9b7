"""Values from unauthenticated requests, made safe to put in a log line.

A user id or post id is whatever the sender typed: a newline in it would forge a second log line,
and an escape sequence could rewrite the terminal of whoever reads the log.
"""

from __future__ import annotations

MAX_SHOWN = 128


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """Printable ASCII only (``\\n``, ``\\x1b``, non-ASCII become escapes), at most ``limit`` characters."""
    text = str(value)
    escaped = text[: limit + 1].encode("unicode_escape").decode("ascii")
    return escaped if len(escaped) <= limit and len(text) <= limit else escaped[:limit] + "..."
