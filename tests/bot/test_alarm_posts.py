"""The bot's pure alarm pieces: button contexts, idempotency keys, acknowledge and mute edits."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alarms.catalogue import CATALOGUE_BY_NAME
from alarms.cloudwatch import parse_alarm_message
from alarms.format import AlarmPostSettings, format_alarm_post, root_info
from bot.oncall import alarm_posts
from bot.oncall.alarm_context import AlarmContextSigner, is_alarm_context
from bot.settings import BotSettings
from bot.signed_context import ContextRejected
from tests.alarms.conftest import fixture_text

KEY = secrets.token_bytes(32)
ALARM = parse_alarm_message(fixture_text("jit-lambdaerrorrate.alarm.message.json"))
OK = parse_alarm_message(fixture_text("jit-lambdaerrorrate.ok.message.json"))
AT = datetime(2026, 11, 27, 14, 7, tzinfo=UTC)
BOT = "bot-user-id"


def posted_root(signer: AlarmContextSigner) -> dict[str, Any]:
    settings = AlarmPostSettings(
        runbook_url="https://docs.example.com/01-monitoring-alarms.md",
        oncall_group_mention="@oncall",
        action_url="https://bot.example.com/mattermost/actions",
        sign_context=signer.sign,
    )
    post = format_alarm_post(ALARM, CATALOGUE_BY_NAME[ALARM.alarm_name], None, (), settings)
    return post | {"id": "root1", "root_id": "", "channel_id": "oncall1", "user_id": BOT}


def contexts(post: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["integration"]["context"] for a in post["props"]["attachments"][0].get("actions", [])]


def test_contexts_signed_by_the_formatter_verify() -> None:
    signer = AlarmContextSigner(KEY)
    ack, mute = contexts(posted_root(signer))
    assert is_alarm_context(ack)
    assert not is_alarm_context({"request_id": "r1"})
    assert signer.verify(ack, now=AT).action == "ack"
    assert signer.verify(mute, now=AT).mute_seconds == 3600


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"mute_seconds": 7200}, "bad_signature"),
        ({"episode": "2026-11-27T00:00:00+00:00"}, "bad_signature"),
        ({"sig": "f" * 64}, "bad_signature"),
        ({"action": "delete"}, "malformed_context"),
        ({"extra": 1}, "malformed_context"),
    ],
)
def test_altered_contexts_are_refused(change: dict[str, Any], reason: str) -> None:
    signer = AlarmContextSigner(KEY)
    _ack, mute = contexts(posted_root(signer))
    with pytest.raises(ContextRejected) as caught:
        signer.verify(mute | change, now=AT)
    assert caught.value.reason == reason


def test_another_key_and_expiry_are_refused() -> None:
    ack = contexts(posted_root(AlarmContextSigner(KEY)))[0]
    with pytest.raises(ContextRejected, match="bad_signature"):
        AlarmContextSigner(secrets.token_bytes(32)).verify(ack, now=AT)
    with pytest.raises(ContextRejected, match="expired"):
        AlarmContextSigner(KEY).verify(ack, now=AT + timedelta(days=2))


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        AlarmContextSigner(b"short")


def test_root_matches_only_its_own_episode() -> None:
    signer = AlarmContextSigner(KEY)
    root = posted_root(signer)
    ctx = signer.verify(contexts(root)[0], now=AT)
    assert alarm_posts.root_matches(root, ctx, author=BOT)
    assert not alarm_posts.root_matches(root | {"root_id": "other"}, ctx, author=BOT)
    assert not alarm_posts.root_matches(root | {"user_id": "mallory"}, ctx, author=BOT)  # a copy by a member
    other_episode = ctx.model_copy(update={"episode": "2026-01-01T00:00:00+00:00"})
    assert not alarm_posts.root_matches(root, other_episode, author=BOT)
    other_alarm = ctx.model_copy(update={"alarm_name": "JIT-ReconcilerErrors"})
    assert not alarm_posts.root_matches(root, other_alarm, author=BOT)


def test_change_key_finds_redelivered_and_replayed_changes() -> None:
    tagged = alarm_posts.tag({"message": "m", "user_id": BOT, "props": {"a": 1}}, ALARM, "msg-1")
    assert tagged["props"]["a"] == 1
    assert alarm_posts.already_posted([tagged], ALARM, "msg-2", author=BOT)  # same change, new MessageId
    assert alarm_posts.already_posted([tagged], OK, "msg-1", author=BOT)  # same MessageId
    assert not alarm_posts.already_posted([tagged], OK, "msg-2", author=BOT)
    # The same props on a channel member's post prove nothing.
    assert not alarm_posts.already_posted([tagged | {"user_id": "mallory"}], ALARM, "msg-1", author=BOT)
    assert alarm_posts.change_key(ALARM) != alarm_posts.change_key(OK)


def test_acknowledge_edit_keeps_a_working_mute_button_only() -> None:
    signer = AlarmContextSigner(KEY)
    root = posted_root(signer)
    ctx = signer.verify(contexts(root)[0], now=AT)
    message, props = alarm_posts.acknowledged(root, ctx, "dave", AT, "https://bot/actions", signer.sign)
    assert message.endswith("Acknowledged by @\u200bdave at 14:07 UTC")
    assert props[alarm_posts.PROP_ACKED_BY] == "dave"
    [mute] = contexts({"props": props})
    assert signer.verify(mute, now=AT).action == "mute"
    assert root_info({"id": "root1", "user_id": BOT, "props": props}, author=BOT) is not None  # still open


def test_mute_records_until_and_then_no_buttons_are_left_after_ack() -> None:
    signer = AlarmContextSigner(KEY)
    root = posted_root(signer)
    ack_ctx, mute_ctx = (signer.verify(c, now=AT) for c in contexts(root))
    message, props, until = alarm_posts.muted(root, mute_ctx, "bob", AT, "https://bot/actions", signer.sign)
    assert until == AT + timedelta(hours=1)
    assert "Muted by @\u200bbob until 15:07 UTC" in message
    muted_root = root | {"props": props}
    assert alarm_posts.muted_until(muted_root) == until
    assert alarm_posts.is_muted(muted_root, AT + timedelta(minutes=59))
    assert not alarm_posts.is_muted(muted_root, until)
    assert [c["action"] for c in contexts(muted_root)] == ["ack"]
    _msg, after_ack = alarm_posts.acknowledged(muted_root, ack_ctx, "dave", AT, "https://bot/actions", signer.sign)
    assert "actions" not in after_ack["attachments"][0]


def test_muted_reply_stays_in_the_thread_without_mentions() -> None:
    root = root_info(posted_root(AlarmContextSigner(KEY)), author=BOT)
    assert root is not None
    reply = alarm_posts.muted_reply(ALARM, CATALOGUE_BY_NAME[ALARM.alarm_name], root, AT)
    assert reply["root_id"] == "root1"
    assert reply["message"].startswith(":mute:")
    assert "7.3 % > 5 %" in reply["message"]
    assert "@" not in reply["message"]


def test_garbage_mute_props_mean_not_muted() -> None:
    assert alarm_posts.muted_until({"props": {alarm_posts.PROP_MUTED_UNTIL: "soon"}}) is None
    assert not alarm_posts.is_muted({"props": {}}, AT)


def test_alarm_settings_validate() -> None:
    base: dict[str, Any] = {
        "mattermost_url": "http://127.0.0.1:8065",
        "mattermost_token": "t",
        "team_name": "jit",
        "public_url": "http://127.0.0.1:8090",
        "backend_url": "http://127.0.0.1:9",
        "backend_key_id": "bot-1",
        "backend_key_secret": "a" * 43,
        "backend_audience": "jit",
        "action_key": "a" * 43,
    }
    settings = BotSettings.model_validate(base | {"runbook_docs_url": "https://docs.example.com/runbooks/"})
    assert settings.runbook_docs_url == "https://docs.example.com/runbooks"
    assert (settings.oncall_channel, settings.oncall_group_mention) == ("oncall", "@oncall")
    with pytest.raises(ValueError, match="http"):
        BotSettings.model_validate(base | {"runbook_docs_url": "ftp://x"})
    with pytest.raises(ValueError, match="oncall_group_mention"):
        BotSettings.model_validate(base | {"oncall_group_mention": "@channel now"})
