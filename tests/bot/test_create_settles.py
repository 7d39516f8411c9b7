"""A create whose answer is lost is asked again with the same key, within a bound (issue 15 §3).

The "backend" here is a socket at the wire: it records every request it receives and either
never answers (the answer is lost) or is not listening at all (nothing can have happened).
"""

from __future__ import annotations

import socket
import threading

import pytest

from bot.explain import UNCONFIRMED, UNREACHABLE, explain
from jitwire.client import BackendUnavailable, JitApiClient, OutcomeUnknown
from jitwire.contract import CreateRequestBody
from jitwire.signing import RequestSigner, SigningKey
from tests.unit.world import ALICE

BODY = CreateRequestBody(
    actor=ALICE,
    account="prod",
    permission_set="ReadOnlyAccess",
    duration="1h",
    reason="INC-1",
    idempotency_key="key-0000000000000001",
)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


class SilentBackend:
    """Accepts, reads the request, never answers: the caller times out."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.received: list[bytes] = []
        self._held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._held.append(conn)
            self.received.append(_read_request(conn))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        for conn in self._held:
            conn.close()
        self.sock.close()


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.fixture
def silent():
    backend = SilentBackend()
    yield backend
    backend.close()


def _client(url: str, clock: FakeTime, settle: float) -> JitApiClient:
    signer = RequestSigner(SigningKey(key_id="k", secret=b"s" * 32), "aud")
    return JitApiClient(url, signer, timeout=0.05, settle_seconds=settle, sleep=clock.sleep, monotonic=clock.monotonic)


def test_a_lost_answer_is_asked_again_with_the_same_key_then_reported_unconfirmed(silent):
    clock = FakeTime()
    with pytest.raises(OutcomeUnknown) as raised:
        _client(silent.url, clock, settle=5.0).create_request(BODY)
    assert len(silent.received) == 1 + len(clock.pauses) >= 3
    assert all(b'"idempotency_key":"key-0000000000000001"' in r for r in silent.received)
    assert sum(clock.pauses) <= 5.0
    assert explain(raised.value) == UNCONFIRMED


def test_a_refused_connection_is_not_retried_and_nothing_happened():
    closed = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    clock = FakeTime()
    with pytest.raises(BackendUnavailable) as raised:
        _client(url, clock, settle=5.0).create_request(BODY)
    assert not isinstance(raised.value, OutcomeUnknown)
    assert clock.pauses == []
    assert explain(raised.value) == UNREACHABLE
