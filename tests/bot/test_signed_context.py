"""One signing scheme for request buttons, the request form's state and alarm buttons: the bytes each
signs stay those that posts already in chat carry, and no use's MAC checks as another's."""

from __future__ import annotations

import hashlib
import hmac
from itertools import permutations

import pytest

from bot.access.action_context import ContextSigner
from bot.commands.dialog import DialogState, sign_state, verify_state
from bot.oncall.alarm_context import AlarmContextSigner
from bot.signed_context import ContextKey, ContextRejected, Purpose
from tests.bot.views import NOW

KEY = b"k" * 32
EXP = int(NOW.timestamp()) + 60


def hmac_hex(message: bytes) -> str:
    return hmac.new(KEY, message, hashlib.sha256).hexdigest()


def test_a_request_button_signs_what_it_always_signed() -> None:
    ctx = ContextSigner(KEY, 60).sign("rabc", "approve", "post1", "chan1", NOW)
    assert ctx["sig"] == hmac_hex(f"mmctx1|rabc|approve|post1|chan1|{EXP}".encode())


def test_the_form_state_signs_what_it_always_signed() -> None:
    signer = ContextSigner(KEY, 60)
    text = sign_state(signer, DialogState(user_id="ua", exp=EXP))
    body, _, mac = text.partition(".")
    assert mac == hmac_hex(f"dlg1|dialog|{body}".encode())


def test_an_alarm_button_signs_what_it_always_signed() -> None:
    context = {"alarm_name": "jit-x", "action": "ack", "state": "ALARM", "episode": "e1", "exp": EXP}
    canonical = f'{{"action":"ack","alarm_name":"jit-x","episode":"e1","exp":{EXP},"state":"ALARM"}}'
    assert AlarmContextSigner(KEY).sign(context) == hmac_hex(f"alarmctx1|{canonical}".encode())


def test_purposes_differ_before_their_first_separator() -> None:
    firsts = [purpose.value.split("|", 1)[0] for purpose in Purpose]
    assert len(set(firsts)) == len(firsts)


@pytest.mark.parametrize(("made_for", "checked_as"), list(permutations(Purpose, 2)))
@pytest.mark.parametrize("message", ["", "rabc|approve|post1|chan1|1", "dialog|eyJ9", "x"])
def test_a_mac_for_one_purpose_never_checks_as_another(made_for: Purpose, checked_as: Purpose, message: str) -> None:
    key = ContextKey(KEY)
    with pytest.raises(ContextRejected, match="bad_signature"):
        key.check(checked_as, message, key.mac(made_for, message))


def test_a_request_button_does_not_open_as_an_alarm_button_or_a_form_state() -> None:
    button = ContextSigner(KEY, 60).sign("rabc", "approve", "post1", "chan1", NOW)
    as_alarm = {"alarm_name": "rabc", "action": "ack", "state": "ALARM", "episode": "e1", "exp": EXP}
    with pytest.raises(ContextRejected, match="bad_signature"):
        AlarmContextSigner(KEY).verify(as_alarm | {"sig": button["sig"]}, now=NOW)
    state_body = "|".join(("rabc", "approve", "post1", "chan1", str(button["exp"])))
    with pytest.raises(ContextRejected, match="bad_signature"):
        verify_state(ContextSigner(KEY, 60), f"{state_body}.{button['sig']}", user_id="ua", now=NOW)


def test_an_alarm_button_does_not_open_as_a_request_button() -> None:
    alarm = {"alarm_name": "jit-x", "action": "ack", "state": "ALARM", "episode": "e1", "exp": EXP}
    sig = AlarmContextSigner(KEY).sign(alarm)
    forged = {"request_id": "rabc", "action": "approve", "post_id": "post1", "channel_id": "chan1", "exp": EXP}
    with pytest.raises(ContextRejected, match="bad_signature"):
        ContextSigner(KEY, 60).verify(forged | {"sig": sig}, post_id="post1", channel_id="chan1", now=NOW)


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        ContextKey(b"k" * 31)
