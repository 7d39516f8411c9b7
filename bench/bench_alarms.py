"""Alarm benchmarks through the real bot and the Mattermost emulator, with SNS signatures checked
(aws trust mode; a certificate authority made here, its certificate handed to the bot's fetcher):

* notification-to-post latency: POST /sns until the bot answers, which it does only after the post
  exists in Mattermost (p50, p99 of sequential notifications);
* a burst of 500 notifications (every state change delivered twice, eight alarms in parallel as SNS
  would) must leave each unique change posted exactly once.

``run()`` returns rows (metric, value, note) for ``make bench``.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import socket
import statistics
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

LATENCY_SAMPLES = 120
BURST = 500
REGION = "eu-central-1"
ACCOUNT = "123456789012"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:jit-alarms"
CERT_URL = f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-bench.pem"


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _certificate() -> tuple[Any, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench CA")])
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


class _Publisher:
    """Builds CloudWatch-shaped alarm notifications in signed SNS envelopes."""

    def __init__(self, key: Any) -> None:
        from alarms.catalogue import CATALOGUE, to_put_metric_alarm_kwargs

        self._key = key
        sfn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:jit-grant"
        self.alarms = {
            d.name: to_put_metric_alarm_kwargs(d, topic_arn=TOPIC, state_machine_arn=sfn)
            | {"AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{d.name}"}
            for d in CATALOGUE
        }

    def envelope(self, name: str, state: str, old_state: str, at: datetime) -> dict[str, Any]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        from alarms.sns import SnsMessage, canonical_bytes
        from jitlocal.alarm_drill import notification

        message = notification(self.alarms[name], state, old_state, None, REGION, at)  # type: ignore[arg-type]
        body: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": TOPIC,
            "Subject": f'{state}: "{name}" in EU (Frankfurt)',
            "Message": json.dumps(message),
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "SignatureVersion": "2",
            "Signature": "",
            "SigningCertURL": CERT_URL,
        }
        signed = canonical_bytes(SnsMessage.model_validate(body))
        body["Signature"] = base64.b64encode(self._key.sign(signed, padding.PKCS1v15(), hashes.SHA256())).decode()
        return body


def _episodes(publisher: _Publisher, name: str, start: datetime, changes: int) -> list[dict[str, Any]]:
    """ALARM, a flap, OK, again: each change a post (root, flap reply, OK reply)."""
    cycle = (("ALARM", "OK"), ("ALARM", "ALARM"), ("OK", "ALARM"))
    return [publisher.envelope(name, *cycle[i % 3], start + timedelta(minutes=i)) for i in range(changes)]


def run() -> list[tuple[str, str, str]]:
    logging.getLogger("bot.alarms").setLevel(logging.WARNING)
    import requests

    from bot.runtime import BotThread
    from bot.settings import BotSettings
    from sandbox.mattermost.server import MattermostEmulator

    key, pem = _certificate()
    publisher = _Publisher(key)
    emulator = MattermostEmulator()
    emulator.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = BotSettings.model_validate(
        {
            "mattermost_url": emulator.url,
            "mattermost_token": emulator.token("jit-bot"),
            "team_name": "jit",
            "public_url": f"http://127.0.0.1:{port}",
            # Alarms never call the backend; the bot only needs a syntactically valid one.
            "backend_url": "http://127.0.0.1:9",
            "backend_key_id": "bench",
            "backend_key_secret": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "backend_audience": "bench",
            "action_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "sns_trust_mode": "aws",
            "sns_allowed_topics": TOPIC,
            "websocket": False,
            "listen_port": port,
        }
    )
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        if url != CERT_URL:
            raise LookupError(url)
        return pem

    bot = BotThread(settings, sock=sock, sns_fetch=fetch).start()
    session = requests.Session()
    url = f"http://127.0.0.1:{port}/sns"

    def deliver(body: dict[str, Any]) -> int:
        return session.post(url, data=json.dumps(body), timeout=30).status_code

    try:
        names = list(publisher.alarms)
        base = datetime.now(UTC) - timedelta(days=1)
        # Latency: sequential, round-robin over the eight alarms.
        per_alarm = LATENCY_SAMPLES // len(names)
        sequences = [_episodes(publisher, n, base, per_alarm) for n in names]
        latencies: list[float] = []
        for step in range(per_alarm):
            for sequence in sequences:
                started = time.perf_counter()
                status = deliver(sequence[step])
                latencies.append((time.perf_counter() - started) * 1000)
                if status != 200:
                    raise RuntimeError(f"notification answered {status}")
        # Burst: each change delivered twice (the copy right after the next change), alarms in parallel.
        unique = BURST // 2
        burst_start = base + timedelta(hours=6)
        plans: list[list[dict[str, Any]]] = []
        expected: set[str] = set()
        for index, name in enumerate(names):
            changes = unique // len(names) + (1 if index < unique % len(names) else 0)
            sequence = _episodes(publisher, name, burst_start, changes)
            expected |= {b["MessageId"] for b in sequence}
            plan: list[dict[str, Any]] = []
            for i, body in enumerate(sequence):
                plan.append(body)
                if i:
                    plan.append(sequence[i - 1])
            plan.append(sequence[-1])
            plans.append(plan)
        before = {p["id"] for p in emulator.posts("oncall")}
        started = time.perf_counter()
        with ThreadPoolExecutor(len(names)) as pool:
            statuses = [s for result in pool.map(lambda plan: [deliver(b) for b in plan], plans) for s in result]
        burst_seconds = time.perf_counter() - started
        posted = [p for p in emulator.posts("oncall") if p["id"] not in before]
        per_message = Counter(str(p["props"].get("jit_alarm_message_id")) for p in posted)
        exactly_once = set(per_message) == expected and set(per_message.values()) == {1}
        sent = sum(len(plan) for plan in plans)
    finally:
        bot.stop()
        emulator.stop()
    ok = "yes" if exactly_once and set(statuses) == {200} else "NO"
    return [
        (
            "alarm notification→post p50",
            f"{statistics.median(latencies):.1f} ms",
            f"{len(latencies)} signed notifications, sequential",
        ),
        (
            "alarm notification→post p99",
            f"{_percentile(latencies, 99):.1f} ms",
            "POST /sns answered after the post exists",
        ),
        (
            "alarm burst: unique posted exactly once",
            ok,
            f"{sent} notifications ({len(expected)} unique, each twice), {len(posted)} posts, "
            f"{burst_seconds:.1f} s, certificate fetched {len(fetched)}x",
        ),
    ]


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
