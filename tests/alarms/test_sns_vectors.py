"""Genuine AWS-signed SNS messages with the certificates that signed them (fixtures/sns-vectors/README.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alarms.sns import SnsRejected, SnsVerifier

VECTORS = Path(__file__).parent / "fixtures" / "sns-vectors"
CERTS = VECTORS / "certs"
FILES = sorted(VECTORS.glob("*/*.json"))
SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn"),
}


def local_certs(url: str) -> bytes:
    """Never fetch: map the URL's basename to the stored certificate."""
    return (CERTS / url.rsplit("/", 1)[1]).read_bytes()


def verifier_for(body: dict[str, Any], *, now: datetime | None = None) -> SnsVerifier:
    # Pin the clock just after the message was sent: inside the certificate's validity and the age window.
    sent = datetime.fromisoformat(body["Timestamp"])
    clock_value = now or sent + timedelta(minutes=1)
    return SnsVerifier(frozenset({body["TopicArn"]}), local_certs, lambda: clock_value)


def test_there_are_fifteen_vectors() -> None:
    assert len(FILES) == 15


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_genuine_vector_verifies(path: Path) -> None:
    raw = path.read_bytes()
    body = json.loads(raw)
    message = verifier_for(body).verify(raw)
    assert message.message == body["Message"]
    assert message.signature_version in {"1", "2"}


def test_both_signature_versions_are_covered() -> None:
    versions = {json.loads(p.read_bytes())["SignatureVersion"] for p in FILES}
    types = {json.loads(p.read_bytes())["Type"] for p in FILES}
    assert versions == {"1", "2"}
    assert types == set(SIGNED)


def _altered(path: Path) -> list[tuple[str, str]]:
    body = json.loads(path.read_bytes())
    return [(path.name, key) for key in SIGNED[body["Type"]] if key in body and key != "Type"]


@pytest.mark.parametrize(("name", "key"), [case for p in FILES for case in _altered(p)])
def test_every_altered_signed_field_is_rejected(name: str, key: str) -> None:
    path = next(p for p in FILES if p.name == name)
    body = json.loads(path.read_bytes())
    value = body[key]
    # Keep the value well-formed (the timestamp must still parse) but different by one character.
    body[key] = value[:-2] + ("0" if value[-2] != "0" else "1") + value[-1]
    verifier = SnsVerifier(
        frozenset({body["TopicArn"]}),
        local_certs,
        lambda: datetime.fromisoformat(json.loads(path.read_bytes())["Timestamp"]) + timedelta(minutes=1),
    )
    with pytest.raises(SnsRejected) as caught:
        verifier.verify(json.dumps(body).encode())
    # A confirmation whose SubscribeURL no longer names its TopicArn is refused before any certificate fetch.
    cheaper = {"bad_confirm_url"} if body["Type"] == "SubscriptionConfirmation" and key == "TopicArn" else set()
    assert caught.value.reason in {"bad_signature", *cheaper}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_wrong_hash_for_version_is_rejected(path: Path) -> None:
    body = json.loads(path.read_bytes())
    body["SignatureVersion"] = "2" if body["SignatureVersion"] == "1" else "1"
    with pytest.raises(SnsRejected) as caught:
        verifier_for(body).verify(json.dumps(body).encode())
    assert caught.value.reason == "bad_signature"


def test_another_certificate_does_not_verify() -> None:
    path = VECTORS / "aws-sdk-java-v2" / "test-notification-signature-v2.json"
    body = json.loads(path.read_bytes())

    def wrong_cert(url: str) -> bytes:
        return (CERTS / "SimpleNotificationService-56e67fcb41f6fec09b0196692625d385.pem").read_bytes()

    # The other certificate expired in 2023: judge it at a time it was valid, without the age check.
    verifier = SnsVerifier(
        frozenset({body["TopicArn"]}), wrong_cert, lambda: datetime(2023, 1, 1, tzinfo=UTC), max_age=None
    )
    with pytest.raises(SnsRejected) as caught:
        verifier.verify(path.read_bytes())
    assert caught.value.reason == "bad_signature"


def test_expired_certificate_is_rejected_at_todays_date() -> None:
    path = VECTORS / "aws-php-sns-message-validator" / "http-fixture-2-v2.json"
    body = json.loads(path.read_bytes())
    verifier = SnsVerifier(
        frozenset({body["TopicArn"]}), local_certs, lambda: datetime(2026, 11, 27, tzinfo=UTC), max_age=None
    )
    with pytest.raises(SnsRejected) as caught:
        verifier.verify(path.read_bytes())
    assert caught.value.reason == "expired_certificate"


def test_old_message_is_stale_even_with_a_valid_certificate() -> None:
    path = VECTORS / "aws-sdk-java-v2" / "test-notification-signature-v2.json"
    body = json.loads(path.read_bytes())
    later = datetime.fromisoformat(body["Timestamp"]) + timedelta(hours=2)
    with pytest.raises(SnsRejected) as caught:
        verifier_for(body, now=later).verify(path.read_bytes())
    assert caught.value.reason == "stale_message"
