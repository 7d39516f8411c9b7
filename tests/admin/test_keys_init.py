"""``jit-admin keys init`` writes a key set only where none can exist: the secret is missing
(ResourceNotFoundException) or holds the template's empty placeholder. Faults at the wire."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from backend.auth.errors import KeyStoreUnavailable
from backend.auth.keyset import KeySet, KeyStatus, generate_key
from jitadmin.keys import KeyStore

SECRET = "jit/keyset"


@pytest.fixture
def secrets() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="eu-central-1")


def _stored(client: Any) -> KeySet:
    return KeySet.from_json(client.get_secret_value(SecretId=SECRET)["SecretString"])


def test_init_fills_the_templates_placeholder(secrets: Any) -> None:
    secrets.create_secret(Name=SECRET, SecretString='{"keys": []}')
    entry = generate_key("bot-1", status=KeyStatus.ACTIVE)
    KeyStore(secrets, SECRET).init(entry)
    assert _stored(secrets).active_key().id == "bot-1"


def test_init_creates_a_secret_that_does_not_exist(secrets: Any) -> None:
    KeyStore(secrets, SECRET).init(generate_key("bot-1", status=KeyStatus.ACTIVE))
    assert _stored(secrets).active_key().id == "bot-1"


def test_init_never_overwrites_a_live_key_set(secrets: Any) -> None:
    live = KeySet(keys=[generate_key("live", status=KeyStatus.ACTIVE)])
    secrets.create_secret(Name=SECRET, SecretString=live.to_json())
    with pytest.raises(ValueError, match="already holds keys"):
        KeyStore(secrets, SECRET).init(generate_key("bot-1", status=KeyStatus.ACTIVE))
    assert _stored(secrets).active_key().id == "live"


@pytest.mark.parametrize("code", ["ThrottlingException", "AccessDeniedException", "InternalServiceError"])
def test_a_throttled_or_denied_read_writes_nothing(code: str) -> None:
    client = boto3.client("secretsmanager", region_name="eu-central-1")
    with Stubber(client) as stub:  # any put/create would be an unexpected call and fail the test
        stub.add_client_error("get_secret_value", service_error_code=code, http_status_code=400)
        with pytest.raises(KeyStoreUnavailable, match="cannot read key set secret"):
            KeyStore(client, SECRET).init(generate_key("bot-1", status=KeyStatus.ACTIVE))
        stub.assert_no_pending_responses()


def test_unreadable_secret_text_is_not_taken_for_an_empty_one(secrets: Any) -> None:
    secrets.create_secret(Name=SECRET, SecretString=json.dumps({"keys": "garbage"}))
    with pytest.raises(ValueError, match="already holds keys"):
        KeyStore(secrets, SECRET).init(generate_key("bot-1", status=KeyStatus.ACTIVE))
