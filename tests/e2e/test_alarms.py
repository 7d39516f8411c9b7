"""Alarms through the real bot: SNS-signed notifications (a test CA) and the local stack's drill
(moto POSTs to /sns) → posts, threads, acknowledge and mute in the emulator's on-call channel."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from alarms.format import PROP_STATUS, SEVERITY_STYLE
from bot.mattermost.websocket import Backoff
from bot.oncall.alarm_posts import PROP_ACKED_BY, PROP_MUTED_UNTIL
from bot.runtime import BotThread
from tests.alarms.conftest import (
    ALARM_TOPIC,
    CERT_URL,
    EVENTS_TOPIC,
    NOW,
    CertHost,
    LocalCa,
    Signer,
    fixture_text,
    make_ca,
)
from tests.e2e.conftest import System, bot_settings, bound_socket, wait_until

ERROR_RATE = "JIT-LambdaErrorRate"


@pytest.fixture(scope="module")
def ca() -> LocalCa:
    return make_ca()


@pytest.fixture(scope="module")
def leaf(ca: LocalCa) -> tuple[rsa.RSAPrivateKey, bytes]:
    return ca.issue("sns.amazonaws.com", not_before=NOW - timedelta(days=30), not_after=NOW + timedelta(days=300))


def start_bot(
    system: System,
    *,
    sock: socket.socket | None = None,
    clock: Callable[[], datetime] | None = None,
    fetch: Callable[[str], bytes] | None = None,
    **overrides: Any,
) -> BotThread:
    sock = sock or bound_socket()
    settings = bot_settings(system.stack, system.mm, sock.getsockname()[1], websocket=False, **overrides)
    kwargs: dict[str, Any] = {"sock": sock, "backoff": Backoff(base=0.05, cap=0.4)}
    if clock is not None:
        kwargs["clock"] = clock
    if fetch is not None:
        kwargs["sns_fetch"] = fetch
    bot = BotThread(settings, **kwargs).start()
    system.bots.append(bot)
    return bot


@pytest.fixture
def host(leaf: tuple[rsa.RSAPrivateKey, bytes]) -> CertHost:
    return CertHost({CERT_URL: leaf[1]})


@pytest.fixture
def signer(leaf: tuple[rsa.RSAPrivateKey, bytes]) -> Signer:
    return Signer(key=leaf[0])


@pytest.fixture
def signed_bot(system: System, host: CertHost) -> BotThread:
    """aws trust mode: real signature checks against the test CA's certificate, clock at NOW."""
    return start_bot(
        system,
        clock=lambda: NOW,
        fetch=host,
        sns_trust_mode="aws",
        sns_allowed_topics=(ALARM_TOPIC, EVENTS_TOPIC),
    )


def post_sns(bot: BotThread, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"http://127.0.0.1:{bot.port}/sns",
        data=json.dumps(body),
        headers={"x-amz-sns-message-type": str(body.get("Type", "Notification"))},
        timeout=20,
    )


def oncall(system: System) -> list[dict[str, Any]]:
    return system.mm.posts("oncall")


def roots(system: System, name: str = ERROR_RATE) -> list[dict[str, Any]]:
    return [p for p in oncall(system) if not p["root_id"] and p["props"].get("jit_alarm_name") == name]


def replies(system: System, root_id: str) -> list[dict[str, Any]]:
    return [p for p in oncall(system) if p["root_id"] == root_id]


def attachment(post: dict[str, Any]) -> dict[str, Any]:
    return dict(post["props"]["attachments"][0])


def test_signed_alarm_becomes_a_runbook_post_with_buttons(
    system: System, signed_bot: BotThread, signer: Signer, host: CertHost
) -> None:
    reply = post_sns(signed_bot, signer.notification(fixture_text("jit-lambdaerrorrate.alarm.message.json")))
    assert reply.status_code == 200, reply.text
    [root] = roots(system)
    assert root["user_id"] == system.mm.user("jit-bot").id
    card = attachment(root)
    color, marker = SEVERITY_STYLE["High"]
    assert card["color"] == color
    assert root["message"].startswith(marker)
    assert "OK → **ALARM**: 7.3 % > 5 %" in root["message"]
    assert "@oncall please acknowledge." in root["message"]
    text = card["text"]
    for heading in ("**What triggered:**", "**Impact:**", "**Investigation:**", "**Resolution:**"):
        assert heading in text
    assert "- [ ] " in text  # Investigation as a checklist
    assert "**Escalation:** **L1**" in text
    runbook_link = f"http://127.0.0.1:{signed_bot.port}/runbooks/01-monitoring-alarms.md#"
    assert f"[Full runbook]({runbook_link}" in text
    assert {f["title"]: f["value"] for f in card["fields"]}["Region"] == "eu-central-1"
    assert [(a["id"], a["name"]) for a in card["actions"]] == [("ack", "Acknowledge"), ("mute", "Mute 1 hour")]
    assert host.fetched == [CERT_URL]
    # The runbook link works: the bot serves its runbooks when no docs URL is configured.
    served = requests.get(runbook_link.split("#", maxsplit=1)[0], timeout=10)
    assert served.status_code == 200
    assert "## Alarm Index" in served.text


def test_signature_version_1_and_a_medium_percentile_alarm(
    system: System, signed_bot: BotThread, signer: Signer
) -> None:
    body = signer.notification(fixture_text("jit-lambdaduration.alarm.message.json"), version="1")
    assert post_sns(signed_bot, body).status_code == 200
    [root] = roots(system, "JIT-LambdaDuration")
    assert "p99 12.4 s > 10 s" in root["message"]
    assert "please acknowledge" not in root["message"]  # only High pages the group
    assert attachment(root)["color"] != SEVERITY_STYLE["High"][0]


def _tampered(body: dict[str, Any]) -> dict[str, Any]:
    message = json.loads(body["Message"])
    message["NewStateReason"] = message["NewStateReason"].replace("7.3", "1.3")
    return body | {"Message": json.dumps(message)}


REJECTED: dict[str, Callable[[Signer, dict[str, Any]], dict[str, Any]]] = {
    "forged": lambda _s, body: Signer(key=rsa.generate_private_key(public_exponent=65537, key_size=2048)).notification(
        body["Message"]
    ),
    "unsigned": lambda _s, body: {k: v for k, v in body.items() if k != "Signature"},
    "empty signature": lambda _s, body: body | {"Signature": ""},
    "wrong topic": lambda s, body: s.notification(body["Message"], topic=ALARM_TOPIC.replace("jit-alarms", "other")),
    "foreign cert url": lambda s, body: (
        s.sign(
            {k: v for k, v in body.items() if k not in ("Signature", "SigningCertURL")}
            | {"SigningCertURL": "https://evil.example.com/SimpleNotificationService.pem"},
        )
        | {"SigningCertURL": "https://evil.example.com/SimpleNotificationService.pem"}
    ),
    "tampered": lambda _s, body: _tampered(body),
}


@pytest.mark.parametrize("case", list(REJECTED))
def test_rejected_messages_post_nothing(
    system: System, signed_bot: BotThread, signer: Signer, host: CertHost, case: str
) -> None:
    genuine = signer.notification(fixture_text("jit-lambdaerrorrate.alarm.message.json"))
    reply = post_sns(signed_bot, REJECTED[case](signer, genuine))
    assert 400 <= reply.status_code < 500
    assert oncall(system) == []
    assert all(url == CERT_URL for url in host.fetched)  # never fetched from elsewhere


def test_duplicate_message_id_posts_once(system: System, signed_bot: BotThread, signer: Signer) -> None:
    body = signer.notification(fixture_text("jit-lambdaerrorrate.alarm.message.json"))
    assert [post_sns(signed_bot, body).status_code for _ in range(3)] == [200, 200, 200]
    # The same state change under a new MessageId (a second subscription, a replay) is found in the props.
    again = signer.notification(fixture_text("jit-lambdaerrorrate.alarm.message.json"))
    assert post_sns(signed_bot, again).status_code == 200
    assert len(oncall(system)) == 1


def test_ok_replies_in_the_thread_and_resolves_the_root(system: System, signed_bot: BotThread, signer: Signer) -> None:
    assert post_sns(signed_bot, signer.notification(fixture_text("jit-lambdaerrorrate.alarm.message.json"))).ok
    assert post_sns(signed_bot, signer.notification(fixture_text("jit-lambdaerrorrate.ok.message.json"))).ok
    [root] = roots(system)
    [ok] = replies(system, root["id"])
    assert "is OK again after 14 min" in ok["message"]
    assert root["props"][PROP_STATUS] == "resolved"
    assert root["message"].startswith(":white_check_mark: **Resolved** after 14 min")
    assert "actions" not in attachment(root)
    # A redelivered OK changes nothing.
    assert post_sns(signed_bot, signer.notification(fixture_text("jit-lambdaerrorrate.ok.message.json"))).ok
    assert len(replies(system, root["id"])) == 1


def test_mattermost_failure_answers_5xx_and_the_retry_posts_once(
    system: System, signed_bot: BotThread, signer: Signer
) -> None:
    body = signer.notification(fixture_text("jit-grantrevokefailed.alarm.message.json"))
    system.mm.stop()
    try:
        failed = post_sns(signed_bot, body)
    finally:
        system.mm.start()
    assert failed.status_code == 503
    assert oncall(system) == []
    assert post_sns(signed_bot, body).status_code == 200
    assert post_sns(signed_bot, body).status_code == 200
    [root] = roots(system, "JIT-GrantRevokeFailed")
    assert len(oncall(system)) == 1
    text = attachment(root)["text"]
    assert "  ```bash" in text  # commands in code blocks, the state machine's real ARN filled in
    assert "<sfn_arn>" not in text
    assert "arn:aws:states:eu-central-1:123456789012:stateMachine:" in text


# --- the local stack: stack.fire_alarm → moto SNS → HTTP POST to /sns (local-unsigned, loopback) ---


def subscribed_bot(system: System, sock: socket.socket | None = None, *, subscribe: bool = True) -> BotThread:
    bot = start_bot(system, sock=sock, clock=system.stack.clock)
    if subscribe:
        system.stack.subscribe_http(system.stack.provisioned.alarms_topic_arn, f"http://127.0.0.1:{bot.port}/sns")
    return bot


def test_fire_alarm_on_the_local_stack_reaches_the_oncall_channel(system: System) -> None:
    subscribed_bot(system)
    system.stack.fire_alarm(ERROR_RATE, value=7.3)
    [root] = wait_until(lambda: roots(system), what="the alarm post")
    assert "7.3 % > 5 %" in root["message"]
    assert root["props"]["jit_alarm_status"] == "open"


def test_an_ok_within_the_second_of_its_alarm_still_resolves_it(system: System) -> None:
    """CloudWatch's StateChangeTime is to the millisecond; the drill dropped it, so an OK set in the
    same second as its ALARM looked no later than the episode's start and was ignored."""
    from jitlocal.alarm_drill import fire

    subscribed_bot(system)
    stack = system.stack
    opened = stack.clock().replace(microsecond=120_000)
    alarm = fire(stack.clients.cloudwatch, stack.clients.sns, ERROR_RATE, "ALARM", 7.3, stack.config.region, opened)
    assert alarm["StateChangeTime"].endswith(".120+0000")
    [root] = wait_until(lambda: roots(system), what="the alarm post")
    later = opened + timedelta(milliseconds=400)
    fire(stack.clients.cloudwatch, stack.clients.sns, ERROR_RATE, "OK", None, stack.config.region, later)
    wait_until(lambda: any("OK again" in p["message"] for p in replies(system, root["id"])), what="the resolve reply")


def test_second_alarm_in_the_episode_is_a_flap_reply(system: System) -> None:
    subscribed_bot(system)
    system.stack.fire_alarm(ERROR_RATE, value=7.3)
    system.stack.advance(timedelta(minutes=5))
    system.stack.fire_alarm(ERROR_RATE, value=9.1)
    system.stack.advance(timedelta(minutes=5))
    system.stack.fire_alarm(ERROR_RATE, value=8.0)
    [root] = roots(system)
    flaps = [p["message"] for p in replies(system, root["id"])]
    assert len(flaps) == 2
    assert "(1 flap in this episode): 9.1 % > 5 %" in flaps[0]
    assert "(2 flaps in this episode): 8 % > 5 %" in flaps[1]


def test_a_restarted_bot_finds_the_thread_from_post_props(system: System) -> None:
    first = subscribed_bot(system)
    port = first.port
    system.stack.fire_alarm(ERROR_RATE, value=7.3)
    [root] = roots(system)
    first.stop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    subscribed_bot(system, sock, subscribe=False)  # the stack's subscription still points at this port
    system.stack.advance(timedelta(minutes=20))
    system.stack.fire_alarm(ERROR_RATE, "OK")
    [root_after] = roots(system)
    assert root_after["id"] == root["id"]
    [ok] = replies(system, root["id"])
    assert "is OK again after 20 min" in ok["message"]
    assert root_after["props"][PROP_STATUS] == "resolved"


def _ack_and_mute_ids(post: dict[str, Any]) -> list[str]:
    return [a["id"] for a in attachment(post).get("actions", [])]


def test_acknowledge_edits_the_root_and_replies(system: System) -> None:
    subscribed_bot(system)
    system.stack.fire_alarm(ERROR_RATE, value=7.3)
    [root] = roots(system)
    result = system.mm.click(user="dave", post_id=root["id"], action_id="ack")
    assert result.status == 200
    assert result.reply is not None
    assert result.reply["ephemeral_text"] == f"You acknowledged {ERROR_RATE}."
    [root] = roots(system)
    at = system.stack.clock().strftime("%H:%M UTC")
    assert f"Acknowledged by @\u200bdave at {at}" in root["message"]
    assert root["props"][PROP_ACKED_BY] == "dave"
    assert _ack_and_mute_ids(root) == ["mute"]
    [line] = replies(system, root["id"])
    assert "acknowledged" in line["message"]
    # The rebuilt Mute button still works (its context was signed again).
    assert system.mm.click(user="bob", post_id=root["id"], action_id="mute").status == 200
    assert PROP_MUTED_UNTIL in roots(system)[0]["props"]


def test_mute_sends_the_next_alarm_to_the_thread_without_a_mention(system: System) -> None:
    subscribed_bot(system)
    system.stack.fire_alarm(ERROR_RATE, value=7.3)
    [root] = roots(system)
    result = system.mm.click(user="dave", post_id=root["id"], action_id="mute")
    assert result.reply is not None
    until = system.stack.clock() + timedelta(hours=1)
    assert result.reply["ephemeral_text"] == f"Muted {ERROR_RATE} until {until:%H:%M} UTC."
    system.stack.advance(timedelta(minutes=10))
    system.stack.fire_alarm(ERROR_RATE, "OK")
    system.stack.advance(timedelta(minutes=10))
    system.stack.fire_alarm(ERROR_RATE, value=6.5)  # a new episode, but muted
    assert len(roots(system)) == 1
    quiet = replies(system, root["id"])[-1]["message"]
    assert quiet.startswith(":mute:")
    assert "@oncall" not in quiet
    # After the hour a new ALARM opens a new root that pages again.
    system.stack.advance(timedelta(hours=1))
    system.stack.fire_alarm(ERROR_RATE, "OK")
    system.stack.advance(timedelta(minutes=1))
    system.stack.fire_alarm(ERROR_RATE, value=6.6)
    new_roots = roots(system)
    assert len(new_roots) == 2
    assert "@oncall please acknowledge." in new_roots[-1]["message"]


def _set_context(system: System, post_id: str, index: int, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    with system.mm.mm.store.lock:
        action = system.mm.mm.store.posts[post_id]["props"]["attachments"][0]["actions"][index]
        action["integration"]["context"] = change(dict(action["integration"]["context"]))


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        (lambda c: c | {"mute_seconds": 86400}, "This button is not one of ours."),
        (lambda c: c | {"alarm_name": "JIT-ReconcilerErrors"}, "This button is not one of ours."),
        (lambda c: c | {"sig": "0" * 64}, "This button is not one of ours."),
        (lambda c: {k: v for k, v in c.items() if k != "sig"}, "This button is not one of ours."),
    ],
)
def test_forged_alarm_button_context_is_refused(
    system: System, change: Callable[[dict[str, Any]], dict[str, Any]], refusal: str
) -> None:
    subscribed_bot(system)
    system.stack.fire_alarm(ERROR_RATE, value=7.3)
    [root] = roots(system)
    _set_context(system, root["id"], 1, change)
    result = system.mm.click(user="dave", post_id=root["id"], action_id="mute")
    assert result.reply == {"ephemeral_text": refusal}
    [after] = roots(system)
    assert PROP_MUTED_UNTIL not in after["props"]
    assert replies(system, root["id"]) == []


def test_a_genuine_context_on_another_episode_root_is_refused(system: System) -> None:
    subscribed_bot(system)
    system.stack.fire_alarm(ERROR_RATE, value=7.3)
    system.stack.fire_alarm("JIT-ReconcilerErrors")
    first = roots(system)[0]
    other = roots(system, "JIT-ReconcilerErrors")[0]
    stolen = system.mm.stored_post(first["id"])["props"]["attachments"][0]["actions"][0]["integration"]["context"]
    _set_context(system, other["id"], 0, lambda _c: dict(stolen))
    result = system.mm.click(user="dave", post_id=other["id"], action_id="ack")
    assert result.reply == {"ephemeral_text": "This button does not belong to this message."}
    assert PROP_ACKED_BY not in roots(system, "JIT-ReconcilerErrors")[0]["props"]


def test_a_click_posted_straight_to_the_bot_is_refused(system: System) -> None:
    bot = subscribed_bot(system)
    body = {
        "user_id": system.mm.user("dave").id,
        "channel_id": system.mm.channel_id("oncall"),
        "post_id": "x" * 26,
        "context": {"alarm_name": ERROR_RATE, "action": "ack", "state": "ALARM", "episode": "e", "exp": 9999999999},
    }
    reply = requests.post(f"http://127.0.0.1:{bot.port}/mattermost/actions", json=body, timeout=10)
    assert reply.json() == {"ephemeral_text": "This button is not one of ours."}
    assert oncall(system) == []


def test_an_unparseable_alarm_message_is_a_4xx(system: System, signed_bot: BotThread, signer: Signer) -> None:
    reply = post_sns(signed_bot, signer.notification(json.dumps({"AlarmName": ERROR_RATE, "id": str(uuid.uuid4())})))
    assert reply.status_code == 400
    assert oncall(system) == []


def test_concurrent_duplicates_post_once(system: System, signed_bot: BotThread, signer: Signer) -> None:
    body = signer.notification(fixture_text("jit-lambdaerrorrate.alarm.message.json"))
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _i: post_sns(signed_bot, body).status_code, range(16)))
    assert codes == [200] * 16
    assert len(oncall(system)) == 1


def test_two_replicas_subscribed_post_each_change_once(system: System) -> None:
    subscribed_bot(system)
    subscribed_bot(system)
    system.stack.fire_alarm(ERROR_RATE, value=7.3)
    system.stack.advance(timedelta(minutes=3))
    system.stack.fire_alarm(ERROR_RATE, value=8.2)
    system.stack.advance(timedelta(minutes=3))
    system.stack.fire_alarm(ERROR_RATE, "OK")
    [root] = roots(system)
    assert len(replies(system, root["id"])) == 2  # one flap, one OK
    assert root["props"][PROP_STATUS] == "resolved"


def publish_insufficient_data(system: System) -> None:
    """What CloudWatch publishes for an alarm that has InsufficientDataActions (ours have none, so
    the drill sends nothing; the bot must still show it when an operator adds them)."""
    from jitlocal.alarm_drill import notification

    stack = system.stack
    [alarm] = stack.clients.cloudwatch.describe_alarms(AlarmNames=[ERROR_RATE])["MetricAlarms"]
    moment = stack.clock().replace(microsecond=0)
    message = notification(alarm, "INSUFFICIENT_DATA", str(alarm["StateValue"]), None, stack.config.region, moment)
    stack.clients.sns.publish(
        TopicArn=stack.provisioned.alarms_topic_arn,
        Subject=f'INSUFFICIENT_DATA: "{ERROR_RATE}"',
        Message=json.dumps(message),
    )


def test_after_mute_the_quiet_alarms_resolution_is_shown_in_the_thread_and_on_the_root(system: System) -> None:
    subscribed_bot(system)
    system.stack.fire_alarm(ERROR_RATE, value=7.3)
    [root] = roots(system)
    assert system.mm.click(user="dave", post_id=root["id"], action_id="mute").status == 200
    system.stack.advance(timedelta(minutes=5))
    system.stack.fire_alarm(ERROR_RATE, "OK")
    assert roots(system)[0]["props"][PROP_STATUS] == "resolved"
    system.stack.advance(timedelta(minutes=5))
    system.stack.fire_alarm(ERROR_RATE, value=6.5)  # muted: a quiet reply, and the root is open again
    [reopened] = roots(system)
    assert reopened["props"][PROP_STATUS] == "open"
    assert reopened["message"].startswith(":mute: **ALARM again while muted**")
    assert replies(system, root["id"])[-1]["message"].startswith(":mute:")
    system.stack.advance(timedelta(minutes=3))
    publish_insufficient_data(system)
    assert "INSUFFICIENT_DATA" in replies(system, root["id"])[-1]["message"]
    system.stack.advance(timedelta(minutes=4))
    system.stack.fire_alarm(ERROR_RATE, "OK")
    ok = replies(system, root["id"])[-1]["message"]
    assert ok.startswith(":white_check_mark:")
    assert "is OK again after 7 min" in ok  # counted from the muted re-ALARM, not the first episode
    [resolved] = roots(system)
    assert resolved["props"][PROP_STATUS] == "resolved"
    assert resolved["message"].startswith(":white_check_mark: **Resolved** after 7 min\n")
    assert resolved["message"].count("**Resolved**") == 1
    assert resolved["is_pinned"] is False  # nothing else about the root changed
    assert len(roots(system)) == 1
