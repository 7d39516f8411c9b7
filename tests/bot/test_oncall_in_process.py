"""On-call handlers in process, with a fake Mattermost at the bot's chat port (bot/ports.py): CloudWatch
alarms from SNS become one root post per episode, OK replies in its thread and closes it, and the
root's Acknowledge button edits it. Notifications are the CloudWatch fixtures tests/alarms parses."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from alarms.format import PROP_NAME, PROP_ROLE, PROP_STATUS
from alarms.sns import SnsMessage
from bot.mattermost.payloads import ActionClick
from bot.oncall import alarm_posts
from tests.alarms.conftest import ALARM_TOPIC, CERT_URL, fixture_text
from tests.bot.in_process import BOB, ONCALL, RUNBOOK, Bot

ALARM = "JIT-LambdaErrorRate"


def notification(fixture: str, message_id: str) -> SnsMessage:
    return SnsMessage.model_validate(
        {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": ALARM_TOPIC,
            "Message": fixture_text(fixture),
            "Timestamp": "2026-11-27T14:05:41.000Z",
            "SignatureVersion": "2",
            "Signature": "checked by alarms.sns before the intake sees it",
            "SigningCertURL": CERT_URL,
        }
    )


FIRING = notification("jit-lambdaerrorrate.alarm.message.json", "m-alarm")
RESOLVED = notification("jit-lambdaerrorrate.ok.message.json", "m-ok")


def everything(post: dict[str, Any]) -> str:
    return json.dumps(post, ensure_ascii=False)


def test_an_alarm_is_a_root_post_in_on_call_with_the_runbook_excerpt_and_ok_closes_its_thread() -> None:
    bot = Bot()
    intake = bot.alarm_intake()
    outcome = asyncio.run(intake.handle(FIRING))
    assert (outcome.handled, outcome.status_code, outcome.detail) == (True, 200, "new root")
    (root,) = bot.chat.created
    assert (root["channel_id"], root["root_id"]) == (ONCALL, "")
    assert (root["props"][PROP_ROLE], root["props"][PROP_NAME], root["props"][PROP_STATUS]) == ("root", ALARM, "open")
    section = RUNBOOK.sections[ALARM]
    assert section.what_triggered in everything(root)
    assert section.impact in everything(root)
    assert RUNBOOK.url + "#jit-lambdaerrorrate" in everything(root)
    assert "@platform-oncall" in root["message"]
    assert [a["id"] for a in root["props"]["attachments"][0]["actions"]] == ["ack", "mute"]

    outcome = asyncio.run(intake.handle(RESOLVED))
    assert (outcome.status_code, outcome.detail) == (200, "resolved")
    _, reply = bot.chat.created
    assert (reply["channel_id"], reply["root_id"], reply["props"][PROP_ROLE]) == (ONCALL, root["id"], "reply")
    assert "OK" in reply["message"]
    ((patched_id, _, props),) = bot.chat.patches
    assert (patched_id, props[PROP_STATUS]) == (root["id"], "resolved")
    assert "actions" not in props["attachments"][0]  # a resolved alarm has nothing left to press


def test_a_redelivered_or_repeated_notification_posts_nothing_new() -> None:
    bot = Bot()
    asyncio.run(bot.alarm_intake().handle(FIRING))
    again = asyncio.run(bot.alarm_intake().handle(FIRING))  # a second replica, or after a restart
    assert (again.status_code, again.detail) == (200, "nothing to post")  # the episode's root shows it
    redelivered = FIRING.model_copy(update={"message_id": "m-alarm-2"})  # SNS may mint a new id
    assert asyncio.run(bot.alarm_intake().handle(redelivered)).detail == "nothing to post"
    assert asyncio.run(bot.alarm_intake().handle(RESOLVED)).detail == "resolved"
    assert asyncio.run(bot.alarm_intake().handle(RESOLVED)).detail == "nothing to post"
    assert len(bot.chat.created) == 2  # the root and the one OK reply
    assert len(bot.chat.patches) == 1


def test_when_mattermost_fails_the_alarm_is_answered_503_and_posted_on_redelivery() -> None:
    bot = Bot()
    intake = bot.alarm_intake()
    bot.chat.failing.add("create_post")
    outcome = asyncio.run(intake.handle(FIRING))
    assert (outcome.handled, outcome.status_code) == (False, 503)
    bot.chat.failing.clear()
    assert asyncio.run(intake.handle(FIRING)).detail == "new root"  # not remembered as seen
    assert len(bot.chat.created) == 1


def test_a_notification_that_is_not_a_cloudwatch_alarm_is_refused_with_400() -> None:
    bot = Bot()
    outcome = asyncio.run(bot.alarm_intake().handle(FIRING.model_copy(update={"message": '{"hello": 1}'})))
    assert (outcome.handled, outcome.status_code) == (False, 400)
    assert bot.chat.created == []


def test_acknowledge_on_the_root_edits_it_and_says_who_in_the_thread() -> None:
    bot = Bot()
    asyncio.run(bot.alarm_intake().handle(FIRING))
    (root,) = bot.chat.created
    ack = next(a for a in root["props"]["attachments"][0]["actions"] if a["id"] == "ack")
    click = ActionClick(
        user_id=BOB.user_id, channel_id=ONCALL, post_id=root["id"], context=ack["integration"]["context"]
    )
    answer = asyncio.run(bot.alarm_buttons().click(click))
    assert answer == {"ephemeral_text": f"You acknowledged {ALARM}."}
    ((patched_id, message, props),) = bot.chat.patches
    assert (patched_id, props[alarm_posts.PROP_ACKED_BY]) == (root["id"], "bob")
    assert "Acknowledged by @\u200bbob" in message
    assert [a["id"] for a in props["attachments"][0]["actions"]] == ["mute"]
    _, said = bot.chat.created
    assert (said["root_id"], said["message"]) == (root["id"], ":eyes: @\u200bbob acknowledged at 14:00 UTC.")


def test_an_alarm_button_with_a_forged_context_is_refused_and_edits_nothing() -> None:
    bot = Bot()
    asyncio.run(bot.alarm_intake().handle(FIRING))
    (root,) = bot.chat.created
    ack = next(a for a in root["props"]["attachments"][0]["actions"] if a["id"] == "ack")
    forged = ack["integration"]["context"] | {"alarm_name": "JIT-API5xxRate"}
    click = ActionClick(user_id=BOB.user_id, channel_id=ONCALL, post_id=root["id"], context=forged)
    assert asyncio.run(bot.alarm_buttons().click(click)) == {"ephemeral_text": "This button is not one of ours."}
    assert bot.chat.patches == []
    assert len(bot.chat.created) == 1
