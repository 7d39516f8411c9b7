"""Verification of Amazon SNS HTTP(S) messages (signature versions 1 and 2) and topic routing.

Steps follow the AWS guide (docs/architecture.md, "SNS intake"). The caller fetches certificates
(``fetch_certificate``: HTTPS with normal TLS validation, no redirects, short timeout); the pinned
SNS host of the certificate URL plus that TLS check is the trust anchor, as in the AWS SDK verifiers.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
import re
import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator

from jitwire.names import ALARMS_TOPIC_NAME, EVENTS_TOPIC_NAME

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)

MessageType = Literal["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]
TrustMode = Literal["aws", "local-unsigned"]
Route = Literal["lifecycle", "alarm"]
RejectReason = Literal[
    "malformed",
    "body_too_large",
    "type_mismatch",
    "topic_not_allowed",
    "unsupported_signature_version",
    "bad_cert_url",
    "certificate_unavailable",
    "bad_certificate",
    "expired_certificate",
    "bad_signature",
    "stale_message",
    "not_loopback",
    "unroutable_topic",
    "bad_confirm_url",
]

MAX_BODY_BYTES = 512 * 1024  # SNS messages are at most 256 KiB; the envelope adds escaping.

_REGION = r"[a-z]{2}(?:-gov)?-[a-z]+-\d"
_SNS_HOST = re.compile(rf"^sns\.{_REGION}\.amazonaws\.com(?:\.cn)?$")
_SNS_CERT_NAME = re.compile(rf"^sns(?:\.{_REGION})?\.amazonaws\.com(?:\.cn)?$")

_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_SUBSCRIPTION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


class SnsRejected(Exception):
    """The message must not be acted on. ``reason`` is safe to log; it never carries the signature."""

    def __init__(self, reason: RejectReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: RejectReason = reason


class SnsMessage(BaseModel):
    """The SNS envelope. Unknown keys (MessageAttributes, ...) are ignored and never signed."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    type: MessageType = Field(alias="Type")
    message_id: str = Field(alias="MessageId", min_length=1)
    topic_arn: str = Field(alias="TopicArn", min_length=1)
    subject: str | None = Field(default=None, alias="Subject")
    message: str = Field(alias="Message")
    timestamp: str = Field(alias="Timestamp")
    signature_version: str = Field(alias="SignatureVersion")
    signature: str = Field(alias="Signature")
    # Lambda-delivered records spell these two with "Url"; HTTP deliveries with "URL".
    signing_cert_url: str = Field(validation_alias=AliasChoices("SigningCertURL", "SigningCertUrl"))
    subscribe_url: str | None = Field(default=None, alias="SubscribeURL")
    token: str | None = Field(default=None, alias="Token")
    unsubscribe_url: str | None = Field(default=None, validation_alias=AliasChoices("UnsubscribeURL", "UnsubscribeUrl"))

    @model_validator(mode="after")
    def _confirmation_fields(self) -> SnsMessage:
        if self.type != "Notification" and (self.subscribe_url is None or self.token is None):
            raise ValueError(f"{self.type} needs SubscribeURL and Token")
        return self

    @property
    def sent_at(self) -> datetime:
        sent = datetime.fromisoformat(self.timestamp)
        if sent.tzinfo is None:
            raise ValueError("Timestamp has no time zone")
        return sent

    @property
    def topic_name(self) -> str:
        return self.topic_arn.rsplit(":", 1)[-1]


def canonical_bytes(message: SnsMessage) -> bytes:
    """The string AWS signed: ``Key\\nValue\\n`` for a fixed key list (never the sender's keys)."""
    values = {
        "Message": message.message,
        "MessageId": message.message_id,
        "Subject": message.subject,
        "SubscribeURL": message.subscribe_url,
        "Timestamp": message.timestamp,
        "Token": message.token,
        "TopicArn": message.topic_arn,
        "Type": message.type,
    }
    fields = _NOTIFICATION_FIELDS if message.type == "Notification" else _SUBSCRIPTION_FIELDS
    parts = [f"{key}\n{values[key]}\n" for key in fields if values[key] is not None]
    return "".join(parts).encode("utf-8")


def _is_sns_https_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and parts.username is None
        and parts.password is None
        and port is None
        and "@" not in parts.netloc
        and parts.hostname is not None
        and parts.netloc == parts.hostname
        and _SNS_HOST.fullmatch(parts.hostname) is not None
    )


def cert_url_allowed(url: str) -> bool:
    """https, host exactly ``sns.<region>.amazonaws.com[.cn]``, no user-info or port, path ends ``.pem``."""
    return _is_sns_https_url(url) and urlsplit(url).path.endswith(".pem") and not urlsplit(url).query


def confirm_url_allowed(url: str, topic_arn: str | None = None) -> bool:
    """Only a ConfirmSubscription call on the SNS host (optionally for exactly ``topic_arn``) may be visited."""
    if not _is_sns_https_url(url):
        return False
    query = parse_qs(urlsplit(url).query)
    if query.get("Action") != ["ConfirmSubscription"]:
        return False
    return topic_arn is None or query.get("TopicArn") == [topic_arn]


def route(message: SnsMessage) -> Route:
    """Lifecycle events come from ``jit-events``, alarms from ``jit-alarms``."""
    if message.topic_name == EVENTS_TOPIC_NAME:
        return "lifecycle"
    if message.topic_name == ALARMS_TOPIC_NAME:
        return "alarm"
    raise SnsRejected("unroutable_topic", message.topic_arn)


def _is_loopback(source_ip: str | None) -> bool:
    if source_ip is None:
        return False
    try:
        return ipaddress.ip_address(source_ip).is_loopback
    except ValueError:
        return False


class _CertificateCache:
    """Certificates by URL, safe to share between request threads: a bounded LRU of good ones, a
    bounded memory of URLs that failed (not fetched again for ``failure_ttl``), and at most
    ``max_fetches`` fetches in flight; past that a message is refused at once (SNS retries) instead
    of queueing behind a slow host."""

    def __init__(
        self,
        fetch: Callable[[str], bytes],
        maxsize: int,
        clock: Callable[[], datetime],
        failure_ttl: timedelta,
        max_fetches: int,
    ) -> None:
        self._fetch = fetch
        self._maxsize = maxsize
        self._clock = clock
        self._failure_ttl = failure_ttl
        self._items: OrderedDict[str, x509.Certificate] = OrderedDict()
        self._failed: OrderedDict[str, tuple[datetime, SnsRejected]] = OrderedDict()
        self._lock = threading.Lock()
        self._fetching = threading.BoundedSemaphore(max_fetches)

    def get(self, url: str) -> x509.Certificate:
        with self._lock:
            if url in self._items:
                self._items.move_to_end(url)
                return self._items[url]
            failed = self._failed.get(url)
            if failed is not None and self._clock() < failed[0] + self._failure_ttl:
                raise SnsRejected(failed[1].reason, "failed recently; not fetched again yet")
        if not self._fetching.acquire(blocking=False):
            raise SnsRejected("certificate_unavailable", "too many certificate fetches in flight")
        try:
            cert = self._load(url)
        except SnsRejected as rejected:
            self._remember_failure(url, rejected)
            raise
        finally:
            self._fetching.release()
        with self._lock:
            self._failed.pop(url, None)
            self._items[url] = cert
            self._items.move_to_end(url)
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)
        return cert

    def _load(self, url: str) -> x509.Certificate:
        try:
            pem = self._fetch(url)
        except Exception as exc:  # any fetch failure means "cannot verify"
            raise SnsRejected("certificate_unavailable", type(exc).__name__) from exc
        try:
            return x509.load_pem_x509_certificate(pem)
        except ValueError as exc:
            raise SnsRejected("bad_certificate", "not a PEM certificate") from exc

    def _remember_failure(self, url: str, rejected: SnsRejected) -> None:
        with self._lock:
            self._failed[url] = (self._clock(), rejected)
            self._failed.move_to_end(url)
            while len(self._failed) > self._maxsize * 8:
                self._failed.popitem(last=False)


def _names(cert: x509.Certificate) -> list[str]:
    names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return names
    return names + san.value.get_values_for_type(x509.DNSName)


class SnsVerifier:
    """Verify raw SNS bodies. ``trust_mode="local-unsigned"`` exists only for moto on loopback."""

    def __init__(
        self,
        allowed_topics: frozenset[str],
        fetch_certificate: Callable[[str], bytes],
        clock: Callable[[], datetime],
        *,
        trust_mode: TrustMode = "aws",
        max_age: timedelta | None = timedelta(hours=1),
        cache_size: int = 32,
        failure_ttl: timedelta = timedelta(minutes=5),
        max_fetches: int = 4,
    ) -> None:
        if trust_mode not in ("aws", "local-unsigned"):
            raise ValueError(f"unknown trust mode {trust_mode!r}")
        self._allowed = allowed_topics
        self._certs = _CertificateCache(fetch_certificate, cache_size, clock, failure_ttl, max_fetches)
        self._clock = clock
        self._trust_mode: TrustMode = trust_mode
        self._max_age = max_age
        if trust_mode == "local-unsigned":
            logger.warning("SNS trust mode local-unsigned: signatures are NOT checked (loopback senders only)")

    @property
    def trust_mode(self) -> TrustMode:
        return self._trust_mode

    def verify(
        self, raw_body: bytes, *, source_ip: str | None = None, message_type_header: str | None = None
    ) -> SnsMessage:
        """``precheck`` then ``check_signature``: the whole verification in one (blocking) call."""
        message = self.precheck(raw_body, source_ip=source_ip, message_type_header=message_type_header)
        if self.needs_signature_check:
            self.check_signature(message)
        return message

    @property
    def needs_signature_check(self) -> bool:
        return self._trust_mode == "aws"

    def precheck(
        self, raw_body: bytes, *, source_ip: str | None = None, message_type_header: str | None = None
    ) -> SnsMessage:
        """Every check that needs no network, so a forged message is refused before any fetch:
        size, shape, topic allow-list, age, signature version and the certificate and confirm URLs."""
        if len(raw_body) > MAX_BODY_BYTES:
            raise SnsRejected("body_too_large")
        message = self._parse(raw_body)
        if message_type_header is not None and message_type_header != message.type:
            raise SnsRejected("type_mismatch")
        if message.topic_arn not in self._allowed:
            raise SnsRejected("topic_not_allowed", message.topic_arn)
        if self._trust_mode == "local-unsigned":
            return self._accept_unsigned(message, source_ip)
        self._check_age(message)
        if message.signature_version not in ("1", "2"):
            raise SnsRejected("unsupported_signature_version", message.signature_version)
        if not cert_url_allowed(message.signing_cert_url):
            raise SnsRejected("bad_cert_url", message.signing_cert_url)
        # Confirming means the bot GETs this URL: only a ConfirmSubscription on the SNS host, for this topic.
        if message.type == "SubscriptionConfirmation" and not confirm_url_allowed(
            message.subscribe_url or "", message.topic_arn
        ):
            raise SnsRejected("bad_confirm_url")
        return message

    @staticmethod
    def _parse(raw_body: bytes) -> SnsMessage:
        try:
            data = json.loads(raw_body.decode("utf-8"))
            if not isinstance(data, dict):
                raise SnsRejected("malformed", "not a JSON object")
            return SnsMessage.model_validate(data)
        except (UnicodeDecodeError, json.JSONDecodeError, ValidationError) as exc:
            raise SnsRejected("malformed", type(exc).__name__) from exc

    def _accept_unsigned(self, message: SnsMessage, source_ip: str | None) -> SnsMessage:
        if not _is_loopback(source_ip):
            raise SnsRejected("not_loopback", str(source_ip))
        logger.warning(
            "SNS message accepted WITHOUT signature check (trust mode local-unsigned) "
            "message_id=%s topic=%s source_ip=%s",
            message.message_id,
            message.topic_arn,
            source_ip,
        )
        return message

    def check_signature(self, message: SnsMessage) -> None:
        """The certificate (fetched at most once per URL and cache window; may block) and the signature."""
        algorithm: hashes.HashAlgorithm
        if message.signature_version == "1":
            algorithm = hashes.SHA1()  # noqa: S303 - AWS signature version 1 is SHA1withRSA
        elif message.signature_version == "2":
            algorithm = hashes.SHA256()
        else:
            raise SnsRejected("unsupported_signature_version", message.signature_version)
        if not cert_url_allowed(message.signing_cert_url):
            raise SnsRejected("bad_cert_url", message.signing_cert_url)
        cert = self._certs.get(message.signing_cert_url)
        now = self._clock()
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise SnsRejected("expired_certificate", message.signing_cert_url)
        if not any(_SNS_CERT_NAME.fullmatch(name) for name in _names(cert)):
            raise SnsRejected("bad_certificate", "not issued to SNS")
        public_key = cert.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise SnsRejected("bad_certificate", "not an RSA key")
        try:
            signature = base64.b64decode(message.signature, validate=True)
            public_key.verify(signature, canonical_bytes(message), padding.PKCS1v15(), algorithm)
        except (binascii.Error, ValueError, InvalidSignature) as exc:
            raise SnsRejected("bad_signature") from exc

    def _check_age(self, message: SnsMessage) -> None:
        if self._max_age is None:
            return
        try:
            sent = message.sent_at
        except ValueError as exc:
            raise SnsRejected("malformed", "Timestamp") from exc
        now = self._clock()
        # SNS retries end 3,600 s after the first attempt; a few minutes of clock skew are tolerated.
        if sent < now - self._max_age or sent > now + timedelta(minutes=5):
            raise SnsRejected("stale_message", message.timestamp)


class SeenMessages:
    """Bounded, thread-safe memory of handled MessageIds. Mark only after the post succeeded,
    so a failed post is retried by SNS."""

    def __init__(self, maxlen: int = 10_000) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be positive")
        self._maxlen = maxlen
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def is_seen(self, message_id: str) -> bool:
        with self._lock:
            return message_id in self._ids

    def mark(self, message_id: str) -> None:
        with self._lock:
            self._ids[message_id] = None
            self._ids.move_to_end(message_id)
            while len(self._ids) > self._maxlen:
                self._ids.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)
