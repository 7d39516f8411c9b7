"""Bot benchmarks: slash-command acknowledgement latency under 50 concurrent commands, and the
time from a click to the updated card, through the Mattermost emulator, the bot and the local stack.

``run()`` returns rows (metric, value, note) for ``make bench``.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import secrets
import socket
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CONCURRENT_COMMANDS = 50
CLICKS = 20
RESTARTS = 10
OUTAGE_DMS = 20
SESSION_HOLD_SECONDS = 1.5  # a Mattermost that restarts stays up a while in between (Backoff.stable_after)


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _wait(probe: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.002)
    raise TimeoutError("benchmark condition not reached")


def run() -> list[tuple[str, str, str]]:
    os.environ["TZ"] = "UTC"  # moto's Wait states compare with local time
    time.tzset()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-central-1")
    logging.getLogger("alarms.sns").setLevel(logging.ERROR)  # the local-unsigned notice, once per event
    from bot.runtime import BotThread
    from bot.settings import BotSettings
    from jitlocal.clock import ManualClock
    from jitlocal.stack import LocalStack, StackOptions
    from sandbox.mattermost.server import MattermostEmulator

    with tempfile.TemporaryDirectory() as state:
        stack = LocalStack(
            StackOptions(
                moto_port=0,
                api_port=0,
                clock=ManualClock(datetime.now(UTC)),
                retry_sleep_factor=0.0,
                reconcile_every_seconds=0,
                state_dir=Path(state),
            )
        ).start()
        emulator = MattermostEmulator()
        emulator.start()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        key = stack.signing_key()
        settings = BotSettings.model_validate(
            {
                "mattermost_url": emulator.url,
                "mattermost_token": emulator.token("jit-bot"),
                "team_name": "jit",
                "public_url": f"http://127.0.0.1:{port}",
                "backend_url": stack.api_url,
                "backend_key_id": key.key_id,
                "backend_key_secret": base64.urlsafe_b64encode(key.secret).decode(),
                "backend_audience": stack.config.audience,
                "action_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
                "sns_trust_mode": "local-unsigned",
                "sns_allowed_topics": (stack.provisioned.events_topic_arn,),
                "listen_port": port,
            }
        )
        bot = BotThread(settings, sock=sock).start()
        stack.subscribe_http(stack.provisioned.events_topic_arn, f"http://127.0.0.1:{bot.port}/sns")
        try:
            acks = _ack_latencies(emulator)
            clicks = _click_latencies(emulator)
            reconnects = _reconnect_times(emulator, bot)
            missed, twice, catch_up = _outage_dms(emulator, bot)
        finally:
            bot.stop()
            emulator.stop()
            stack.stop()
    return [
        ("bot slash-command ack p50", f"{statistics.median(acks) * 1000:.1f} ms", f"{CONCURRENT_COMMANDS} concurrent"),
        ("bot slash-command ack p99", f"{_percentile(acks, 99) * 1000:.1f} ms", f"{CONCURRENT_COMMANDS} concurrent"),
        ("bot click-to-card-update p50", f"{statistics.median(clicks) * 1000:.1f} ms", f"{CLICKS} clicks"),
        ("bot click-to-card-update p99", f"{_percentile(clicks, 99) * 1000:.1f} ms", f"{CLICKS} clicks"),
        (
            "bot websocket back after a restart (max)",
            f"{max(reconnects):.2f} s",
            f"target <= 5 s; {RESTARTS} restarts in a row dropping TCP, default back-off; "
            f"median {statistics.median(reconnects):.2f} s, from Mattermost listening again",
        ),
        (
            "bot DMs missed across an outage",
            f"{missed} of {OUTAGE_DMS}",
            f"must be 0; {twice} answered twice; all answered {catch_up:.2f} s after Mattermost was back",
        ),
    ]


def _ack_latencies(emulator: Any) -> list[float]:
    """Mattermost's view: from sending the command to holding the bot's (ephemeral) reply."""

    def one(n: int) -> float:
        user = ("alice", "bob", "carol", "dave")[n % 4]
        started = time.perf_counter()
        result = emulator.run_command(user=user, channel="jit-approvals", text="/jit list")
        elapsed = time.perf_counter() - started
        if result.error:
            raise RuntimeError(result.error)
        return elapsed

    with ThreadPoolExecutor(CONCURRENT_COMMANDS) as pool:
        list(pool.map(one, range(5)))  # warm-up
        return list(pool.map(one, range(CONCURRENT_COMMANDS)))


def _click_latencies(emulator: Any) -> list[float]:
    """From bob's click to the card in Mattermost showing the new version."""
    latencies = []
    for n in range(CLICKS):
        emulator.run_command(
            user="alice", channel="jit-approvals", text=f"/jit request prod PowerUserAccess 1h benchmark {n}"
        )
        card = _wait(lambda n=n: _newest_card(emulator, n))
        before = card["props"]["jit_version"]
        approve = next(a["id"] for a in card["props"]["attachments"][0]["actions"] if a["name"] == "Approve")
        started = time.perf_counter()
        emulator.click(user="bob", post_id=card["id"], action_id=approve)
        _wait(lambda c=card, b=before: emulator.stored_post(c["id"])["props"]["jit_version"] > b)
        latencies.append(time.perf_counter() - started)
    return latencies


def _reconnect_times(emulator: Any, bot: Any) -> list[float]:
    """Mattermost restarts (killed: TCP dropped) 10 times; how long until the bot is back each time."""
    socket_ = bot.runtime.websocket
    _wait(lambda: socket_.connected)
    times = []
    for _ in range(RESTARTS):
        time.sleep(SESSION_HOLD_SECONDS)
        before = socket_.connections
        emulator.stop(drop_tcp=True)
        emulator.start()
        listening = time.perf_counter()
        _wait(lambda b=before: socket_.connections > b and socket_.connected, timeout=60)
        times.append(time.perf_counter() - listening)
    return times


def _outage_dms(emulator: Any, bot: Any) -> tuple[int, int, float]:
    """DMs sent while Mattermost is down, then it comes back: (missed, answered twice, seconds)."""
    socket_ = bot.runtime.websocket
    bot_id = emulator.user("jit-bot").id
    users = ("alice", "bob", "carol", "dave")
    channels = {}
    with emulator.mm.store.lock:
        for user in users:
            channels[user] = emulator.mm.store.direct_channel(emulator.user(user).id, bot_id).id
    _wait(lambda: socket_.connected)
    time.sleep(SESSION_HOLD_SECONDS)
    emulator.stop(drop_tcp=True)
    sent = [
        emulator.post_as(user=users[n % 4], channel=channels[users[n % 4]], message="help")["id"]
        for n in range(OUTAGE_DMS)
    ]
    emulator.start()
    back = time.perf_counter()

    def answers() -> dict[str, int]:
        counts: dict[str, int] = {}
        for user in users:
            for post in emulator.direct_posts(user, "jit-bot"):
                target = post["props"].get("jit_reply_to")
                if post["user_id"] == bot_id and target in sent:
                    counts[target] = counts.get(target, 0) + 1
        return counts

    with contextlib.suppress(TimeoutError):  # counted as missed below
        _wait(lambda: len(answers()) == len(sent), timeout=60)
    took = time.perf_counter() - back
    time.sleep(1.0)  # anything answered twice would show by now
    counts = answers()
    return len(sent) - len(counts), sum(1 for n in counts.values() if n > 1), took


def _newest_card(emulator: Any, n: int) -> dict[str, Any] | None:
    cards = [p for p in emulator.posts("jit-approvals") if not p["root_id"] and p["props"].get("jit_version", -1) > 0]
    return cards[n] if len(cards) > n else None


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
