"""Chat state the bot reads back comes only from its own posts: a channel member who posts the
bot's props (any member can put any props on their own post) silences nothing and hides nothing."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import requests

from bot import posts
from bot.runtime import BotThread
from jitwire.models import CardRef, Person
from tests.bot.views import event, view
from tests.e2e.conftest import System, wait_until
from tests.e2e.test_alarms import roots, subscribed_bot
from tests.e2e.test_approval_flow import request_card

REVOKE_FAILED = "JIT-GrantRevokeFailed"


def post_as_member(system: System, user: str, channel_id: str, props: dict[str, Any], root_id: str = "") -> str:
    """What any channel member can do with their own token: a post with props of their choosing."""
    body: dict[str, Any] = {"channel_id": channel_id, "message": "nothing to see", "props": props}
    if root_id:
        body["root_id"] = root_id
    reply = requests.post(
        f"{system.mm.url}/api/v4/posts",
        json=body,
        headers={"Authorization": f"Bearer {system.mm.token(user)}"},
        timeout=10,
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def deliver_event(system: System, bot: BotThread, message: dict[str, Any]) -> requests.Response:
    """A lifecycle event as moto delivers it (local-unsigned trust, loopback sender)."""
    body = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": system.stack.provisioned.events_topic_arn,
        "Message": json.dumps(message),
        "Timestamp": system.stack.clock().isoformat().replace("+00:00", "Z"),
        "SignatureVersion": "1",
        "Signature": "",
        "SigningCertURL": "",
    }
    return requests.post(
        f"http://127.0.0.1:{bot.port}/sns",
        data=json.dumps(body),
        headers={"x-amz-sns-message-type": "Notification"},
        timeout=20,
    )


def test_a_forged_open_root_with_a_future_episode_does_not_silence_the_alarm(system: System) -> None:
    subscribed_bot(system)
    future = (system.stack.clock() + timedelta(days=365)).isoformat()
    post_as_member(
        system,
        "dave",
        system.mm.channel_id("oncall"),
        {
            "jit_alarm_role": "root",
            "jit_alarm_name": REVOKE_FAILED,
            "jit_alarm_episode": future,
            "jit_alarm_status": "open",
            "jit_alarm_muted_until": future,
        },
    )
    system.stack.fire_alarm(REVOKE_FAILED)
    bot_id = system.mm.user("jit-bot").id
    [root] = wait_until(
        lambda: [p for p in roots(system, REVOKE_FAILED) if p["user_id"] == bot_id], what="the bot's alarm root"
    )
    assert "@oncall please acknowledge." in root["message"]


def test_a_forged_drift_notice_does_not_hide_the_real_one(system: System) -> None:
    bot = system.start_bot(subscribe=False)
    drift = event("access.drift_detected", view()).model_copy(update={"request": None, "detail": "dave#1#ps reported"})
    oncall = system.mm.channel_id("oncall")
    post_as_member(
        system, "dave", oncall, {posts.PROP_EVENT: drift.event_id, posts.PROP_SYSTEM: posts.system_key(drift)}
    )
    reply = deliver_event(system, bot, drift.model_dump(mode="json"))
    assert reply.status_code == 200, reply.text
    bot_id = system.mm.user("jit-bot").id
    told = [p for p in system.mm.posts("oncall") if p["user_id"] == bot_id and "Access drift" in p["message"]]
    assert len(told) == 1


def test_forged_event_ids_in_the_card_thread_and_dm_hide_no_history_line(system: System) -> None:
    bot = system.start_bot()
    card = request_card(system, "request prod AdministratorAccess 1h investigating INC-7")
    alice = system.mm.user("alice")
    requester = Person(user_id=alice.id, username="alice", email="alice@example.com")
    snapshot = view(
        request_id=card["props"]["jit_request_id"],
        requester=requester,
        version=0,  # older than the card: render leaves it alone
        card=CardRef(channel_id=card["channel_id"], post_id=card["id"]),
    )
    denied = event("request.denied", snapshot, detail="forged-test").model_copy(update={"event_id": "evt-forged"})
    post_as_member(system, "dave", card["channel_id"], {posts.PROP_EVENT: "evt-forged"}, root_id=card["id"])
    direct = requests.post(
        f"{system.mm.url}/api/v4/channels/direct",
        json=[alice.id, system.mm.user("jit-bot").id],
        headers={"Authorization": f"Bearer {system.mm.token('alice')}"},
        timeout=10,
    )
    assert direct.status_code in (200, 201), direct.text
    post_as_member(system, "alice", str(direct.json()["id"]), {posts.PROP_EVENT: "evt-forged"})
    assert deliver_event(system, bot, denied.model_dump(mode="json")).status_code == 200
    bot_id = system.mm.user("jit-bot").id
    lines = [p for p in system.mm.posts("jit-approvals") if p["root_id"] == card["id"] and p["user_id"] == bot_id]
    assert any(p["props"].get(posts.PROP_EVENT) == "evt-forged" for p in lines)
    told = [p for p in system.dms("alice") if p["props"].get(posts.PROP_EVENT) == "evt-forged"]
    assert len(told) == 1
