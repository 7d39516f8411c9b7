"""Known-answer vectors: a change to canonicalisation or the MAC breaks these."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from jitwire.b64url import b64url_decode
from jitwire.signing import (
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    NONCE_PATTERN,
    RequestSigner,
    SigningKey,
    canonical_query,
    canonical_string,
    compute_signature,
    new_nonce,
)

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "vectors" / "hmac_v1.json").read_text(encoding="utf-8")
)["vectors"]


def _canonical(vector: dict[str, Any]) -> str:
    return canonical_string(
        audience=vector["audience"],
        key_id=vector["key_id"],
        timestamp=vector["timestamp"],
        nonce=vector["nonce"],
        method=vector["method"],
        path=vector["path"],
        query=[(key, value) for key, value in vector["query"]],
        body=base64.b64decode(vector["body_base64"]),
    )


def test_vectors_cover_the_tricky_inputs() -> None:
    names = {vector["name"] for vector in VECTORS}
    assert {"empty_body_get", "repeated_keys_and_percent_encoding", "unicode_body"} <= names
    assert len(VECTORS) >= 5


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_canonical_string_matches_vector(vector: dict[str, Any]) -> None:
    assert _canonical(vector) == vector["expected_canonical"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_signature_matches_vector(vector: dict[str, Any]) -> None:
    secret = b64url_decode(vector["secret"])
    assert compute_signature(secret, _canonical(vector)) == vector["expected_signature"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_signer_produces_vector_headers(vector: dict[str, Any]) -> None:
    signer = RequestSigner(
        SigningKey(vector["key_id"], b64url_decode(vector["secret"])),
        vector["audience"],
        clock=lambda: vector["timestamp"] + 0.9,  # sub-second part is dropped, not rounded
        nonce_factory=lambda: vector["nonce"],
    )
    headers = signer.sign(
        vector["method"],
        vector["path"],
        [(key, value) for key, value in vector["query"]],
        base64.b64decode(vector["body_base64"]),
    )
    assert headers == {
        HEADER_KEY_ID: vector["key_id"],
        HEADER_TIMESTAMP: str(vector["timestamp"]),
        HEADER_NONCE: vector["nonce"],
        HEADER_SIGNATURE: vector["expected_signature"],
    }


def test_independent_computation_of_the_query_vector() -> None:
    """Rebuild one vector by hand from literal text, without the module under test."""
    vector = next(v for v in VECTORS if v["name"] == "repeated_keys_and_percent_encoding")
    body_hash = hashlib.sha256(b"").hexdigest()
    literal = (
        "JIT1-HMAC-SHA256\n"
        "jit-api.test.eu-central-1\n"
        "bot-2026-11\n"
        "1795788000\n"
        "ZZZZZZZZZZZZZZZZZZZZZZ\n"
        "GET\n"
        "/requests\n"
        "a~b=x%2Ay%2Bz&q=a%20b%26c%3Dd%2F%C3%A9&status=PENDING&tag=a&tag=a&tag=b\n" + body_hash
    )
    secret = bytes(range(32))
    expected = "v1=" + hmac.new(secret, literal.encode(), hashlib.sha256).hexdigest()
    assert vector["expected_canonical"] == literal
    assert vector["expected_signature"] == expected
    assert _canonical(vector) == literal


def test_independent_computation_of_the_unicode_body_vector() -> None:
    vector = next(v for v in VECTORS if v["name"] == "unicode_body")
    body = '{"justification":"réparer ☃ 🚀 INC-123"}'.encode()
    literal = "\n".join(
        [
            "JIT1-HMAC-SHA256",
            "jit-api.test.eu-central-1",
            "bot-2026-11",
            "1795788000",
            "0123456789abcdefABCDEF",
            "POST",
            "/requests",
            "dry_run=1",
            hashlib.sha256(body).hexdigest(),
        ]
    )
    assert base64.b64decode(vector["body_base64"]) == body
    assert vector["expected_signature"] == "v1=" + hmac.new(bytes(range(32)), literal.encode(), "sha256").hexdigest()


def test_canonical_query_sorts_encoded_pairs_by_key_then_value() -> None:
    assert canonical_query([("b", "2"), ("a", "z"), ("a", "y"), ("a b", "")]) == "a=y&a=z&a%20b=&b=2"
    assert canonical_query([]) == ""


def test_newline_in_path_cannot_shift_fields() -> None:
    common: dict[str, Any] = {
        "audience": "aud",
        "key_id": "k",
        "timestamp": 1795788000,
        "nonce": "n",
        "method": "GET",
        "body": b"",
    }
    # Without encoding, path "/a\nb=" with no query and path "/a" with query b= would collide.
    spilled = canonical_string(path="/a\nb=", query=[], **common)
    honest = canonical_string(path="/a", query=[("b", "")], **common)
    assert spilled != honest
    assert "/a%0Ab%3D" in spilled


@pytest.mark.parametrize(
    ("field", "value"), [("method", "GE T"), ("method", "GET\n"), ("audience", "a\nb"), ("nonce", "")]
)
def test_canonical_string_refuses_fields_that_break_framing(field: str, value: str) -> None:
    kwargs: dict[str, Any] = {
        "audience": "aud",
        "key_id": "k",
        "timestamp": 1795788000,
        "nonce": "n",
        "method": "GET",
        "path": "/",
        "query": [],
        "body": b"",
    }
    kwargs[field] = value
    with pytest.raises(ValueError, match=field):
        canonical_string(**kwargs)


def test_new_nonce_is_128_random_bits_base64url() -> None:
    nonces = {new_nonce() for _ in range(200)}
    assert len(nonces) == 200
    assert all(NONCE_PATTERN.fullmatch(nonce) for nonce in nonces)
    assert all(len(b64url_decode(nonce)) == 16 for nonce in nonces)


def test_signing_key_rejects_short_secret_and_bad_id() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SigningKey("bot-1", b"short")
    with pytest.raises(ValueError, match="key id"):
        SigningKey("Bot_1", bytes(32))
    assert repr(SigningKey("bot-1", bytes(32))) == "SigningKey(key_id='bot-1')"


@pytest.mark.parametrize("text", ["AAA=", "AA+A", "AB", "a b"])
def test_b64url_decode_refuses_non_canonical_text(text: str) -> None:
    with pytest.raises(ValueError, match="base64url"):
        b64url_decode(text)
