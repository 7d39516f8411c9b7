"""Nobody can stall the bot's HTTP intake: bounded bodies, certificate fetches off the event loop,
4xx (never 5xx) for hostile contexts, log lines that cannot be forged, replies only to Mattermost."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.runtime import BotThread, sns_get
from tests.alarms.conftest import ALARM_TOPIC, NOW, LocalCa, Signer, fixture_text, make_ca
from tests.e2e.conftest import System
from tests.e2e.test_alarms import start_bot

ENDPOINTS = ("/sns", "/mattermost/command", "/mattermost/actions", "/mattermost/dialog")
TOO_BIG = 256 * 1024 + 1


class SlowCertHost:
    """A local HTTP server that holds every request until released (or 8 s), then answers 404."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.paths: list[str] = []
        self.arrived = threading.Semaphore(0)
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.paths.append(self.path)
                host.arrived.release()
                host.release.wait(8)
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fetch(self, url: str) -> bytes:
        """The bot's real fetcher, pointed at this host instead of sns.<region>.amazonaws.com."""
        return sns_get(self.base + urlsplit(url).path)


@pytest.fixture
def slow_host() -> Iterator[SlowCertHost]:
    host = SlowCertHost()
    host.thread.start()
    yield host
    host.release.set()
    host.server.shutdown()
    host.server.server_close()


@pytest.fixture(scope="module")
def ca() -> LocalCa:
    return make_ca()


@pytest.fixture(scope="module")
def key(ca: LocalCa) -> rsa.RSAPrivateKey:
    return ca.issue("sns.amazonaws.com", not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=30))[0]


def command_token(system: System) -> str:
    [command] = system.mm.commands()
    return str(command["token"])


def test_a_slow_certificate_host_stalls_nothing_else(
    system: System, slow_host: SlowCertHost, key: rsa.RSAPrivateKey
) -> None:
    bot = start_bot(
        system, clock=lambda: NOW, fetch=slow_host.fetch, sns_trust_mode="aws", sns_allowed_topics=(ALARM_TOPIC,)
    )
    urls = [f"https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-forged{i}.pem" for i in range(4)]
    bodies = [
        Signer(key=key, cert_url=u).notification(fixture_text("jit-lambdaerrorrate.alarm.message.json")) for u in urls
    ]

    def post(body: dict[str, Any]) -> int:
        reply = requests.post(f"http://127.0.0.1:{bot.port}/sns", data=json.dumps(body), timeout=30)
        return reply.status_code

    with ThreadPoolExecutor(4) as pool:
        forged = [pool.submit(post, body) for body in bodies]
        for _ in urls:  # all four fetches are now held by the slow host
            assert slow_host.arrived.acquire(timeout=10)
        form = {
            "token": command_token(system),
            "user_id": system.mm.user("alice").id,
            "channel_id": "c",
            "text": "help",
        }
        answered = requests.post(f"http://127.0.0.1:{bot.port}/mattermost/command", data=form, timeout=5)
        assert answered.status_code == 200
        assert "/jit" in answered.json()["text"]
        assert not slow_host.release.is_set()  # answered while the fetches still hang
        # A fifth new certificate URL is refused at once (fetches in flight are capped), not queued.
        fifth = Signer(key=key, cert_url=urls[0].replace("forged0", "forged4")).notification("x")
        assert post(fifth) == 403
        slow_host.release.set()
        assert [f.result(30) for f in forged] == [403] * 4
    # The failed URLs are remembered: the same forged posts fetch nothing again.
    assert [post(body) for body in bodies] == [403] * 4
    assert sorted(slow_host.paths) == sorted(urlsplit(u).path for u in urls)
    assert system.mm.posts("oncall") == []


def _raw_exchange(port: int, head: bytes, body: bytes = b"") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head + body)
        return conn.recv(4096)


@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_endpoint_refuses_a_body_over_256_kib(system: System, path: str) -> None:
    bot = system.start_bot(subscribe=False)
    url = f"http://127.0.0.1:{bot.port}{path}"
    assert requests.post(url, data=b"x" * TOO_BIG, timeout=10).status_code == 413
    # Chunked (no Content-Length): counted while streaming.
    chunks = iter([b"y" * 65536] * 5)
    assert requests.post(url, data=chunks, timeout=10).status_code == 413
    # A declared length past the cap is refused before a byte of the body is sent.
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\n\r\n"
    assert _raw_exchange(bot.port, head.encode()).startswith(b"HTTP/1.1 413")


def test_non_ascii_signatures_and_ids_are_refused_not_500(system: System) -> None:
    bot = system.start_bot(subscribe=False)
    base = f"http://127.0.0.1:{bot.port}"
    dave = system.mm.user("dave").id
    card = {"request_id": "r1", "action": "approve", "post_id": "p1", "channel_id": "c1", "exp": 9999999999}
    alarm = {"alarm_name": "JIT-API5xxRate", "action": "ack", "state": "ALARM", "episode": "e", "exp": 9999999999}
    for context in (card | {"sig": "\u00e9" * 64}, alarm | {"sig": "\u00e9\u00e9"}):
        click = {"user_id": dave, "channel_id": "c1", "post_id": "p\u00e9", "context": context}
        reply = requests.post(f"{base}/mattermost/actions", json=click, timeout=10)
        assert reply.status_code == 200
        assert reply.json() == {"ephemeral_text": "This button is not one of ours."}
    dialog = {"user_id": dave, "state": "e30.\u00e9\u00e9", "submission": {}}
    reply = requests.post(f"{base}/mattermost/dialog", json=dialog, timeout=10)
    assert reply.status_code < 500


def test_user_values_cannot_forge_log_lines(system: System, caplog: pytest.LogCaptureFixture) -> None:
    bot = system.start_bot(subscribe=False)
    base = f"http://127.0.0.1:{bot.port}"
    forged = "u1\n2026-12-01 12:00:00 INFO bot approved everything"
    with caplog.at_level(logging.WARNING, logger="bot"):
        form = {"token": "x" * 26, "user_id": forged, "channel_id": "c", "text": "list"}
        assert requests.post(f"{base}/mattermost/command", data=form, timeout=10).status_code == 401
        click = {"user_id": forged, "channel_id": "c1", "post_id": forged, "context": {"request_id": "r1"}}
        assert requests.post(f"{base}/mattermost/actions", json=click, timeout=10).status_code == 200
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) >= 2
    assert all("\n" not in line for line in refused)
    assert any("u1\\n2026-12-01" in line for line in refused)


class Catcher(BaseHTTPRequestHandler):
    received: list[str] = []

    def do_POST(self) -> None:
        Catcher.received.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


def test_a_response_url_off_mattermost_is_refused_and_never_called(
    system: System, caplog: pytest.LogCaptureFixture
) -> None:
    bot = system.start_bot(subscribe=False)
    catcher = ThreadingHTTPServer(("127.0.0.1", 0), Catcher)
    threading.Thread(target=catcher.serve_forever, daemon=True).start()
    try:
        elsewhere = f"http://127.0.0.1:{catcher.server_address[1]}/exfiltrate"
        form = {
            "token": command_token(system),
            "user_id": system.mm.user("alice").id,
            "channel_id": system.mm.channel_id("jit-approvals"),
            "text": "list",
            "trigger_id": "t1",
            "response_url": elsewhere,
        }
        with caplog.at_level(logging.WARNING, logger="bot"):
            reply = requests.post(f"http://127.0.0.1:{bot.port}/mattermost/command", data=form, timeout=10)
        assert reply.status_code == 400
        assert "Mattermost" in reply.json()["error"]
        assert "response_url not on Mattermost" in caplog.text
        # The real Mattermost's own hook URL is still accepted.
        form["response_url"] = f"{system.mm.url}/hooks/commands/nope"
        assert requests.post(f"http://127.0.0.1:{bot.port}/mattermost/command", data=form, timeout=10).ok
    finally:
        catcher.shutdown()
        catcher.server_close()
    assert Catcher.received == []


def test_forwarded_headers_do_not_change_who_sent_an_sns_message(system: System) -> None:
    """local-unsigned trusts loopback senders; X-Forwarded-For must neither grant nor move that."""
    bot: BotThread = system.start_bot(subscribe=False)
    event = {
        "Type": "Notification",
        "MessageId": "m-forwarded",
        "TopicArn": system.stack.provisioned.events_topic_arn,
        "Message": "{}",
        "Timestamp": system.stack.clock().isoformat(),
        "SignatureVersion": "1",
        "Signature": "",
        "SigningCertURL": "",
    }
    reply = requests.post(
        f"http://127.0.0.1:{bot.port}/sns",
        data=json.dumps(event),
        headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
        timeout=10,
    )
    # Judged by the socket's address (loopback): accepted as a sender, then refused as no lifecycle event.
    assert reply.status_code == 400
    assert reply.json() == {"error": "not a lifecycle event"}
