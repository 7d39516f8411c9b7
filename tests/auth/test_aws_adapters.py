"""The AWS adapters on moto: nonces in a real jit_nonces table, the key set in a real secret."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from backend.adapters.dynamodb_nonces import DynamoNonceStore
from backend.adapters.secrets_keyset import SecretsManagerKeySetProvider, write_keyset
from backend.adapters.tables import NONCES, create_table_kwargs
from backend.auth.errors import AuthenticationFailed, KeyStoreUnavailable, NonceStoreUnavailable
from backend.auth.keyset import CachedKeySet, KeySet, KeyStatus, add_key, generate_key
from backend.auth.verifier import HmacVerifier
from tests.auth.helpers import ACTIVE, AUDIENCE, PREVIOUS, FakeClock, RecordingMetrics, signed_request

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

SECRET_ID = "jit/hmac-keys"
REGION = "eu-central-1"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def dynamodb(aws: None) -> DynamoDBClient:
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(**create_table_kwargs(NONCES))
    return client


@pytest.fixture
def secrets(aws: None) -> SecretsManagerClient:
    return boto3.client("secretsmanager", region_name=REGION)


def _verifier(dynamodb: DynamoDBClient, secrets: SecretsManagerClient, clock: FakeClock) -> HmacVerifier:
    return HmacVerifier(
        keys=CachedKeySet(SecretsManagerKeySetProvider(secrets, SECRET_ID), clock=clock),
        nonces=DynamoNonceStore(dynamodb),
        audience=AUDIENCE,
        clock=clock,
        metrics=RecordingMetrics(),
    )


def _signer_for(entry: Any, clock: FakeClock) -> Any:
    from jitwire.signing import RequestSigner, SigningKey

    return RequestSigner(SigningKey(entry.id, entry.secret_bytes()), AUDIENCE, clock=clock)


# --- DynamoNonceStore -------------------------------------------------------------------------


def test_claim_writes_the_item_once(dynamodb: DynamoDBClient) -> None:
    store = DynamoNonceStore(dynamodb)
    assert store.claim("bot-2026-11", "n" * 22, 1795788360, "0123abcd") is True
    assert store.claim("bot-2026-11", "n" * 22, 1795788999, "ffffffff") is False
    items = dynamodb.scan(TableName=NONCES)["Items"]
    assert items == [
        {"nonce_key": {"S": "bot-2026-11#" + "n" * 22}, "expires_at": {"N": "1795788360"}, "sig8": {"S": "0123abcd"}}
    ]


def test_missing_table_raises_nonce_store_unavailable(aws: None) -> None:
    store = DynamoNonceStore(boto3.client("dynamodb", region_name=REGION))
    with pytest.raises(NonceStoreUnavailable, match="ResourceNotFoundException"):
        store.claim("bot-2026-11", "n" * 22, 1795788360, "0123abcd")


def test_unreachable_endpoint_raises_nonce_store_unavailable() -> None:
    from botocore.config import Config

    # Port 9 on localhost (discard) refuses connections: a real connection error, no retries.
    client = boto3.client(
        "dynamodb",
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1),
    )
    with pytest.raises(NonceStoreUnavailable, match="EndpointConnectionError"):
        DynamoNonceStore(client).claim("bot-2026-11", "n" * 22, 1795788360, "0123abcd")


def test_verifier_answers_503_when_the_nonce_table_is_missing(aws: None, secrets: SecretsManagerClient) -> None:
    write_keyset(secrets, SECRET_ID, KeySet(keys=[ACTIVE]), create_if_missing=True)
    clock = FakeClock()
    verifier = _verifier(boto3.client("dynamodb", region_name=REGION), secrets, clock)
    with pytest.raises(AuthenticationFailed) as caught:
        verifier.verify(signed_request(_signer_for(ACTIVE, clock)))
    assert (caught.value.reason, caught.value.status_code) == ("nonce_store_unavailable", 503)


@pytest.fixture
def serial_moto_endpoint(aws: None) -> Iterator[str]:
    """A moto server on 127.0.0.1 that handles one request at a time.

    moto's in-memory DynamoDB does not make a conditional PutItem atomic across threads (a
    threaded moto server let two of fifty identical claims through in about one run in thirty).
    Real DynamoDB serialises writes to an item; a single-threaded server gives the same guarantee
    at the wire, while the fifty verifications and the shared boto3 client stay truly concurrent.
    The enclosing ``mock_aws`` resets the (process-wide) moto state afterwards.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, app, threaded=False, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join()


def test_fifty_concurrent_identical_requests_accept_exactly_one(serial_moto_endpoint: str) -> None:
    from botocore.config import Config

    config = Config(max_pool_connections=50)
    dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=serial_moto_endpoint, config=config)
    secrets = boto3.client("secretsmanager", region_name=REGION, endpoint_url=serial_moto_endpoint, config=config)
    dynamodb.create_table(**create_table_kwargs(NONCES))
    write_keyset(secrets, SECRET_ID, KeySet(keys=[ACTIVE, PREVIOUS]), create_if_missing=True)
    clock = FakeClock()
    verifier = _verifier(dynamodb, secrets, clock)
    req = signed_request(_signer_for(ACTIVE, clock))
    barrier = threading.Barrier(50)

    def attempt() -> str:
        barrier.wait()
        try:
            verifier.verify(req)
        except AuthenticationFailed as failure:
            return failure.reason.value
        return "accepted"

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = [future.result() for future in [pool.submit(attempt) for _ in range(50)]]
    assert outcomes.count("accepted") == 1
    assert outcomes.count("replayed_nonce") == 49
    assert dynamodb.scan(TableName=NONCES)["Count"] == 1


# --- SecretsManagerKeySetProvider -------------------------------------------------------------


def test_provider_loads_what_write_keyset_stored(secrets: SecretsManagerClient) -> None:
    keyset = KeySet(keys=[ACTIVE, PREVIOUS])
    write_keyset(secrets, SECRET_ID, keyset, create_if_missing=True)
    assert SecretsManagerKeySetProvider(secrets, SECRET_ID).load() == keyset

    rotated = add_key(keyset, generate_key("bot-2027-02"))
    write_keyset(secrets, SECRET_ID, rotated)
    assert SecretsManagerKeySetProvider(secrets, SECRET_ID).load() == rotated


def test_write_keyset_refuses_to_create_a_secret_by_default(secrets: SecretsManagerClient) -> None:
    with pytest.raises(secrets.exceptions.ResourceNotFoundException):
        write_keyset(secrets, "jit/typo", KeySet(keys=[ACTIVE]))


def test_missing_secret_raises_key_store_unavailable(secrets: SecretsManagerClient) -> None:
    with pytest.raises(KeyStoreUnavailable, match="ResourceNotFoundException"):
        SecretsManagerKeySetProvider(secrets, SECRET_ID).load()


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"keys": []}',
        '{"keys": [{"id": "a", "secret": "c2hvcnQ", "status": "active"}]}',
    ],
)
def test_invalid_secret_raises_key_store_unavailable_without_echoing_it(
    secrets: SecretsManagerClient, text: str
) -> None:
    secrets.create_secret(Name=SECRET_ID, SecretString=text)
    with pytest.raises(KeyStoreUnavailable, match="key set secret is invalid") as caught:
        SecretsManagerKeySetProvider(secrets, SECRET_ID).load()
    assert "c2hvcnQ" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_binary_secret_raises_key_store_unavailable(secrets: SecretsManagerClient) -> None:
    secrets.create_secret(Name=SECRET_ID, SecretBinary=b"\x00\x01")
    with pytest.raises(KeyStoreUnavailable, match="no SecretString"):
        SecretsManagerKeySetProvider(secrets, SECRET_ID).load()


def test_key_added_to_the_secret_is_accepted_after_one_reload(
    dynamodb: DynamoDBClient, secrets: SecretsManagerClient
) -> None:
    write_keyset(secrets, SECRET_ID, KeySet(keys=[ACTIVE]), create_if_missing=True)
    clock = FakeClock()
    verifier = _verifier(dynamodb, secrets, clock)
    assert verifier.verify(signed_request(_signer_for(ACTIVE, clock))).key_id == ACTIVE.id

    newcomer = generate_key("bot-2027-02")
    write_keyset(secrets, SECRET_ID, add_key(KeySet(keys=[ACTIVE]), newcomer))
    assert verifier.verify(signed_request(_signer_for(newcomer, clock))).key_id == newcomer.id
    assert newcomer.status is KeyStatus.VERIFY_ONLY
