"""HMAC-signed button context (Mattermost signs nothing on clicks: docs/architecture.md, "Buttons and clicks").

The context binds the request, the action, the post and channel holding the button and an
expiry; the key is the bot's own ``action_key``, never the backend key.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jitwire.b64url import b64url_decode_lenient, b64url_encode

Action = Literal["approve", "deny", "extend", "done"]
_DOMAIN = "mmctx1"


class ActionContext(BaseModel):
    """What a button carries back to us; ``sig`` covers every other field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    action: Action
    post_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")
    channel_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")
    exp: int = Field(gt=0)
    sig: str = Field(default="", max_length=64)


def same_text(given: str, expected: str) -> bool:
    """Constant-time equality for any text: ``hmac.compare_digest`` refuses non-ASCII ``str``
    (TypeError), and a sender chooses what ``given`` holds."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


class ContextRejected(Exception):
    """A click we must not act on; ``reason`` is safe to log and to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ContextSigner:
    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        if len(key) < 32:
            raise ValueError("the action key must be at least 32 bytes")
        self._key = key
        self._ttl = ttl_seconds

    def mac_text(self, text: str) -> str:
        return hmac.new(self._key, ("dlg1|" + text).encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def _mac(self, ctx: ActionContext) -> str:
        message = "|".join((_DOMAIN, ctx.request_id, ctx.action, ctx.post_id, ctx.channel_id, str(ctx.exp)))
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def sign(self, request_id: str, action: Action, post_id: str, channel_id: str, now: datetime) -> dict[str, Any]:
        unsigned = ActionContext(
            request_id=request_id,
            action=action,
            post_id=post_id,
            channel_id=channel_id,
            exp=int(now.timestamp()) + self._ttl,
        )
        return unsigned.model_copy(update={"sig": self._mac(unsigned)}).model_dump()

    def verify(self, raw: object, *, post_id: str, channel_id: str, now: datetime) -> ActionContext:
        """Signature (constant time), expiry, and that the click came from the post it was made for."""
        try:
            ctx = ActionContext.model_validate(raw)
        except ValidationError:
            raise ContextRejected("malformed_context") from None
        if not same_text(ctx.sig, self._mac(ctx)):
            raise ContextRejected("bad_signature")
        if now.timestamp() > ctx.exp:
            raise ContextRejected("expired")
        if not (same_text(ctx.post_id, post_id) and same_text(ctx.channel_id, channel_id)):
            raise ContextRejected("wrong_post")
        return ctx


class DialogState(BaseModel):
    """The dialog's ``state``: who it was opened for and where to answer (Mattermost echoes it back)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str = Field(min_length=1, max_length=64)
    response_url: str = Field(default="", max_length=1024)
    channel_id: str = Field(default="", max_length=64)
    exp: int = Field(gt=0)


def sign_state(signer: ContextSigner, state: DialogState) -> str:
    body = b64url_encode(state.model_dump_json().encode())
    return body + "." + signer.mac_text("dialog|" + body)


def verify_state(signer: ContextSigner, text: str, *, user_id: str, now: datetime) -> DialogState:
    body, _, mac = text.partition(".")
    if not same_text(mac, signer.mac_text("dialog|" + body)):
        raise ContextRejected("bad_signature")
    try:
        state = DialogState.model_validate_json(b64url_decode_lenient(body))
    except (ValidationError, ValueError):
        raise ContextRejected("malformed_context") from None
    if now.timestamp() > state.exp:
        raise ContextRejected("expired")
    if not same_text(state.user_id, user_id):
        raise ContextRejected("wrong_user")
    return state
