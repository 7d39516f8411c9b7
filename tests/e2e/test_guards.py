"""Forged clicks, dialog field errors, mention injection, an unreachable backend, /sns and /healthz."""

from __future__ import annotations

import copy
import json
from typing import Any

import requests

from jitwire.models import RequestStatus
from tests.bot.mention_check import channel_wide_mentions, markdown_images, scanned_texts
from tests.e2e.conftest import System, wait_until
from tests.e2e.test_approval_flow import buttons, fields, request_card


def _set_context(system: System, post_id: str, action_index: int, context: dict[str, Any]) -> None:
    with system.mm.mm.store.lock:
        action = system.mm.mm.store.posts[post_id]["props"]["attachments"][0]["actions"][action_index]
        action["integration"]["context"] = context


def _context(system: System, post_id: str, action_index: int = 0) -> dict[str, Any]:
    stored = system.mm.stored_post(post_id)
    return copy.deepcopy(stored["props"]["attachments"][0]["actions"][action_index]["integration"]["context"])


def test_forged_context_is_refused(system: System) -> None:
    system.start_bot()
    card = request_card(system, "request prod AdministratorAccess 1h investigating INC-9")
    request_id = card["props"]["jit_request_id"]
    forged = _context(system, card["id"]) | {"exp": 4_102_444_800}  # a later expiry, old signature
    _set_context(system, card["id"], 0, forged)
    click = system.mm.click(user="bob", post_id=card["id"], action_id=buttons(card)["Approve"])
    assert click.ephemerals[0]["message"] == "This button is not one of ours."
    assert system.stack.uow.store.get(request_id).status is RequestStatus.PENDING


def test_context_from_another_post_is_refused(system: System) -> None:
    system.start_bot()
    first = request_card(system, "request prod AdministratorAccess 1h first request")
    second = request_card(system, "request prod AdministratorAccess 1h second request")
    _set_context(system, second["id"], 0, _context(system, first["id"]))  # replay card 1's approve on card 2
    click = system.mm.click(user="bob", post_id=second["id"], action_id=buttons(second)["Approve"])
    assert click.ephemerals[0]["message"] == "This button does not belong to this message."
    for card in (first, second):
        assert system.stack.uow.store.get(card["props"]["jit_request_id"]).status is RequestStatus.PENDING


def test_click_posted_straight_to_the_bot_without_a_valid_context_is_refused(system: System) -> None:
    bot = system.start_bot()
    card = request_card(system, "request prod AdministratorAccess 1h investigating INC-9")
    body = {
        "user_id": system.mm.user("bob").id,
        "channel_id": card["channel_id"],
        "post_id": card["id"],
        "context": {"request_id": card["props"]["jit_request_id"], "action": "approve"},
    }
    reply = requests.post(f"http://127.0.0.1:{bot.port}/mattermost/actions", json=body, timeout=10)
    assert reply.status_code == 200
    assert reply.json() == {"ephemeral_text": "This button is not one of ours."}
    assert system.stack.uow.store.get(card["props"]["jit_request_id"]).status is RequestStatus.PENDING


def test_bad_slash_command_token_is_refused(system: System) -> None:
    bot = system.start_bot()
    form = {"token": "x" * 26, "user_id": system.mm.user("alice").id, "channel_id": "c", "text": "list"}
    reply = requests.post(f"http://127.0.0.1:{bot.port}/mattermost/command", data=form, timeout=10)
    assert reply.status_code == 401


def test_dialog_offers_only_allowed_choices_and_reports_errors_per_field(system: System) -> None:
    system.start_bot()
    alice = system.mm.user("alice")
    result = system.mm.run_command(user="alice", channel="jit-approvals", text="/jit request")
    assert result.ephemerals[0]["message"] == "Opening the request form…"
    opened = wait_until(lambda: system.mm.mm.store.dialogs.get(alice.id), what="dialog")
    elements = {e["name"]: e for e in opened[-1].dialog["elements"]}
    assert {o["value"] for o in elements["target"]["options"]} == {
        "prod/AdministratorAccess",
        "prod/PowerUserAccess",
        "prod/ReadOnlyAccess",
        "staging/ReadOnlyAccess",
        "staging/AdministratorAccess",
    }
    bad = system.mm.submit_dialog("alice", {"target": "prod/Root", "duration": "forever", "reason": "x"})
    assert not bad.closed
    assert set(bad.errors) == {"target", "duration", "reason"}
    too_long = system.mm.submit_dialog(
        "alice", {"target": "prod/AdministratorAccess", "duration": "9h", "reason": "fix prod"}
    )
    assert too_long.errors == {"duration": "At most 4h for this access."}
    good = system.mm.submit_dialog(
        "alice", {"target": "prod/AdministratorAccess", "duration": "2h", "reason": "fix prod"}
    )
    assert good.closed, good
    card = wait_until(lambda: system.cards() and system.cards()[0]["props"]["jit_version"] > 0 and system.cards()[0])
    assert fields(card)["Access"] == "AdministratorAccess on prod"
    wait_until(lambda: any("waiting for approval" in t for t in system.ephemeral_texts("alice")), what="reply")


def test_dialog_state_of_another_user_is_refused(system: System) -> None:
    system.start_bot()
    system.mm.run_command(user="alice", channel="jit-approvals", text="/jit request")
    alice = system.mm.user("alice")
    opened = wait_until(lambda: system.mm.mm.store.dialogs.get(alice.id), what="dialog")
    with system.mm.mm.store.lock:  # carol submits a copy of alice's form
        system.mm.mm.store.dialogs[system.mm.user("carol").id] = [opened[-1]]
    result = system.mm.submit_dialog(
        "carol", {"target": "prod/AdministratorAccess", "duration": "1h", "reason": "sneaky"}
    )
    assert result.error == "This form is no longer valid; run /jit request again."
    assert system.cards() == []


INJECTIONS = [
    "@channel",
    "@here please",
    "hey @all",
    "<!channel>",
    "<!here|here>",
    "@\u200dchannel",
    "@\u200bhere",
    "\uff20channel",
    "@ch\u0430nnel",
    "@CHANNEL!",
    "![pwned](https://evil.example/x.png)",
    "[click](javascript:alert(1))",
    "```\n@channel\n```",
    "`@here`",
    "@group-approvers",
    "# heading @all",
]


def _all_bot_texts(system: System) -> list[str]:
    bot_id = system.mm.user("jit-bot").id
    texts: list[str] = []
    for post in system.mm.posts("jit-approvals"):
        if post["user_id"] == bot_id:
            texts += scanned_texts(post)
    for user in ("alice", "bob"):
        for post in system.dms(user):
            texts += scanned_texts(post)
        texts += system.ephemeral_texts(user)
    return texts


def test_mention_injection_corpus_notifies_nobody(system: System) -> None:
    system.start_bot()
    reason = " ".join(INJECTIONS)
    card = request_card(system, f"request prod AdministratorAccess 1h {reason}")
    system.mm.click(user="carol", post_id=card["id"], action_id=buttons(card)["Deny"])
    system.mm.run_command(user="alice", channel="jit-approvals", text=f"/jit status {card['props']['jit_request_id']}")
    system.mm.run_command(user="alice", channel="jit-approvals", text="/jit @channel <!here>")
    system.mm.post_as(user="alice", channel=_dm(system, "alice"), message="status @channel <!all> ![x](http://e/i.png)")
    wait_until(lambda: any("was denied" in p["message"] for p in system.dms("alice")), what="denied DM")
    wait_until(lambda: any("Reason:" in t for t in system.ephemeral_texts("alice")), what="status reply")
    wait_until(lambda: len(system.dms("alice")) >= 2, what="DM reply")
    texts = _all_bot_texts(system)
    assert any("pwned" in t for t in texts)  # the words are shown...
    for text in texts:  # ...but notify nobody and load nothing
        assert channel_wide_mentions(text) == [], text
        assert markdown_images(text) == [], text
        assert len(text) <= 16383


def test_ten_thousand_character_reason_is_bounded(system: System) -> None:
    system.start_bot()
    result = system.mm.run_command(
        user="alice", channel="jit-approvals", text="/jit request prod AdministratorAccess 1h " + "@here " * 2000
    )
    assert result.error == ""
    assert result.ephemerals[0]["message"].startswith("The reason must be 3 to 500 characters long; yours has 11999.")
    assert system.cards() == []
    assert all(channel_wide_mentions(t) == [] for t in system.ephemeral_texts("alice"))


def _dm(system: System, user: str) -> str:
    with system.mm.mm.store.lock:
        return system.mm.mm.store.direct_channel(system.mm.user(user).id, system.mm.user("jit-bot").id).id


def test_unreachable_backend_says_so_and_leaves_nothing_half_done(system: System) -> None:
    system.start_bot(backend_url="http://127.0.0.1:9", subscribe=False)
    system.mm.run_command(user="alice", channel="jit-approvals", text="/jit request prod AdministratorAccess 1h fix")
    reply = wait_until(lambda: system.ephemeral_texts("alice")[1:], what="reply")
    assert reply[0].startswith("The access service is unreachable right now, so nothing was changed.")
    assert system.cards() == []


def test_healthz_reports_websocket_and_backend(system: System) -> None:
    bot = system.start_bot()
    wait_until(lambda: bot.runtime.websocket is not None and bot.runtime.websocket.connected, what="websocket")
    reply = requests.get(f"http://127.0.0.1:{bot.port}/healthz", timeout=10)
    assert (reply.status_code, reply.json()) == (200, {"websocket": True, "backend": True})


def test_alarm_topic_message_that_is_no_alarm_is_refused_and_nothing_posted(system: System) -> None:
    bot = system.start_bot(subscribe=False)
    envelope = {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": system.stack.provisioned.alarms_topic_arn,
        "Message": json.dumps({"AlarmName": "JIT-LambdaErrorRate"}),
        "Timestamp": "2026-11-27T14:00:00.000Z",
        "SignatureVersion": "2",
        "Signature": "x",
        "SigningCertURL": "https://sns.eu-central-1.amazonaws.com/x.pem",
    }
    reply = requests.post(f"http://127.0.0.1:{bot.port}/sns", data=json.dumps(envelope), timeout=10)
    assert reply.status_code == 400
    assert system.mm.posts("oncall") == []
    other_topic = envelope | {"TopicArn": "arn:aws:sns:eu-central-1:123456789012:someone-else"}
    assert (
        requests.post(f"http://127.0.0.1:{bot.port}/sns", data=json.dumps(other_topic), timeout=10).status_code == 403
    )
