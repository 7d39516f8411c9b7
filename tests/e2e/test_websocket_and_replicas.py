"""Direct messages over the websocket, reconnecting after an emulator restart, and two replicas."""

from __future__ import annotations

import base64
import secrets
from typing import Any

from bot.mattermost.websocket import Backoff
from bot.runtime import BotThread
from jitwire.models import RequestStatus
from tests.e2e.conftest import System, bot_settings, bound_socket, wait_until
from tests.e2e.test_approval_flow import buttons, request_card, wait_card


def dm_channel(system: System, user: str) -> str:
    with system.mm.mm.store.lock:
        return system.mm.mm.store.direct_channel(system.mm.user(user).id, system.mm.user("jit-bot").id).id


def connected(system: System, count: int = 1) -> None:
    wait_until(lambda: all(b.runtime.websocket and b.runtime.websocket.connected for b in system.bots), what="ws")
    wait_until(lambda: system.mm.mm.hub.connection_count() >= count, what="hub connections")


def test_a_direct_message_is_a_command_and_own_posts_are_ignored(system: System) -> None:
    system.start_bot()
    connected(system)
    channel = dm_channel(system, "alice")
    system.mm.post_as(user="alice", channel=channel, message="request prod ReadOnlyAccess 1h checking dashboards")
    card = wait_until(lambda: system.cards() and system.cards()[0]["props"]["jit_version"] > 0 and system.cards()[0])
    assert card["props"]["attachments"][0]["fields"][1]["value"] == "ReadOnlyAccess on prod"
    reply = wait_until(lambda: [p["message"] for p in system.dms("alice") if "waiting for approval" in p["message"]])
    assert len(reply) == 1
    system.mm.post_as(user="alice", channel=channel, message="list")
    wait_until(lambda: any("Your requests" in p["message"] for p in system.dms("alice")), what="list reply")
    # The bot sees its own replies come back on the socket and answers none of them: 2 commands, 2 replies.
    bot_posts = system.dms("alice")
    assert len(bot_posts) == 2, [p["message"] for p in bot_posts]


def test_bot_reconnects_after_the_emulator_restarts(system: System) -> None:
    bot = system.start_bot()
    connected(system)
    socket = bot.runtime.websocket
    assert socket is not None
    first = socket.connections
    system.mm.restart()
    wait_until(lambda: socket.connections > first and socket.connected, what="reconnect")
    system.mm.post_as(user="alice", channel=dm_channel(system, "alice"), message="help")
    wait_until(lambda: any("just-in-time AWS access" in p["message"] for p in system.dms("alice")), what="reply")
    card = request_card(system, "request prod AdministratorAccess 1h after the restart")
    system.mm.click(user="bob", post_id=card["id"], action_id=buttons(card)["Approve"])
    system.stack.wait_for(card["props"]["jit_request_id"], RequestStatus.GRANTED)
    wait_card(system, card["id"], "GRANTED")


def test_two_replicas_handle_each_command_once(system: System) -> None:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    first = system.start_bot(action_key=key, replica_index=0, replica_count=2)
    # Mattermost reaches "the bot" at one URL (a load balancer); here: replica 0 takes the HTTP traffic.
    system.start_bot(action_key=key, replica_index=1, replica_count=2, public_port=first.port)
    connected(system, 2)
    assert len(system.mm.commands()) == 1
    for n in range(3):
        request_card(system, f"request prod AdministratorAccess 1h replica check {n}")
    assert len(system.cards()) == 3
    channel = dm_channel(system, "carol")
    for n in range(6):
        system.mm.post_as(user="carol", channel=channel, message=f"status r{n}")
    replies = wait_until(lambda: len(system.dms("carol")) >= 6 and system.dms("carol"), what="six replies")
    card = system.cards()[0]
    system.mm.click(user="bob", post_id=card["id"], action_id=buttons(card)["Approve"])
    system.stack.wait_for(card["props"]["jit_request_id"], RequestStatus.GRANTED)
    wait_card(system, card["id"], "GRANTED")
    granted = wait_until(lambda: [p for p in system.dms("alice") if "You now have" in p["message"]], what="DM")
    # Both replicas received every SNS event: still one DM and one history line per event.
    assert len(system.dms("carol")) == len(replies) == 6
    assert len(granted) == 1
    event_ids = [p["props"]["jit_event_id"] for p in system.dms("alice")]
    assert len(event_ids) == len(set(event_ids))
    thread_ids = [
        p["props"]["jit_event_id"]
        for p in system.mm.posts("jit-approvals")
        if p["root_id"] == card["id"] and "jit_event_id" in p["props"]
    ]
    assert len(thread_ids) == len(set(thread_ids)) > 0


class RecordingBackoff(Backoff):
    """The attempt numbers the bot asked delays for, so the test asserts on them rather than on timing."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        object.__setattr__(self, "attempts", [])

    def delay(self, attempt: int, rng: Any = None) -> float:
        self.attempts.append(attempt)  # type: ignore[attr-defined]
        return super().delay(attempt, lambda: 1.0)


def test_backoff_stays_small_across_many_mattermost_restarts_that_drop_tcp(system: System) -> None:
    backoff = RecordingBackoff(base=0.05, cap=30.0, stable_after=0.0)
    sock = bound_socket()
    settings = bot_settings(system.stack, system.mm, sock.getsockname()[1])
    bot = BotThread(settings, sock=sock, backoff=backoff).start()
    system.bots.append(bot)
    connected(system)
    socket = bot.runtime.websocket
    assert socket is not None
    for restart in range(6):
        before = socket.connections
        system.mm.restart(drop_tcp=True)  # as a killed or crashed server: no close frame
        wait_until(lambda b=before: socket.connections > b and socket.connected, what=f"reconnect {restart}")
    # The back-off starts afresh after each healthy session: however many connects are refused
    # while the emulator is down (that depends on the machine's load), every restart's first wait
    # is attempt 0. The old rule reset only after a normal close, so attempts kept counting up.
    attempts = backoff.attempts  # type: ignore[attr-defined]
    assert attempts.count(0) >= 6, attempts
    system.mm.post_as(user="alice", channel=dm_channel(system, "alice"), message="help")
    wait_until(lambda: any("just-in-time AWS access" in p["message"] for p in system.dms("alice")), what="reply")


def replies_to(system: System, user: str) -> dict[str, int]:
    """How many bot replies each of ``user``'s DMs got (by the reply's ``jit_reply_to``)."""
    counts: dict[str, int] = {}
    for post in system.dms(user):
        target = post["props"].get("jit_reply_to")
        if target:
            counts[target] = counts.get(target, 0) + 1
    return counts


def test_direct_messages_sent_during_an_outage_are_answered_once_after_recovery(system: System) -> None:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    first = system.start_bot(action_key=key, replica_index=0, replica_count=2)
    system.start_bot(action_key=key, replica_index=1, replica_count=2, public_port=first.port)
    connected(system, 2)
    alice, carol = dm_channel(system, "alice"), dm_channel(system, "carol")
    before = system.mm.post_as(user="alice", channel=alice, message="help")
    wait_until(lambda: replies_to(system, "alice").get(before["id"]), what="the reply before the outage")
    # Mattermost goes away (TCP dropped, as when it is killed); people keep writing to the bot.
    # The outage's length does not matter to the catch-up (it reads posts since the last DM seen).
    system.mm.stop(drop_tcp=True)
    missed = [system.mm.post_as(user="alice", channel=alice, message=f"status rmissed{n}")["id"] for n in range(4)]
    missed += [system.mm.post_as(user="carol", channel=carol, message=f"status rcarol{n}")["id"] for n in range(4)]
    system.mm.start()
    connected(system, 2)
    wait_until(
        lambda: all((replies_to(system, "alice") | replies_to(system, "carol")).get(i) for i in missed),
        what="every missed DM answered",
    )
    # A second outage without new DMs answers nothing again, and nothing was answered twice.
    system.mm.restart(drop_tcp=True)
    connected(system, 2)
    later = system.mm.post_as(user="alice", channel=alice, message="help")
    wait_until(lambda: replies_to(system, "alice").get(later["id"]), what="the reply after recovery")
    counts = replies_to(system, "alice") | replies_to(system, "carol")
    assert all(counts[i] == 1 for i in [before["id"], later["id"], *missed]), counts
    assert len(counts) == len(missed) + 2
