"""Checks a JIT1-HMAC-SHA256 signed request, in the order docs/architecture.md, "Bot to backend: the signed API" fixes.

body size → headers present, single, well-formed → timestamp window → key known and usable →
signature (constant time) → nonce unused. The nonce is written only after the signature checks
out, so unauthenticated traffic can neither fill the nonce table nor burn real nonces.
"""

from __future__ import annotations

import hmac
import logging
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Final, NoReturn, Protocol

from pydantic import BaseModel, ConfigDict, StringConstraints

from backend.auth.errors import AuthenticationFailed, AuthReason, KeyStoreUnavailable, NonceStoreUnavailable
from jitwire.signing import (
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_PATTERNS,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    KEY_ID_PATTERN,
    SIGNATURE_VERSION_PREFIX,
    SIGNED_HEADERS,
    canonical_string,
    compute_signature,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from backend.auth.keyset import CachedKeySet, KeyEntry

LOGGER_NAME: Final = "backend.auth"
# Runbook 01 greps /aws/lambda/jit-api for this phrase; keep it word for word.
LOG_PHRASE: Final = "HMAC validation failed"

MAX_BODY_BYTES: Final = 16 * 1024
MAX_SKEW_SECONDS: Final = 300
# The nonce item outlives the window it protects by a minute; TTL only keeps the table small.
NONCE_GRACE_SECONDS: Final = 60

_LOG_SAFE: Final = re.compile(r"[^A-Za-z0-9.:_-]")


class NonceStore(Protocol):
    def claim(self, key_id: str, nonce: str, expires_at_epoch: int, sig8: str) -> bool:
        """Record the nonce; True if it was unused. Raises ``NonceStoreUnavailable`` if unsure."""
        ...


class AuthFailureMetrics(Protocol):
    def record_auth_failure(self, reason: str) -> None: ...


class SignedHttpRequest(BaseModel):
    """What the verifier needs from an HTTP request, whatever carried it (API Gateway, local server).

    ``headers`` holds every occurrence of every header (API Gateway ``multiValueHeaders``); names
    are compared case-insensitively.
    """

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    method: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{1,16}$")]
    path: str
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str


class VerifiedCaller(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    key_id: str


class _SignedHeaders(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    key_id: str
    timestamp: int
    nonce: str
    signature: str


class HmacVerifier:
    def __init__(
        self,
        keys: CachedKeySet,
        nonces: NonceStore,
        audience: str,
        clock: Callable[[], float],
        metrics: AuthFailureMetrics,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_skew_seconds: int = MAX_SKEW_SECONDS,
    ) -> None:
        if not audience or any(ch in audience for ch in "\r\n"):
            raise ValueError("audience must be a non-empty single line")
        self._keys = keys
        self._nonces = nonces
        self._audience = audience
        self._clock = clock
        self._metrics = metrics
        self._max_body_bytes = max_body_bytes
        self._max_skew_seconds = max_skew_seconds
        self._log = logging.getLogger(LOGGER_NAME)

    def verify(self, req: SignedHttpRequest) -> VerifiedCaller:
        """The caller if every check passes; otherwise logs, counts and raises ``AuthenticationFailed``."""
        claimed_key_id = _claimed_key_id(req.headers)
        try:
            return self._verify(req)
        except AuthenticationFailed as failure:
            self._report(failure.reason, claimed_key_id, req.source_ip)
            raise

    def _verify(self, req: SignedHttpRequest) -> VerifiedCaller:
        if len(req.body) > self._max_body_bytes:
            _fail(AuthReason.BODY_TOO_LARGE)
        signed = _parse_headers(req.headers)
        now = self._clock()
        if abs(now - signed.timestamp) > self._max_skew_seconds:
            _fail(AuthReason.TIMESTAMP_SKEW)
        entry = self._usable_key(signed.key_id, datetime.fromtimestamp(now, tz=UTC))
        expected = compute_signature(
            entry.secret_bytes(),
            canonical_string(
                audience=self._audience,
                key_id=signed.key_id,
                timestamp=signed.timestamp,
                nonce=signed.nonce,
                method=req.method,
                path=req.path,
                query=req.query,
                body=req.body,
            ),
        )
        if not hmac.compare_digest(expected.encode("ascii"), signed.signature.encode("ascii")):
            _fail(AuthReason.BAD_SIGNATURE)
        self._claim_nonce(signed)
        return VerifiedCaller(key_id=signed.key_id)

    def _usable_key(self, key_id: str, now: datetime) -> KeyEntry:
        try:
            entry = self._keys.get().find(key_id)
            if entry is None:
                entry = self._keys.refresh_for_unknown(key_id).find(key_id)
        except KeyStoreUnavailable:
            _fail(AuthReason.KEY_STORE_UNAVAILABLE)
        if entry is None:
            _fail(AuthReason.UNKNOWN_KEY)
        if not entry.usable_at(now):
            _fail(AuthReason.RETIRED_KEY)
        if entry.audience is not None and entry.audience != self._audience:
            _fail(AuthReason.KID_AUDIENCE_MISMATCH)
        return entry

    def _claim_nonce(self, signed: _SignedHeaders) -> None:
        expires_at = signed.timestamp + self._max_skew_seconds + NONCE_GRACE_SECONDS
        sig8 = signed.signature.removeprefix(SIGNATURE_VERSION_PREFIX)[:8]
        try:
            fresh = self._nonces.claim(signed.key_id, signed.nonce, expires_at, sig8)
        except NonceStoreUnavailable:
            _fail(AuthReason.NONCE_STORE_UNAVAILABLE)
        if not fresh:
            _fail(AuthReason.REPLAYED_NONCE)

    def _report(self, reason: AuthReason, key_id: str | None, source_ip: str) -> None:
        self._log.warning(
            "%s reason=%s key_id=%s source_ip=%s",
            LOG_PHRASE,
            reason.value,
            key_id or "-",
            _log_safe(source_ip),
            extra={"auth_reason": reason.value},
        )
        self._metrics.record_auth_failure(reason.value)


def _fail(reason: AuthReason) -> NoReturn:
    raise AuthenticationFailed(reason)


def _occurrences(headers: list[tuple[str, str]], name: str) -> list[str]:
    wanted = name.lower()
    return [value for key, value in headers if key.lower() == wanted]


def _parse_headers(headers: list[tuple[str, str]]) -> _SignedHeaders:
    found = {name: _occurrences(headers, name) for name in SIGNED_HEADERS}
    if any(not values for values in found.values()):
        _fail(AuthReason.MISSING_HEADER)
    if any(len(values) > 1 for values in found.values()):
        _fail(AuthReason.DUPLICATE_HEADER)
    # fullmatch: "$" alone would let a trailing newline through. The patterns exclude commas, so a
    # comma-joined value (two headers folded into one) is malformed too.
    if any(HEADER_PATTERNS[name].fullmatch(values[0]) is None for name, values in found.items()):
        _fail(AuthReason.MALFORMED_HEADER)
    return _SignedHeaders(
        key_id=found[HEADER_KEY_ID][0],
        timestamp=int(found[HEADER_TIMESTAMP][0]),
        nonce=found[HEADER_NONCE][0],
        signature=found[HEADER_SIGNATURE][0],
    )


def _claimed_key_id(headers: list[tuple[str, str]]) -> str | None:
    """The key id for the log line, only when it is single and well-formed (so it is safe to log)."""
    values = _occurrences(headers, HEADER_KEY_ID)
    if len(values) == 1 and KEY_ID_PATTERN.fullmatch(values[0]):
        return values[0]
    return None


def _log_safe(text: str) -> str:
    """Source IPs come from the edge; still keep log lines single and short."""
    return _LOG_SAFE.sub("?", text)[:64] or "-"
