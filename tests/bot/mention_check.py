"""A strict stand-in for Mattermost's channel-wide mention detection (docs/architecture.md, "Message limits and mentions").

Stricter than the server: code spans are not exempted, so a hit here may be harmless, but a
miss here is certainly no notification.
"""

from __future__ import annotations

import re
from typing import Any

# The server's word split keeps letters, digits and :._-@ together; "@channel" must stand alone.
_CHANNEL_WIDE = re.compile(r"(?<![\w:.\-@])@(channel|here|all)(?![\w\-@])", re.IGNORECASE)
_SLACK = re.compile(r"<!(channel|here|all)(\|[^>]*)?>", re.IGNORECASE)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")


def channel_wide_mentions(text: str) -> list[str]:
    return [m.group(0) for m in _CHANNEL_WIDE.finditer(text)] + [m.group(0) for m in _SLACK.finditer(text)]


def markdown_images(text: str) -> list[str]:
    return _IMAGE.findall(text)


def scanned_texts(post: dict[str, Any]) -> list[str]:
    """Every field of a post the server scans for mentions: message, attachment pretext/text/fields."""
    texts = [str(post.get("message", ""))]
    for attachment in (post.get("props") or {}).get("attachments") or []:
        texts += [str(attachment.get("pretext", "")), str(attachment.get("text", ""))]
        texts += [str(f.get("value", "")) for f in attachment.get("fields") or []]
    return texts
