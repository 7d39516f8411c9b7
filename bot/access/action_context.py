"""The signed context of a request's buttons (Mattermost signs nothing on clicks: docs/architecture.md,
"Buttons and clicks").

The context binds the request, the action, the post and channel holding the button and an
expiry; ``bot.signed_context`` signs it under the bot's own ``action_key``, never the backend key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.signed_context import ContextKey, ContextRejected, Purpose, check_expiry, same_text

Action = Literal["approve", "deny", "extend", "done"]


class ActionContext(BaseModel):
    """What a button carries back to us; ``sig`` covers every other field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    action: Action
    post_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")
    channel_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")
    exp: int = Field(gt=0)
    sig: str = Field(default="", max_length=64)

    def signed_text(self) -> str:
        return "|".join((self.request_id, self.action, self.post_id, self.channel_id, str(self.exp)))


class ContextSigner:
    """Signs and checks request button contexts; ``key`` also signs the request form's state."""

    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        self.key = ContextKey(key)
        self._ttl = ttl_seconds

    def sign(self, request_id: str, action: Action, post_id: str, channel_id: str, now: datetime) -> dict[str, Any]:
        unsigned = ActionContext(
            request_id=request_id,
            action=action,
            post_id=post_id,
            channel_id=channel_id,
            exp=int(now.timestamp()) + self._ttl,
        )
        sig = self.key.mac(Purpose.REQUEST_BUTTON, unsigned.signed_text())
        return unsigned.model_copy(update={"sig": sig}).model_dump()

    def verify(self, raw: object, *, post_id: str, channel_id: str, now: datetime) -> ActionContext:
        """Signature (constant time), expiry, and that the click came from the post it was made for."""
        try:
            ctx = ActionContext.model_validate(raw)
        except ValidationError:
            raise ContextRejected("malformed_context") from None
        self.key.check(Purpose.REQUEST_BUTTON, ctx.signed_text(), ctx.sig)
        check_expiry(ctx.exp, now)
        if not (same_text(ctx.post_id, post_id) and same_text(ctx.channel_id, channel_id)):
            raise ContextRejected("wrong_post")
        return ctx
