"""Fakes for the verifier's collaborators and a factory for signed requests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from backend.auth.keyset import CachedKeySet, KeyEntry, KeySet, KeyStatus
from backend.auth.verifier import HmacVerifier, SignedHttpRequest
from jitwire.b64url import b64url_encode
from jitwire.signing import RequestSigner, SigningKey

AUDIENCE = "jit-api.test.eu-central-1"
NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC).timestamp()
ACTIVE = KeyEntry(id="bot-2026-11", secret=b64url_encode(bytes(range(32))), status=KeyStatus.ACTIVE)
PREVIOUS = KeyEntry(
    id="bot-2026-08",
    secret=b64url_encode(bytes(range(100, 132))),
    status=KeyStatus.VERIFY_ONLY,
    not_after=datetime(2026, 11, 28, 14, 0, tzinfo=UTC),
)
BODY = b'{"action":"approve","request_id":"req-0001","actor":{"id":"u1","username":"alice"}}'


class FakeClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeKeySetProvider:
    """Holds the secret's current key set and counts reads, like Secrets Manager would see them."""

    def __init__(self, keyset: KeySet) -> None:
        self.keyset = keyset
        self.loads = 0
        self.error: Exception | None = None

    def load(self) -> KeySet:
        self.loads += 1
        if self.error is not None:
            raise self.error
        return self.keyset


@dataclass
class InMemoryNonceStore:
    """The nonce store contract (first claim wins) with a switch to simulate an outage."""

    items: dict[str, tuple[int, str]] = field(default_factory=dict)
    down: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self, key_id: str, nonce: str, expires_at_epoch: int, sig8: str) -> bool:
        from backend.auth.errors import NonceStoreUnavailable

        if self.down:
            raise NonceStoreUnavailable("simulated outage")
        with self._lock:
            key = f"{key_id}#{nonce}"
            if key in self.items:
                return False
            self.items[key] = (expires_at_epoch, sig8)
            return True


@dataclass
class RecordingMetrics:
    reasons: list[str] = field(default_factory=list)

    def record_auth_failure(self, reason: str) -> None:
        self.reasons.append(reason)


@dataclass
class Harness:
    clock: FakeClock
    provider: FakeKeySetProvider
    nonces: InMemoryNonceStore
    metrics: RecordingMetrics
    verifier: HmacVerifier

    def signer(self, entry: KeyEntry = ACTIVE, audience: str = AUDIENCE, at: float | None = None) -> RequestSigner:
        when = self.clock.now if at is None else at
        return RequestSigner(SigningKey(entry.id, entry.secret_bytes()), audience, clock=lambda: when)


def signed_request(
    signer: RequestSigner,
    *,
    method: str = "POST",
    path: str = "/requests/req-0001/approve",
    query: list[tuple[str, str]] | None = None,
    body: bytes = BODY,
    source_ip: str = "10.0.0.7",
) -> SignedHttpRequest:
    query = query or []
    headers = signer.sign(method, path, query, body)
    return SignedHttpRequest(
        method=method,
        path=path,
        query=query,
        headers=[("Content-Type", "application/json"), *headers.items()],
        body=body,
        source_ip=source_ip,
    )


def make_harness(keyset: KeySet | None = None, nonces: InMemoryNonceStore | None = None) -> Harness:
    clock = FakeClock()
    provider = FakeKeySetProvider(keyset or KeySet(keys=[ACTIVE, PREVIOUS]))
    store = nonces or InMemoryNonceStore()
    metrics = RecordingMetrics()
    verifier = HmacVerifier(
        keys=CachedKeySet(provider, clock=clock),
        nonces=store,
        audience=AUDIENCE,
        clock=clock,
        metrics=metrics,
    )
    return Harness(clock, provider, store, metrics, verifier)
