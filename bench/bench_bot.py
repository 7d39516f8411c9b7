"""Bot benchmarks: slash-command acknowledgement latency under 50 concurrent commands, and the
time from a click to the updated card, through the Mattermost emulator, the bot and the local stack.

``run()`` returns rows (metric, value, note) for ``make bench``.
"""

from __future__ import annotations

import base64
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
    from backend.local.clock import ManualClock
    from backend.local.stack import LocalStack, StackOptions
    from bot.runtime import BotThread
    from bot.settings import BotSettings
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
        finally:
            bot.stop()
            emulator.stop()
            stack.stop()
    return [
        ("bot slash-command ack p50", f"{statistics.median(acks) * 1000:.1f} ms", f"{CONCURRENT_COMMANDS} concurrent"),
        ("bot slash-command ack p99", f"{_percentile(acks, 99) * 1000:.1f} ms", f"{CONCURRENT_COMMANDS} concurrent"),
        ("bot click-to-card-update p50", f"{statistics.median(clicks) * 1000:.1f} ms", f"{CLICKS} clicks"),
        ("bot click-to-card-update p99", f"{_percentile(clicks, 99) * 1000:.1f} ms", f"{CLICKS} clicks"),
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


def _newest_card(emulator: Any, n: int) -> dict[str, Any] | None:
    cards = [p for p in emulator.posts("jit-approvals") if not p["root_id"] and p["props"].get("jit_version", -1) > 0]
    return cards[n] if len(cards) > n else None


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
