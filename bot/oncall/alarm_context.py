"""The signed context of an alarm post's Acknowledge and Mute buttons.

``alarms.format`` builds the context (alarm name, action, state, episode, expiry, mute length) before
the post exists, so it cannot name the post; the click handler binds it instead by checking that
the clicked post is the root of that alarm's episode in the on-call channel.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.access.action_context import ContextRejected, same_text

AlarmAction = Literal["ack", "mute"]
_DOMAIN = "alarmctx1"
MAX_MUTE_SECONDS = 24 * 3600


class AlarmContext(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    alarm_name: str = Field(min_length=1, max_length=255)
    action: AlarmAction
    state: Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
    episode: str = Field(min_length=1, max_length=64)
    exp: int = Field(gt=0)
    mute_seconds: int | None = Field(default=None, gt=0, le=MAX_MUTE_SECONDS)
    sig: str = Field(default="", max_length=64)

    def unsigned(self) -> dict[str, Any]:
        return self.model_dump(exclude={"sig"}, exclude_none=True)


def is_alarm_context(raw: object) -> bool:
    """Alarm buttons carry ``alarm_name``; request cards carry ``request_id``."""
    return isinstance(raw, dict) and "alarm_name" in raw


class AlarmContextSigner:
    """HMAC-SHA256 with the bot's action key over the canonical JSON of the context."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the action key must be at least 32 bytes")
        self._key = key

    def sign(self, context: dict[str, Any]) -> str:
        unsigned = {k: v for k, v in context.items() if k != "sig"}
        canonical = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hmac.new(self._key, f"{_DOMAIN}|{canonical}".encode(), hashlib.sha256).hexdigest()

    def verify(self, raw: object, *, now: datetime) -> AlarmContext:
        """Signature (constant time) and expiry; the caller checks the post it came from."""
        try:
            ctx = AlarmContext.model_validate(raw)
        except ValidationError:
            raise ContextRejected("malformed_context") from None
        if not same_text(ctx.sig, self.sign(ctx.unsigned())):
            raise ContextRejected("bad_signature")
        if now.timestamp() > ctx.exp:
            raise ContextRejected("expired")
        return ctx
