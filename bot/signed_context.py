"""The one signing scheme for what the bot hands to Mattermost and reads back: button contexts,
the request form's state, alarm button contexts.

Mattermost signs nothing it echoes back (docs/architecture.md, "Buttons and clicks" and "Dialogs"),
so the bot MACs it: HMAC-SHA256 under its own ``action_key`` (never the backend key) over
``<purpose>|<message>``, as hex, compared in constant time. Each use has its own ``Purpose``, so a
MAC made for one use never checks as another under the same key. The bytes signed are the ones the
buttons on posts already in chat carry, so those keep working.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from enum import StrEnum

MIN_KEY_BYTES = 32


class Purpose(StrEnum):
    """The domain-separation prefix of each use. No two share the text before their first ``|``,
    so no ``<purpose>|<message>`` of one use equals one of another (tests/bot/test_signed_context.py)."""

    REQUEST_BUTTON = "mmctx1"  # approve, deny, extend, done (bot.access.action_context)
    DIALOG_STATE = "dlg1|dialog"  # the request form's state (bot.commands.dialog)
    ALARM_BUTTON = "alarmctx1"  # acknowledge, mute (bot.oncall.alarm_context)


class ContextRejected(Exception):
    """A click or a submission we must not act on; ``reason`` is safe to log and to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def told(self) -> str:
        """What the person who clicked is told."""
        return BUTTON_REFUSALS.get(self.reason, "This button cannot be used.")


BUTTON_REFUSALS = {
    "malformed_context": "This button is not one of ours.",
    "bad_signature": "This button is not one of ours.",
    "expired": "This button has expired.",
    "wrong_post": "This button does not belong to this message.",
}


def same_text(given: str, expected: str) -> bool:
    """Constant-time equality for any text: ``hmac.compare_digest`` refuses non-ASCII ``str``
    (TypeError), and a sender chooses what ``given`` holds."""
    return hmac.compare_digest(_utf8(given), _utf8(expected))


def _utf8(text: str) -> bytes:
    # surrogatepass: a lone surrogate from a JSON escape must compare (unequal), not raise.
    return text.encode("utf-8", "surrogatepass")


class ContextKey:
    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the action key must be at least {MIN_KEY_BYTES} bytes")
        self._key = key

    def mac(self, purpose: Purpose, message: str) -> str:
        return hmac.new(self._key, _utf8(f"{purpose.value}|{message}"), hashlib.sha256).hexdigest()

    def check(self, purpose: Purpose, message: str, mac: str) -> None:
        """Raise ``bad_signature`` unless ``mac`` is this key's MAC of ``message`` for ``purpose``."""
        if not same_text(mac, self.mac(purpose, message)):
            raise ContextRejected("bad_signature")


def check_expiry(exp: int, now: datetime) -> None:
    if now.timestamp() > exp:
        raise ContextRejected("expired")
