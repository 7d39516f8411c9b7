"""The verifier against the attack table A1 to A11 (docs/architecture.md, "Bot to backend: the signed API") and its side effects."""

from __future__ import annotations

import json
import logging
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from backend.auth.errors import AuthenticationFailed, AuthReason, KeyStoreUnavailable
from backend.auth.keyset import CachedKeySet, KeyEntry, KeySet, KeyStatus, add_key, generate_key, retire
from backend.auth.verifier import HmacVerifier, SignedHttpRequest, VerifiedCaller
from jitwire.b64url import b64url_encode
from jitwire.signing import (
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    SIGNED_HEADERS,
    RequestSigner,
    SigningKey,
    new_nonce,
)
from tests.auth.helpers import ACTIVE, AUDIENCE, BODY, NOW, PREVIOUS, Harness, make_harness, signed_request


def _header(req: SignedHttpRequest, name: str) -> str:
    return next(value for key, value in req.headers if key.lower() == name.lower())


def _with_header(req: SignedHttpRequest, name: str, value: str) -> SignedHttpRequest:
    headers = [(key, value if key.lower() == name.lower() else old) for key, old in req.headers]
    return req.model_copy(update={"headers": headers})


def _without_header(req: SignedHttpRequest, name: str) -> SignedHttpRequest:
    return req.model_copy(update={"headers": [(k, v) for k, v in req.headers if k.lower() != name.lower()]})


def _rejected(harness: Harness, req: SignedHttpRequest) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as caught:
        harness.verifier.verify(req)
    return caught.value


def _assert_rejected(harness: Harness, req: SignedHttpRequest, reason: AuthReason, status: int = 401) -> None:
    failure = _rejected(harness, req)
    assert (failure.reason, failure.status_code) == (reason, status)
    assert harness.metrics.reasons[-1] == reason.value


# --- accepted requests ------------------------------------------------------------------------


@pytest.mark.parametrize("entry", [ACTIVE, PREVIOUS], ids=["active", "verify_only_within_not_after"])
def test_request_signed_with_each_usable_key_is_accepted(harness: Harness, entry: KeyEntry) -> None:
    req = signed_request(harness.signer(entry), query=[("dry_run", "1")])
    assert harness.verifier.verify(req) == VerifiedCaller(key_id=entry.id)
    assert harness.metrics.reasons == []
    sig8 = _header(req, HEADER_SIGNATURE)[3:11]
    nonce_key = f"{entry.id}#{_header(req, HEADER_NONCE)}"
    assert harness.nonces.items == {nonce_key: (int(NOW) + 300 + 60, sig8)}


def test_header_names_are_case_insensitive(harness: Harness) -> None:
    req = signed_request(harness.signer())
    lowered = req.model_copy(update={"headers": [(k.lower(), v) for k, v in req.headers]})
    assert harness.verifier.verify(lowered).key_id == ACTIVE.id


def test_verify_only_key_is_accepted_up_to_not_after_inclusive(harness: Harness) -> None:
    assert PREVIOUS.not_after is not None
    harness.clock.now = PREVIOUS.not_after.timestamp()
    assert harness.verifier.verify(signed_request(harness.signer(PREVIOUS))).key_id == PREVIOUS.id


def test_body_of_exactly_16_kib_is_accepted(harness: Harness) -> None:
    assert harness.verifier.verify(signed_request(harness.signer(), body=b"x" * 16384)).key_id == ACTIVE.id


def test_query_order_is_not_signed_so_reordering_is_the_same_request(harness: Harness) -> None:
    """Canonical query = pairs sorted by key then value (docs/architecture.md, "Bot to backend: the signed API"): order carries no meaning."""
    query = [("tag", "b"), ("status", "PENDING"), ("tag", "a")]
    req = signed_request(harness.signer(), method="GET", path="/requests", query=query, body=b"")
    reordered = req.model_copy(update={"query": [query[2], query[1], query[0]]})
    assert harness.verifier.verify(reordered).key_id == ACTIVE.id


# --- A1: missing headers ----------------------------------------------------------------------


def test_a1_no_signature_headers(harness: Harness) -> None:
    req = signed_request(harness.signer())
    for name in SIGNED_HEADERS:
        req = _without_header(req, name)
    _assert_rejected(harness, req, AuthReason.MISSING_HEADER)


@pytest.mark.parametrize("name", SIGNED_HEADERS)
def test_a1_each_header_missing(harness: Harness, name: str) -> None:
    _assert_rejected(harness, _without_header(signed_request(harness.signer()), name), AuthReason.MISSING_HEADER)


def test_a1_empty_header_value_is_malformed(harness: Harness) -> None:
    req = _with_header(signed_request(harness.signer()), HEADER_NONCE, "")
    _assert_rejected(harness, req, AuthReason.MALFORMED_HEADER)


# --- A2: wrong key ----------------------------------------------------------------------------


def test_a2_random_key_under_a_known_key_id(harness: Harness) -> None:
    forged = RequestSigner(SigningKey(ACTIVE.id, generate_key("x").secret_bytes()), AUDIENCE, clock=harness.clock)
    _assert_rejected(harness, signed_request(forged), AuthReason.BAD_SIGNATURE)
    assert harness.nonces.items == {}


def test_a2_other_keys_secret_under_this_key_id(harness: Harness) -> None:
    forged = RequestSigner(SigningKey(ACTIVE.id, PREVIOUS.secret_bytes()), AUDIENCE, clock=harness.clock)
    _assert_rejected(harness, signed_request(forged), AuthReason.BAD_SIGNATURE)


# --- A3: body tampering -----------------------------------------------------------------------


def _flip_one_byte(body: bytes) -> bytes:
    return body[:10] + bytes([body[10] ^ 0x01]) + body[11:]


def _reorder_keys(body: bytes) -> bytes:
    return json.dumps(dict(reversed(list(json.loads(body).items()))), separators=(",", ":")).encode()


def _add_whitespace(body: bytes) -> bytes:
    return json.dumps(json.loads(body), indent=1).encode()


def test_a3_one_byte_flipped(harness: Harness) -> None:
    req = signed_request(harness.signer())
    _assert_rejected(harness, req.model_copy(update={"body": _flip_one_byte(req.body)}), AuthReason.BAD_SIGNATURE)


@pytest.mark.parametrize(
    "tamper", [_reorder_keys, _add_whitespace, lambda b: b + b"\n"], ids=["keys_reordered", "indent", "newline"]
)
def test_a3_same_json_other_bytes(harness: Harness, tamper: object) -> None:
    req = signed_request(harness.signer())
    changed: bytes = tamper(req.body)  # type: ignore[operator]
    assert changed != req.body
    assert json.loads(changed) == json.loads(req.body)
    _assert_rejected(harness, req.model_copy(update={"body": changed}), AuthReason.BAD_SIGNATURE)


def test_a3_unicode_normalisation_change(harness: Harness) -> None:
    nfc = json.dumps({"justification": "réparer"}, ensure_ascii=False).encode()
    nfd = unicodedata.normalize("NFD", nfc.decode()).encode()
    assert nfc != nfd
    req = signed_request(harness.signer(), body=nfc)
    _assert_rejected(harness, req.model_copy(update={"body": nfd}), AuthReason.BAD_SIGNATURE)


# --- A4: method, path, query ------------------------------------------------------------------

QUERY = [("status", "PENDING"), ("tag", "a"), ("tag", "b")]


@pytest.mark.parametrize(
    "update",
    [
        {"method": "PUT"},
        {"method": "GET"},
        {"path": "/requests/req-0001/revoke"},
        {"path": "/requests/req-0002/approve"},
        {"path": "/prod/requests/req-0001/approve"},
        {"query": [*QUERY, ("force", "1")]},
        {"query": QUERY[:2]},
        {"query": []},
        {"query": [*QUERY, ("tag", "b")]},
        {"query": [("status", "PENDING"), ("tag", "a,b")]},
        {"query": [("status", "APPROVED"), ("tag", "a"), ("tag", "b")]},
    ],
    ids=lambda update: f"{next(iter(update))}={next(iter(update.values()))}",
)
def test_a4_method_path_or_query_changed(harness: Harness, update: dict[str, object]) -> None:
    req = signed_request(harness.signer(), query=QUERY)
    _assert_rejected(harness, req.model_copy(update=update), AuthReason.BAD_SIGNATURE)


def test_a4_method_case_is_not_a_change(harness: Harness) -> None:
    req = signed_request(harness.signer(), method="post")
    assert harness.verifier.verify(req.model_copy(update={"method": "POST"})).key_id == ACTIVE.id


# --- A5: replay -------------------------------------------------------------------------------


def test_a5_sequential_replay(harness: Harness) -> None:
    req = signed_request(harness.signer())
    harness.verifier.verify(req)
    for _ in range(3):
        _assert_rejected(harness, req, AuthReason.REPLAYED_NONCE)
    assert len(harness.nonces.items) == 1


def test_a5_concurrent_replay_accepts_exactly_one(harness: Harness) -> None:
    req = signed_request(harness.signer())

    def attempt() -> str:
        try:
            harness.verifier.verify(req)
        except AuthenticationFailed as failure:
            return failure.reason.value
        return "accepted"

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(lambda _: attempt(), range(50)))
    assert sorted(outcomes) == ["accepted"] + ["replayed_nonce"] * 49


def test_a5_same_nonce_under_another_key_id_is_a_different_nonce(harness: Harness) -> None:
    nonce = new_nonce()
    for entry in (ACTIVE, PREVIOUS):
        signer = RequestSigner(
            SigningKey(entry.id, entry.secret_bytes()), AUDIENCE, clock=harness.clock, nonce_factory=lambda: nonce
        )
        harness.verifier.verify(signed_request(signer))


# --- A6: new nonce, old signature -------------------------------------------------------------


def test_a6_new_nonce_with_old_signature(harness: Harness) -> None:
    req = signed_request(harness.signer())
    harness.verifier.verify(req)
    _assert_rejected(harness, _with_header(req, HEADER_NONCE, new_nonce()), AuthReason.BAD_SIGNATURE)


def test_a6_new_timestamp_with_old_signature(harness: Harness) -> None:
    req = signed_request(harness.signer())
    _assert_rejected(harness, _with_header(req, HEADER_TIMESTAMP, str(int(NOW) + 1)), AuthReason.BAD_SIGNATURE)


# --- A7: timestamps ---------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-300, -299, 0, 299, 300])
def test_a7_timestamp_within_window_is_accepted(harness: Harness, offset: int) -> None:
    req = signed_request(harness.signer(at=NOW + offset))
    assert harness.verifier.verify(req).key_id == ACTIVE.id


@pytest.mark.parametrize("offset", [-301, 301, -3600, 86400])
def test_a7_timestamp_outside_window_is_rejected(harness: Harness, offset: int) -> None:
    _assert_rejected(harness, signed_request(harness.signer(at=NOW + offset)), AuthReason.TIMESTAMP_SKEW)
    assert harness.provider.loads == 0  # rejected before any key lookup


def test_a7_fractional_clock_just_past_the_window(harness: Harness) -> None:
    req = signed_request(harness.signer())
    harness.clock.now = NOW + 300.5
    _assert_rejected(harness, req, AuthReason.TIMESTAMP_SKEW)


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "-1795788000",
        "1795788000.0",
        "1795788000.5",
        "01795788000",
        "0795788000",
        "17957880001795788000",
        "179578800",
        " 1795788000",
        "1795788000\n",
        "1795788000,1795788000",
        "\uff11\uff17\uff19\uff15\uff17\uff18\uff18\uff10\uff10\uff10",  # full-width digits
        "1e9",
    ],
)
def test_a7_malformed_timestamp(harness: Harness, value: str) -> None:
    req = _with_header(signed_request(harness.signer()), HEADER_TIMESTAMP, value)
    _assert_rejected(harness, req, AuthReason.MALFORMED_HEADER)


# --- A8: keys and audiences -------------------------------------------------------------------


def test_a8_unknown_key_id(harness: Harness) -> None:
    stranger = generate_key("bot-stranger")
    _assert_rejected(harness, signed_request(harness.signer(stranger)), AuthReason.UNKNOWN_KEY)


def test_a8_retired_key() -> None:
    harness = make_harness(retire(KeySet(keys=[ACTIVE, PREVIOUS]), PREVIOUS.id))
    _assert_rejected(harness, signed_request(harness.signer(PREVIOUS)), AuthReason.RETIRED_KEY)


def test_a8_verify_only_key_past_not_after(harness: Harness) -> None:
    assert PREVIOUS.not_after is not None
    harness.clock.now = PREVIOUS.not_after.timestamp() + 1
    _assert_rejected(harness, signed_request(harness.signer(PREVIOUS)), AuthReason.RETIRED_KEY)


def test_a8_key_bound_to_another_audience() -> None:
    staging = generate_key("bot-staging", audience="jit-api.staging.eu-central-1")
    harness = make_harness(KeySet(keys=[ACTIVE, staging]))
    req = signed_request(harness.signer(staging, audience="jit-api.staging.eu-central-1"))
    _assert_rejected(harness, req, AuthReason.KID_AUDIENCE_MISMATCH)


def test_a8_key_bound_to_this_audience_is_accepted() -> None:
    bound = generate_key("bot-bound", audience=AUDIENCE)
    harness = make_harness(KeySet(keys=[ACTIVE, bound]))
    assert harness.verifier.verify(signed_request(harness.signer(bound))).key_id == "bot-bound"


def test_a8_request_signed_for_staging_replayed_on_prod(harness: Harness) -> None:
    req = signed_request(harness.signer(audience="jit-api.staging.eu-central-1"))
    _assert_rejected(harness, req, AuthReason.BAD_SIGNATURE)


def test_a8_unknown_key_reloads_once_then_a_key_added_to_the_secret_is_accepted(harness: Harness) -> None:
    harness.verifier.verify(signed_request(harness.signer()))
    assert harness.provider.loads == 1

    newcomer = generate_key("bot-2027-02")
    _assert_rejected(harness, signed_request(harness.signer(newcomer)), AuthReason.UNKNOWN_KEY)
    assert harness.provider.loads == 2
    _assert_rejected(harness, signed_request(harness.signer(newcomer)), AuthReason.UNKNOWN_KEY)
    assert harness.provider.loads == 2  # rate-limited: no second read within 30 s

    harness.provider.keyset = add_key(harness.provider.keyset, newcomer)
    harness.clock.now += 30
    assert harness.verifier.verify(signed_request(harness.signer(newcomer))).key_id == newcomer.id
    assert harness.provider.loads == 3


def test_a8_signer_rolled_out_before_the_verifier_cache_is_accepted_after_one_reload(harness: Harness) -> None:
    harness.verifier.verify(signed_request(harness.signer()))
    newcomer = generate_key("bot-2027-02")
    harness.provider.keyset = add_key(harness.provider.keyset, newcomer)
    assert harness.verifier.verify(signed_request(harness.signer(newcomer))).key_id == newcomer.id
    assert harness.provider.loads == 2


def test_key_store_down_answers_503(harness: Harness) -> None:
    harness.provider.error = KeyStoreUnavailable("secrets manager down")
    _assert_rejected(harness, signed_request(harness.signer()), AuthReason.KEY_STORE_UNAVAILABLE, 503)
    assert harness.nonces.items == {}


# --- A9: header smuggling ---------------------------------------------------------------------


@pytest.mark.parametrize("name", SIGNED_HEADERS)
def test_a9_duplicate_header(harness: Harness, name: str) -> None:
    req = signed_request(harness.signer())
    duplicated = req.model_copy(update={"headers": [*req.headers, (name.lower(), _header(req, name))]})
    _assert_rejected(harness, duplicated, AuthReason.DUPLICATE_HEADER)


def _sig(req: SignedHttpRequest) -> str:
    return _header(req, HEADER_SIGNATURE)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda sig: f"{sig},{sig}",
        lambda sig: f"{sig}, v1={'0' * 64}",
        lambda sig: sig.upper(),
        lambda sig: "v1=" + sig[3:].upper(),
        lambda sig: sig[:-1],
        lambda sig: sig + "0",
        lambda sig: sig[3:],
        lambda sig: "v2=" + sig[3:],
        lambda sig: "sha256=" + sig[3:],
        lambda sig: sig + "\n",
        lambda sig: " " + sig,
    ],
    ids=[
        "comma_joined",
        "comma_joined_with_space",
        "all_upper",
        "uppercase_hex",
        "truncated",
        "overlong",
        "no_prefix",
        "wrong_version",
        "other_scheme",
        "trailing_newline",
        "leading_space",
    ],
)
def test_a9_malformed_signature(harness: Harness, mangle: object) -> None:
    req = signed_request(harness.signer())
    value: str = mangle(_sig(req))  # type: ignore[operator]
    _assert_rejected(harness, _with_header(req, HEADER_SIGNATURE, value), AuthReason.MALFORMED_HEADER)
    assert harness.nonces.items == {}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (HEADER_KEY_ID, "Bot-2026-11"),
        (HEADER_KEY_ID, "bot_2026"),
        (HEADER_KEY_ID, "b" * 33),
        (HEADER_KEY_ID, "bot-2026-11,bot-2026-08"),
        (HEADER_NONCE, "A" * 21),
        (HEADER_NONCE, "A" * 23),
        (HEADER_NONCE, "A" * 20 + "=="),
        (HEADER_NONCE, "A" * 21 + "+"),
    ],
)
def test_a9_other_malformed_headers(harness: Harness, name: str, value: str) -> None:
    _assert_rejected(harness, _with_header(signed_request(harness.signer()), name, value), AuthReason.MALFORMED_HEADER)


# --- A10: body size ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [16385, 1024 * 1024])
def test_a10_body_over_16_kib_answers_413(harness: Harness, size: int) -> None:
    req = signed_request(harness.signer(), body=b"x" * size)
    _assert_rejected(harness, req, AuthReason.BODY_TOO_LARGE, 413)


def test_a10_body_size_is_checked_before_anything_else(harness: Harness) -> None:
    req = SignedHttpRequest(method="POST", path="/x", query=[], headers=[], body=b"x" * 16385, source_ip="1.2.3.4")
    _assert_rejected(harness, req, AuthReason.BODY_TOO_LARGE, 413)


# --- A11: nonce store down --------------------------------------------------------------------


def test_a11_nonce_store_down_answers_503_and_accepts_nothing(harness: Harness) -> None:
    req = signed_request(harness.signer())
    harness.nonces.down = True
    _assert_rejected(harness, req, AuthReason.NONCE_STORE_UNAVAILABLE, 503)
    assert harness.nonces.items == {}
    # The nonce was not burnt: once the store is back the same request goes through (once).
    harness.nonces.down = False
    assert harness.verifier.verify(req).key_id == ACTIVE.id
    _assert_rejected(harness, req, AuthReason.REPLAYED_NONCE)


def test_nonce_is_not_written_for_a_bad_signature(harness: Harness) -> None:
    req = signed_request(harness.signer())
    _rejected(harness, req.model_copy(update={"body": b"{}"}))
    assert harness.nonces.items == {}
    assert harness.verifier.verify(req).key_id == ACTIVE.id


# --- the log line and the metric --------------------------------------------------------------


def _auth_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "backend.auth" and r.levelno == logging.WARNING]


def test_failure_logs_exactly_one_line_and_records_the_metric(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="backend.auth")
    req = signed_request(harness.signer(), source_ip="203.0.113.9")
    _rejected(harness, req.model_copy(update={"body": b"{}"}))
    assert _auth_warnings(caplog) == [
        "HMAC validation failed reason=bad_signature key_id=bot-2026-11 source_ip=203.0.113.9"
    ]
    assert harness.metrics.reasons == ["bad_signature"]
    assert _sig(req)[3:] not in caplog.text
    assert ACTIVE.secret not in caplog.text


def test_failure_without_a_usable_key_id_logs_a_dash(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="backend.auth")
    req = _with_header(signed_request(harness.signer()), HEADER_KEY_ID, "EVIL\nHMAC validation failed")
    _rejected(harness, req.model_copy(update={"source_ip": "1.2.3.4\nforged line"}))
    assert _auth_warnings(caplog) == [
        "HMAC validation failed reason=malformed_header key_id=- source_ip=1.2.3.4?forged?line"
    ]


def test_success_logs_nothing_and_records_nothing(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="backend.auth")
    harness.verifier.verify(signed_request(harness.signer()))
    assert _auth_warnings(caplog) == []
    assert harness.metrics.reasons == []


@pytest.mark.parametrize(
    ("make_request", "reason"),
    [
        (lambda h: _without_header(signed_request(h.signer()), HEADER_NONCE), "missing_header"),
        (lambda h: signed_request(h.signer(at=NOW - 301)), "timestamp_skew"),
        (lambda h: signed_request(h.signer(generate_key("bot-nobody"))), "unknown_key"),
        (lambda h: signed_request(h.signer(), body=b"x" * 20000), "body_too_large"),
    ],
)
def test_each_reason_has_its_log_line(
    harness: Harness, caplog: pytest.LogCaptureFixture, make_request: object, reason: str
) -> None:
    caplog.set_level(logging.WARNING, logger="backend.auth")
    req: SignedHttpRequest = make_request(harness)  # type: ignore[operator]
    _rejected(harness, req)
    key_id = _header(req, HEADER_KEY_ID)
    assert _auth_warnings(caplog) == [f"HMAC validation failed reason={reason} key_id={key_id} source_ip=10.0.0.7"]
    assert harness.metrics.reasons == [reason]


def test_status_codes_per_reason() -> None:
    assert {reason: AuthenticationFailed(reason).status_code for reason in AuthReason} == {
        **dict.fromkeys(AuthReason, 401),
        AuthReason.BODY_TOO_LARGE: 413,
        AuthReason.NONCE_STORE_UNAVAILABLE: 503,
        AuthReason.KEY_STORE_UNAVAILABLE: 503,
    }


def test_not_after_boundary_uses_the_injected_clock() -> None:
    soon = datetime.fromtimestamp(NOW, tz=UTC) + timedelta(seconds=10)
    leaving = generate_key("bot-leaving").model_copy(update={"not_after": soon})
    harness = make_harness(KeySet(keys=[ACTIVE, leaving]))
    assert harness.verifier.verify(signed_request(harness.signer(leaving))).key_id == "bot-leaving"
    harness.clock.now = NOW + 11
    _assert_rejected(harness, signed_request(harness.signer(leaving)), AuthReason.RETIRED_KEY)


def test_key_secret_encoding_round_trip_for_the_fixture() -> None:
    assert ACTIVE.secret == b64url_encode(ACTIVE.secret_bytes())
    assert ACTIVE.status is KeyStatus.ACTIVE
    assert BODY


@pytest.mark.parametrize("audience", ["", "prod\nstaging"])
def test_verifier_refuses_an_audience_that_breaks_the_canonical_string(audience: str) -> None:
    harness = make_harness()
    with pytest.raises(ValueError, match="audience"):
        HmacVerifier(
            keys=CachedKeySet(harness.provider),
            nonces=harness.nonces,
            audience=audience,
            clock=harness.clock,
            metrics=harness.metrics,
        )
