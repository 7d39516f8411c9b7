"""A cold jit-api container makes only the AWS clients its events need (issue 11 §4).

Clients are counted at the wire: botocore announces every client it makes with the
``creating-client-class`` event of the session the process is built from.
"""

from __future__ import annotations

import random

import boto3
import pytest

from backend.handlers.api import prepare_snapshot, process_from_env
from backend.wiring import SERVICES
from jitlocal.http_api import proxy_event
from jitwire.signing import RequestSigner
from tests.scenarios.helpers import ALICE, BOB, ask


def _watched_process(stack, sent: list[str] | None = None) -> tuple[object, list[str]]:
    session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=stack.config.region)
    made: list[str] = []
    session.events.register("creating-client-class", lambda event_name, **_: made.append(event_name.split(".", 1)[1]))
    if sent is not None:
        session.events.register("before-send", lambda event_name, **_: sent.append(event_name))
    env = {
        f"JIT_{name.upper()}": str(value) for name, value in stack.settings.model_dump().items() if value is not None
    }
    return process_from_env(env, session), made


def _signed_get(stack, path: str, query: list[tuple[str, str]]) -> dict:
    headers = RequestSigner(stack.signing_key(), stack.settings.audience).sign("GET", path, query, b"")
    target = path + "?" + "&".join(f"{name}={value}" for name, value in query)
    return proxy_event("GET", target, list(headers.items()), b"", "127.0.0.1")


def test_building_the_process_and_a_health_check_make_no_client(stack):
    process, made = _watched_process(stack)
    assert made == []

    answer = process.handle(proxy_event("GET", "/health", [], b"", "127.0.0.1"), None)

    assert answer["statusCode"] == 200
    assert made == []


def _actor_query(person) -> list[tuple[str, str]]:
    return [
        ("as_user_id", person.user_id),
        ("as_username", person.username),
        ("as_email", person.email),
        ("as_vouched_by", str(person.vouched_by)),
    ]


@pytest.mark.parametrize(
    ("reader", "clients"),
    [
        # The key set (Secrets Manager), the nonce, binding and request (DynamoDB). The requester reads
        # their own request, so no groups (identity store); no Step Functions, SNS, SSO admin or CloudWatch.
        (ALICE, ["dynamodb", "secrets-manager"]),
        (BOB, ["dynamodb", "identitystore", "secrets-manager"]),  # an approver: their groups decide
    ],
)
def test_a_signed_get_makes_only_the_clients_it_reads_with(stack, reader, clients):
    request_id = ask(stack).request_id
    process, made = _watched_process(stack)

    answer = process.handle(_signed_get(stack, f"/requests/{request_id}", _actor_query(reader)), None)

    assert answer["statusCode"] == 200, answer["body"]
    assert sorted(made) == clients


def test_the_snapstart_init_makes_the_signed_request_clients_calls_nothing_and_reseeds_after_restore(stack):
    sent: list[str] = []
    process, made = _watched_process(stack, sent)
    hooks: list = []

    prepare_snapshot(process, hooks.append)

    assert sorted(made) == ["dynamodb", "identitystore", "secrets-manager"]
    assert sent == []  # no connection or key material goes into the snapshot
    [after_restore] = hooks
    random.seed(7)
    snapshot_state = random.getstate()
    after_restore()
    assert random.getstate() != snapshot_state  # restored copies draw different jitter


def test_without_a_session_the_process_answers_on_plain_botocore(stack, monkeypatch):
    """The Lambda's own path: no boto3 session, botocore told only the services the process names."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    request_id = ask(stack).request_id
    env = {
        f"JIT_{name.upper()}": str(value) for name, value in stack.settings.model_dump().items() if value is not None
    }
    process = process_from_env(env)
    assert {client.service for client in vars(process.clients).values()} == set(SERVICES)  # all the loader knows
    answer = process.handle(_signed_get(stack, f"/requests/{request_id}", _actor_query(ALICE)), None)

    assert answer["statusCode"] == 200, answer["body"]
    assert sorted(c.service for c in vars(process.clients).values() if c.made) == ["dynamodb", "secretsmanager"]
