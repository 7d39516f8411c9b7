"""Make text safe to put into a Mattermost post: the chat-text rules of every post the bot makes.

``neutralise`` is for text people typed (reasons, notes, names), echoed in cards and replies.
``neutralise_alarm_text`` is for text another system wrote that the alarm posts quote (CloudWatch
reasons, alarm names and descriptions): it keeps Markdown and comparison signs readable
(``7.3 % > 5 % [3.0 (27/11/26 14:00:00)]`` stays as it is) and only takes away what would notify
or load anything: mass mentions, ``<!…>`` forms, images, auto-linked host names.

How ``neutralise`` does it: Mattermost finds mentions in Markdown text nodes (``@`` followed by name
characters). We put a zero-width space after every ``@`` (so ``@channel`` is no longer a word the
parser sees), break the Slack forms ``<!channel>`` and ``<@id>``, escape Markdown so no image, link,
code fence or heading can be built, break URL schemes and host names (``www.evil.example/x.png`` and
``evil.example/path`` are auto-linked and previewed too) so no link preview (an image load) happens,
and bound the length. Look-alikes are folded with NFKC first, so a full-width at sign is treated as
``@channel``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

ZWSP: Final = "\u200b"
MAX_POST_CHARS: Final = 16383
ELLIPSIS: Final = "…"

# Invisible characters people use to hide a mention from naive filters; removed before folding.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Markdown punctuation that can start a construct (CommonMark backslash-escapable set, minus
# characters that are harmless mid-text and would make reasons unreadable: . , - : ; ' ").
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+!|<>~=^$])")
_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,15}):(?=//)")
# A dot between host-name labels where the next label starts with a letter (every TLD does):
# a zero-width space after it leaves no host name to link, while "7.3" and "v1.2" stay as they are.
_HOST_DOT = re.compile(r"(?i)(?<=[a-z0-9-])\.(?=[a-z])")
_MASS_MENTION = re.compile(r"@(?=(?:channel|here|all)\b)", re.IGNORECASE)


def neutralise(text: str, limit: int = 500, *, single_line: bool = False) -> str:
    """User text → Markdown that renders as the same words and notifies nobody."""
    cleaned = _CONTROL.sub("", _INVISIBLE.sub("", unicodedata.normalize("NFKC", text)))
    cleaned = _INVISIBLE.sub("", cleaned)  # NFKC may expose new ones
    if single_line:
        cleaned = " ".join(cleaned.split())
    cleaned = truncate(cleaned, limit)
    escaped = _MARKDOWN.sub(r"\\\1", cleaned)
    escaped = _SCHEME.sub(lambda m: m.group(1) + ":" + ZWSP, escaped)
    escaped = _HOST_DOT.sub("." + ZWSP, escaped)
    return escaped.replace("@", "@" + ZWSP)


def neutralise_alarm_text(text: str, limit: int = 2000) -> str:
    """No mass mentions, no images loading, no links or previews, bounded length (for text we did not write)."""
    text = _MASS_MENTION.sub("@" + ZWSP, text).replace("<!", "<" + ZWSP + "!").replace("![", "!" + ZWSP + "[")
    text = _HOST_DOT.sub("." + ZWSP, text)
    return truncate(text, limit)


def username(name: str) -> str:
    """A Mattermost username shown without notifying its owner: ``@\u200balice``."""
    return "@" + ZWSP + neutralise(name, 64, single_line=True)


def truncate(text: str, limit: int) -> str:
    if limit < 1:
        raise ValueError("limit must be positive")
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def bound_post(message: str) -> str:
    """No post exceeds Mattermost's 16,383-character message limit."""
    return truncate(message, MAX_POST_CHARS)
