"""JIT1-HMAC-SHA256: how the bot signs a request to the backend.

The scheme: docs/architecture.md, "Bot to backend: the signed API".

Standard library only: the bot imports this module and must never pull in boto3.

The signature is HMAC-SHA256 over the newline-joined canonical string::

    JIT1-HMAC-SHA256
    <audience>
    <key id>
    <timestamp>
    <nonce>
    <METHOD>
    <path>               (without the API stage, percent-encoded, see ``canonical_path``)
    <canonical query>
    <hex SHA-256 of the raw body>
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

from jitwire.b64url import b64url_encode

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

ALGORITHM: Final = "JIT1-HMAC-SHA256"
SIGNATURE_VERSION_PREFIX: Final = "v1="

HEADER_KEY_ID: Final = "X-JIT-Key-Id"
HEADER_TIMESTAMP: Final = "X-JIT-Timestamp"
HEADER_NONCE: Final = "X-JIT-Nonce"
HEADER_SIGNATURE: Final = "X-JIT-Signature"
SIGNED_HEADERS: Final = (HEADER_KEY_ID, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)

KEY_ID_PATTERN: Final = re.compile(r"^[a-z0-9-]{1,32}$")
TIMESTAMP_PATTERN: Final = re.compile(r"^[1-9][0-9]{9}$")
NONCE_PATTERN: Final = re.compile(r"^[A-Za-z0-9_-]{22}$")
SIGNATURE_PATTERN: Final = re.compile(r"^v1=[0-9a-f]{64}$")

HEADER_PATTERNS: Final = {
    HEADER_KEY_ID: KEY_ID_PATTERN,
    HEADER_TIMESTAMP: TIMESTAMP_PATTERN,
    HEADER_NONCE: NONCE_PATTERN,
    HEADER_SIGNATURE: SIGNATURE_PATTERN,
}

NONCE_BYTES: Final = 16
KEY_SECRET_BYTES: Final = 32

_METHOD_PATTERN: Final = re.compile(r"^[A-Za-z]{1,16}$")
# RFC 3986 unreserved characters; everything else is percent-encoded (UTF-8).
_UNRESERVED: Final = "-_.~"


def new_nonce() -> str:
    """128 random bits, base64url without padding (22 characters)."""
    return b64url_encode(secrets.token_bytes(NONCE_BYTES))


def new_key_secret() -> bytes:
    """A fresh 32-byte HMAC key."""
    return secrets.token_bytes(KEY_SECRET_BYTES)


def _encode(text: str) -> str:
    """RFC 3986 percent-encoding of one query key or value."""
    return quote(text, safe=_UNRESERVED)


def canonical_path(path: str) -> str:
    """The path as signed: percent-encoded except unreserved characters and ``/``.

    A no-op for ordinary route paths; it keeps newlines and other control characters out of the
    newline-framed canonical string, so no field can spill into the next one.
    """
    return quote(path, safe=_UNRESERVED + "/")


def canonical_query(query: Sequence[tuple[str, str]]) -> str:
    """Pairs percent-encoded, sorted by key then value, joined ``k=v`` with ``&``; ``""`` if none."""
    encoded = sorted((_encode(key), _encode(value)) for key, value in query)
    return "&".join(f"{key}={value}" for key, value in encoded)


def canonical_string(
    *,
    audience: str,
    key_id: str,
    timestamp: int,
    nonce: str,
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    body: bytes,
) -> str:
    """The exact text that is MACed. Raises ``ValueError`` on a field that would break the framing."""
    if not _METHOD_PATTERN.fullmatch(method):
        raise ValueError("method must be an HTTP method token")
    for name, value in (("audience", audience), ("key_id", key_id), ("nonce", nonce)):
        if not value or any(ch in value for ch in "\r\n"):
            raise ValueError(f"{name} must be a non-empty single line")
    return "\n".join(
        (
            ALGORITHM,
            audience,
            key_id,
            str(timestamp),
            nonce,
            method.upper(),
            canonical_path(path),
            canonical_query(query),
            hashlib.sha256(body).hexdigest(),
        )
    )


def compute_signature(secret: bytes, canonical: str) -> str:
    """``v1=`` followed by the lowercase hex HMAC-SHA256 of the canonical string (UTF-8)."""
    digest = hmac.new(secret, canonical.encode("utf-8"), hashlib.sha256).hexdigest()
    return SIGNATURE_VERSION_PREFIX + digest


@dataclass(frozen=True)
class SigningKey:
    """The one key the bot signs with."""

    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not KEY_ID_PATTERN.fullmatch(self.key_id):
            raise ValueError("key id must match [a-z0-9-]{1,32}")
        if len(self.secret) < KEY_SECRET_BYTES:
            raise ValueError(f"key secret must be at least {KEY_SECRET_BYTES} bytes")


class RequestSigner:
    """Produces the four ``X-JIT-*`` headers for one request."""

    def __init__(
        self,
        key: SigningKey,
        audience: str,
        clock: Callable[[], float] = time.time,
        nonce_factory: Callable[[], str] = new_nonce,
    ) -> None:
        self._key = key
        self._audience = audience
        self._clock = clock
        self._nonce_factory = nonce_factory

    def sign(self, method: str, path: str, query: Sequence[tuple[str, str]], body: bytes) -> dict[str, str]:
        timestamp = int(self._clock())
        nonce = self._nonce_factory()
        canonical = canonical_string(
            audience=self._audience,
            key_id=self._key.key_id,
            timestamp=timestamp,
            nonce=nonce,
            method=method,
            path=path,
            query=query,
            body=body,
        )
        return {
            HEADER_KEY_ID: self._key.key_id,
            HEADER_TIMESTAMP: str(timestamp),
            HEADER_NONCE: nonce,
            HEADER_SIGNATURE: compute_signature(self._key.secret, canonical),
        }
