"""A test certificate authority and an SNS signer that follows the AWS documentation independently
of alarms.sns (so a bug in the verifier's canonical string cannot hide behind the same bug here)."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

FIXTURES = Path(__file__).parent / "fixtures"
REGION = "eu-central-1"
ACCOUNT = "123456789012"
ALARM_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:jit-alarms"
EVENTS_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:jit-events"
CERT_URL = f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-testca0001.pem"
NOW = datetime(2026, 11, 27, 14, 6, 30, tzinfo=UTC)


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass(frozen=True)
class LocalCa:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    def issue(self, cn: str, *, not_before: datetime, not_after: datetime) -> tuple[rsa.RSAPrivateKey, bytes]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return key, cert.public_bytes(serialization.Encoding.PEM)


def make_ca() -> LocalCa:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("JIT Test Root CA"))
        .issuer_name(_name("JIT Test Root CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2026, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2028, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return LocalCa(key=key, cert=cert)


def aws_string_to_sign(body: dict[str, Any]) -> bytes:
    """Straight from the AWS guide: Key\\nValue\\n in a fixed order, Subject only when present."""
    if body["Type"] == "Notification":
        keys = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        keys = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    return "".join(f"{k}\n{body[k]}\n" for k in keys if body.get(k) is not None).encode()


@dataclass
class Signer:
    key: rsa.RSAPrivateKey
    cert_url: str = CERT_URL
    fetched: list[str] = field(default_factory=list)

    def sign(self, body: dict[str, Any], version: str = "2") -> dict[str, Any]:
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signed = dict(body, SignatureVersion=version, SigningCertURL=self.cert_url)
        signature = self.key.sign(aws_string_to_sign(signed), padding.PKCS1v15(), algorithm)
        signed["Signature"] = base64.b64encode(signature).decode()
        return signed

    def notification(
        self, message: str, *, topic: str = ALARM_TOPIC, version: str = "2", subject: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": topic,
            "Message": message,
            "Timestamp": (NOW - timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "UnsubscribeURL": f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic}:x",
        }
        if subject is not None:
            body["Subject"] = subject
        return self.sign(body, version)

    def confirmation(self, kind: str, *, topic: str = ALARM_TOPIC, version: str = "2") -> dict[str, Any]:
        token = "2336412f37fb687f5d51e6e2425929f52e8e3531"
        body = {
            "Type": kind,
            "MessageId": str(uuid.uuid4()),
            "Token": token,
            "TopicArn": topic,
            "Message": f"You have chosen to subscribe to the topic {topic}.\nTo confirm, visit the SubscribeURL.",
            "SubscribeURL": (
                f"https://sns.{REGION}.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic}&Token={token}"
            ),
            "Timestamp": "2026-11-27T14:06:00.000Z",
        }
        return self.sign(body, version)


class CertHost:
    """The certificate fetcher handed to a verifier: serves PEMs by URL and records every fetch."""

    def __init__(self, store: dict[str, bytes]) -> None:
        self.store = store
        self.fetched: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.fetched.append(url)
        return self.store[url]


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, indent=2).encode()


@pytest.fixture(scope="session")
def test_ca() -> LocalCa:
    return make_ca()


@pytest.fixture(scope="session")
def sns_leaf(test_ca: LocalCa) -> tuple[rsa.RSAPrivateKey, bytes]:
    return test_ca.issue(
        "sns.amazonaws.com",
        not_before=datetime(2026, 6, 1, tzinfo=UTC),
        not_after=datetime(2027, 6, 1, tzinfo=UTC),
    )


@pytest.fixture
def signer(sns_leaf: tuple[rsa.RSAPrivateKey, bytes]) -> Signer:
    return Signer(key=sns_leaf[0])


@pytest.fixture
def cert_store(sns_leaf: tuple[rsa.RSAPrivateKey, bytes]) -> dict[str, bytes]:
    """URL → PEM, as a fake certificate host; tests may add entries."""
    return {CERT_URL: sns_leaf[1]}
