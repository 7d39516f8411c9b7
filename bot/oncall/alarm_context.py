"""The signed context of an alarm post's Acknowledge and Mute buttons.

``alarms.format`` builds the context (alarm name, action, state, episode, expiry, mute length) before
the post exists, so it cannot name the post; the click handler binds it instead by checking that
the clicked post is the root of that alarm's episode in the on-call channel.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.signed_context import ContextKey, ContextRejected, Purpose, check_expiry

AlarmAction = Literal["ack", "mute"]
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
    """``bot.signed_context`` over the canonical JSON of the context (``Purpose.ALARM_BUTTON``)."""

    def __init__(self, key: bytes) -> None:
        self._key = ContextKey(key)

    def sign(self, context: dict[str, Any]) -> str:
        return self._key.mac(Purpose.ALARM_BUTTON, _canonical(context))

    def verify(self, raw: object, *, now: datetime) -> AlarmContext:
        """Signature (constant time) and expiry; the caller checks the post it came from."""
        try:
            ctx = AlarmContext.model_validate(raw)
        except ValidationError:
            raise ContextRejected("malformed_context") from None
        self._key.check(Purpose.ALARM_BUTTON, _canonical(ctx.unsigned()), ctx.sig)
        check_expiry(ctx.exp, now)
        return ctx


def _canonical(context: dict[str, Any]) -> str:
    unsigned = {k: v for k, v in context.items() if k != "sig"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
