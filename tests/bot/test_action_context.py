from __future__ import annotations

from datetime import timedelta

import pytest

from bot.access.action_context import ContextSigner
from bot.commands.dialog import DialogState, sign_state, verify_state
from bot.signed_context import ContextRejected
from tests.bot.views import NOW

KEY = b"k" * 32


def signed(signer: ContextSigner) -> dict[str, object]:
    return signer.sign("rabc", "approve", "post1", "chan1", NOW)


def test_round_trip() -> None:
    signer = ContextSigner(KEY, 3600)
    ctx = signer.verify(signed(signer), post_id="post1", channel_id="chan1", now=NOW)
    assert (ctx.request_id, ctx.action, ctx.post_id, ctx.channel_id) == ("rabc", "approve", "post1", "chan1")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"action": "deny"}, "bad_signature"),
        ({"request_id": "rother"}, "bad_signature"),
        ({"exp": 9_999_999_999}, "bad_signature"),
        ({"post_id": "post2"}, "bad_signature"),
        ({"sig": "0" * 64}, "bad_signature"),
        ({"sig": ""}, "bad_signature"),
        ({"action": "root"}, "malformed_context"),
        ({"extra": 1}, "malformed_context"),
    ],
)
def test_tampering_is_refused(change: dict[str, object], reason: str) -> None:
    signer = ContextSigner(KEY, 3600)
    with pytest.raises(ContextRejected) as raised:
        signer.verify(signed(signer) | change, post_id="post1", channel_id="chan1", now=NOW)
    assert raised.value.reason == reason


def test_another_key_is_refused() -> None:
    with pytest.raises(ContextRejected, match="bad_signature"):
        ContextSigner(b"o" * 32, 60).verify(
            signed(ContextSigner(KEY, 60)), post_id="post1", channel_id="chan1", now=NOW
        )


def test_expiry_and_wrong_post() -> None:
    signer = ContextSigner(KEY, 60)
    with pytest.raises(ContextRejected, match="expired"):
        signer.verify(signed(signer), post_id="post1", channel_id="chan1", now=NOW + timedelta(seconds=61))
    with pytest.raises(ContextRejected, match="wrong_post"):
        signer.verify(signed(signer), post_id="post2", channel_id="chan1", now=NOW)
    with pytest.raises(ContextRejected, match="wrong_post"):
        signer.verify(signed(signer), post_id="post1", channel_id="chan2", now=NOW)


def test_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        ContextSigner(b"short", 60)


def test_dialog_state() -> None:
    signer = ContextSigner(KEY, 60)
    state = DialogState(user_id="ua", response_url="http://mm/hooks/x", exp=int(NOW.timestamp()) + 60)
    text = sign_state(signer, state)
    assert verify_state(signer, text, user_id="ua", now=NOW) == state
    with pytest.raises(ContextRejected, match="wrong_user"):
        verify_state(signer, text, user_id="ub", now=NOW)
    with pytest.raises(ContextRejected, match="expired"):
        verify_state(signer, text, user_id="ua", now=NOW + timedelta(minutes=2))
    body, _, mac = text.partition(".")
    with pytest.raises(ContextRejected, match="bad_signature"):
        verify_state(signer, body + "x." + mac, user_id="ua", now=NOW)
