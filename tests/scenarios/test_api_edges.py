"""The API as API Gateway serves it: signatures, replays and bad input over real HTTP."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from backend.adapters import tables
from jitwire.signing import RequestSigner
from tests.scenarios.helpers import ALICE, item_count

CREATE = {
    "actor": ALICE.model_dump(),
    "account": "prod",
    "permission_set": "AdministratorAccess",
    "duration": "1h",
    "reason": "INC-7",
}


def send(stack, method, path, body=None, headers=None, query=""):
    # Patient: these tests check what the API answers, and fifty at once on a loaded 2-core CI
    # machine can take longer than a chat client would wait.
    raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(
        stack.api_url + path + (f"?{query}" if query else ""), data=raw or None, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def signed(stack, method, path, body, query=()):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = RequestSigner(stack.signing_key(), stack.config.audience).sign(method, path, list(query), raw)
    return raw, headers


def test_health_needs_no_signature(stack):
    assert send(stack, "GET", "/health") == (200, {"status": "ok"})


def test_unsigned_request_is_401_with_a_generic_body_and_a_logged_reason(stack, caplog):
    with caplog.at_level(logging.WARNING, logger="backend.auth"):
        status, body = send(stack, "POST", "/requests", CREATE)
    assert status == 401
    assert body["error"] == "unauthorized"
    assert "missing_header" not in json.dumps(body)
    assert "HMAC validation failed reason=missing_header key_id=- source_ip=127.0.0.1" in caplog.text
    assert item_count(stack, tables.REQUESTS) == 0
    metrics = stack.clients.cloudwatch.list_metrics(Namespace="JIT/Access", MetricName="HMACAuthFailures")
    assert metrics["Metrics"]


def test_unknown_route_is_401_unsigned_and_404_signed(stack):
    assert send(stack, "GET", "/nowhere")[0] == 401
    _raw, headers = signed(stack, "GET", "/nowhere", b"")
    status, body = send(stack, "GET", "/nowhere", headers=headers)
    assert status == 404
    assert "no route GET /nowhere" in body["message"]


def test_fifty_concurrent_replays_of_one_request_are_accepted_once(stack):
    raw, headers = signed(stack, "POST", "/requests", CREATE)
    headers["Content-Type"] = "application/json"
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda _: send(stack, "POST", "/requests", raw, headers)[0], range(50)))
    assert results.count(201) == 1
    assert results.count(401) == 49
    assert item_count(stack, tables.REQUESTS) == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"account": "dev"}, "unknown account 'dev'"),
        ({"permission_set": "Root"}, "unknown permission set 'Root'"),
        ({"duration": "forever"}, "is not a duration"),
        ({"duration": "9h"}, "at most 4h"),
        ({"reason": ""}, "reason"),
        ({"surprise": 1}, "surprise"),
        ({"actor": {"user_id": "x", "username": "x", "email": "not-an-email"}}, "actor.email"),
        ({"idempotency_key": "has spaces in it"}, "idempotency_key"),
    ],
)
def test_bad_create_bodies_get_a_specific_4xx_and_write_nothing(stack, change, reason):
    raw, headers = signed(stack, "POST", "/requests", {**CREATE, **change})
    status, body = send(stack, "POST", "/requests", raw, headers)
    assert 400 <= status < 500
    assert reason in body["message"]
    assert item_count(stack, tables.REQUESTS) == 0
    assert item_count(stack, tables.AUDIT) == 0


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"actor": 1, "actor": 2}', "repeats the key 'actor'"),
        (b"\xff\xfe", "not valid UTF-8"),
        (b"[1, 2]", "must be a JSON object"),
        (b"{", "not valid JSON"),
        (b'{"a":' * 12 + b"1" + b"}" * 12, "nested deeper"),
        # Deep enough for RecursionError in the decoder (was a 500), still under the 16 KiB limit.
        (b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}", "nested deeper"),
        (b'{"a":' + b"[" * 5000, "nested deeper"),
    ],
)
def test_malformed_json_is_refused_after_authentication(stack, raw, reason):
    raw, headers = signed(stack, "POST", "/requests", raw)
    status, body = send(stack, "POST", "/requests", raw, headers)
    assert status == 400
    assert reason in body["message"]


def test_a_non_ascii_signature_header_is_401_not_500(stack):
    raw, headers = signed(stack, "POST", "/requests", CREATE)
    name = next(k for k in headers if k.lower().endswith("signature"))
    headers[name] = headers[name][:-1] + "\u00e9"
    status, body = send(stack, "POST", "/requests", raw, headers)  # http.client sends it as latin-1
    assert (status, body["error"]) == (401, "unauthorized")


def test_body_over_16_kib_is_413(stack):
    raw, headers = signed(stack, "POST", "/requests", {**CREATE, "reason": "x" * 17000})
    assert send(stack, "POST", "/requests", raw, headers)[0] == 413


def test_reads_need_the_acting_user_in_the_signed_query(stack):
    _raw, headers = signed(stack, "GET", "/catalog", b"")
    status, body = send(stack, "GET", "/catalog", headers=headers)
    assert status == 400
    assert "as_user_id" in body["message"]


def test_unknown_request_is_404(stack):
    query = [
        ("as_user_id", "u1"),
        ("as_username", "alice"),
        ("as_email", "alice@example.com"),
        ("as_vouched_by", "sso:saml"),
    ]
    _raw, headers = signed(stack, "GET", "/requests/rnothere", b"", query)
    status, body = send(
        stack, "GET", "/requests/rnothere", headers=headers, query="&".join(f"{k}={v}" for k, v in query)
    )
    assert status == 404
    assert body["error"] == "not_found"


def test_an_account_the_bot_did_not_vouch_for_is_refused_with_the_reason(stack):
    query = [("as_user_id", "u-mallory"), ("as_username", "mallory"), ("as_email", "dave@example.com")]
    _raw, headers = signed(stack, "GET", "/catalog", b"", query)
    status, body = send(stack, "GET", "/catalog", headers=headers, query="&".join(f"{k}={v}" for k, v in query))
    assert (status, body["error"]) == (403, "identity_not_vouched")
    assert "cannot vouch for your Mattermost e-mail" in body["message"]
    assert stack.uow.identities.all() == []
