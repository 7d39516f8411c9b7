from __future__ import annotations

import inspect
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from alarms.sns import (
    SeenMessages,
    SnsMessage,
    SnsRejected,
    SnsVerifier,
    canonical_bytes,
    cert_url_allowed,
    confirm_url_allowed,
    route,
)
from tests.alarms.conftest import (
    ALARM_TOPIC,
    CERT_URL,
    EVENTS_TOPIC,
    NOW,
    CertHost,
    LocalCa,
    Signer,
    aws_string_to_sign,
    encode,
    fixture_text,
)

ALLOWED = frozenset({ALARM_TOPIC, EVENTS_TOPIC})


@pytest.fixture
def host(cert_store: dict[str, bytes]) -> CertHost:
    return CertHost(cert_store)


@pytest.fixture
def verifier(host: CertHost) -> SnsVerifier:
    return SnsVerifier(ALLOWED, host, lambda: NOW)


def reason_of(verifier: SnsVerifier, raw: bytes, **kwargs: str) -> str:
    with pytest.raises(SnsRejected) as caught:
        verifier.verify(raw, **kwargs)
    return caught.value.reason


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize(
    "fixture",
    [
        "jit-grantrevokefailed.alarm.message.json",
        "jit-lambdaerrorrate.alarm.message.json",
        "jit-api5xxrate.insufficient-data.message.json",
        "jit-lambdaduration.alarm.message.json",
    ],
)
def test_signed_cloudwatch_shapes_verify(verifier: SnsVerifier, signer: Signer, fixture: str, version: str) -> None:
    body = signer.notification(fixture_text(fixture), version=version, subject='ALARM: "x" in EU (Frankfurt)')
    message = verifier.verify(encode(body), message_type_header="Notification")
    assert message.message == fixture_text(fixture)
    assert message.subject == 'ALARM: "x" in EU (Frankfurt)'
    assert route(message) == "alarm"


def test_canonical_bytes_match_the_aws_recipe(signer: Signer) -> None:
    for body in (signer.notification("m\nline"), signer.confirmation("SubscriptionConfirmation")):
        assert canonical_bytes(SnsMessage.model_validate(body)) == aws_string_to_sign(body)


def test_confirmations_verify_and_route(verifier: SnsVerifier, signer: Signer) -> None:
    for kind in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
        message = verifier.verify(encode(signer.confirmation(kind, topic=EVENTS_TOPIC, version="1")))
        assert message.type == kind
        assert route(message) == "lifecycle"
        assert message.subscribe_url is not None
        assert confirm_url_allowed(message.subscribe_url, EVENTS_TOPIC)
        assert not confirm_url_allowed(message.subscribe_url, ALARM_TOPIC)


def test_confirmation_for_a_foreign_topic_is_rejected(verifier: SnsVerifier, signer: Signer) -> None:
    body = signer.confirmation("SubscriptionConfirmation", topic="arn:aws:sns:eu-central-1:999999999999:evil")
    assert reason_of(verifier, encode(body)) == "topic_not_allowed"


def test_forged_by_another_key(verifier: SnsVerifier) -> None:
    forger = Signer(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    body = forger.notification(fixture_text("jit-lambdaerrorrate.alarm.message.json"))
    assert reason_of(verifier, encode(body)) == "bad_signature"


def test_unsigned(verifier: SnsVerifier, signer: Signer) -> None:
    body = signer.notification("x")
    del body["Signature"]
    assert reason_of(verifier, encode(body)) == "malformed"
    body["Signature"] = ""
    assert reason_of(verifier, encode(body)) == "bad_signature"
    body["Signature"] = "not base64 !!"
    assert reason_of(verifier, encode(body)) == "bad_signature"


def test_wrong_topic(verifier: SnsVerifier, signer: Signer, host: CertHost) -> None:
    body = signer.notification("x", topic="arn:aws:sns:eu-central-1:123456789012:jit-alarms-other")
    assert reason_of(verifier, encode(body)) == "topic_not_allowed"
    assert host.fetched == []  # nothing is fetched for a topic we do not know


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.eu-central-1.amazonaws.com/SimpleNotificationService-testca0001.pem",
        "https://sns.eu-central-1.amazonaws.com.evil.com/SimpleNotificationService-testca0001.pem",
        "https://evil.com/sns.eu-central-1.amazonaws.com/x.pem",
        "https://sns.eu-central-1.amazonaws.com@evil.com/x.pem",
        "https://user:pw@sns.eu-central-1.amazonaws.com/x.pem",
        "https://sns.eu-central-1.amazonaws.com:8443/x.pem",
        "https://sns.eu-central-1.amazonaws.com/x.pem.txt",
        "https://sns.eu-central-1.amazonaws.com/x",
        "https://sns.eu-central-1.amazonaws.com/x.pem?redirect=https://evil.com/y.pem",
        "https://sns.amazonaws.com/x.pem",
        "https://sqs.eu-central-1.amazonaws.com/x.pem",
        "https://sns.eu-central-1.amazonaws.co/x.pem",
        "https://SNS.eu-central-1.amazonaws.com.evil/x.pem",
        "https://sns.evil-1.amazonaws.com/x.pem",
        "https://sns.eu-central-1.amazonaws.com\\@evil.com/x.pem",
        "//sns.eu-central-1.amazonaws.com/x.pem",
        "file:///etc/x.pem",
    ],
)
def test_foreign_certificate_url(verifier: SnsVerifier, signer: Signer, host: CertHost, url: str) -> None:
    signer.cert_url = url
    host.store[url] = host.store[CERT_URL]  # even if the host would serve our key, the URL is refused
    assert not cert_url_allowed(url)
    assert reason_of(verifier, encode(signer.notification("x"))) == "bad_cert_url"
    assert host.fetched == []


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
    ],
)
def test_pinned_certificate_urls(url: str) -> None:
    assert cert_url_allowed(url)


@pytest.mark.parametrize("key", ["Message", "MessageId", "Subject", "Timestamp", "TopicArn"])
def test_tampered(verifier: SnsVerifier, signer: Signer, key: str) -> None:
    body = signer.notification(fixture_text("jit-lambdaerrorrate.alarm.message.json"), subject="ALARM")
    original = body[key]
    body[key] = {
        "Message": body["Message"].replace("7.3", "0.3"),
        "MessageId": body["MessageId"][:-1] + ("0" if body["MessageId"][-1] != "0" else "1"),
        "Subject": "OK",
        "Timestamp": body["Timestamp"].replace(":20.", ":21."),
        "TopicArn": EVENTS_TOPIC,
    }[key]
    assert body[key] != original
    assert reason_of(verifier, encode(body)) == "bad_signature"


def test_subject_removed_is_tampering(verifier: SnsVerifier, signer: Signer) -> None:
    body = signer.notification("x", subject="ALARM")
    del body["Subject"]
    assert reason_of(verifier, encode(body)) == "bad_signature"


def test_unsigned_fields_may_change(verifier: SnsVerifier, signer: Signer) -> None:
    body = signer.notification("x")
    body["UnsubscribeURL"] = "https://elsewhere.example/"
    body["MessageAttributes"] = {"a": {"Type": "String", "Value": "b"}}
    assert verifier.verify(encode(body)).message == "x"


def test_unsupported_signature_version(verifier: SnsVerifier, signer: Signer) -> None:
    body = signer.notification("x")
    body["SignatureVersion"] = "3"
    assert reason_of(verifier, encode(body)) == "unsupported_signature_version"


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[]", b'{"Type": "Notification"}', b"\xff\xfe", b'{"Type": "Other", "MessageId": "1"}'],
)
def test_malformed(verifier: SnsVerifier, raw: bytes) -> None:
    assert reason_of(verifier, raw) == "malformed"


def test_confirmation_without_token_is_malformed(verifier: SnsVerifier, signer: Signer) -> None:
    body = signer.confirmation("SubscriptionConfirmation")
    del body["Token"]
    assert reason_of(verifier, encode(body)) == "malformed"


def test_oversized_body(verifier: SnsVerifier) -> None:
    assert reason_of(verifier, b" " * (512 * 1024 + 1)) == "body_too_large"


def test_header_type_must_match(verifier: SnsVerifier, signer: Signer) -> None:
    raw = encode(signer.notification("x"))
    assert reason_of(verifier, raw, message_type_header="SubscriptionConfirmation") == "type_mismatch"


def test_certificate_validity_uses_the_injected_clock(host: CertHost, signer: Signer) -> None:
    body = signer.notification("x")
    expired = SnsVerifier(ALLOWED, host, lambda: datetime(2027, 7, 1, tzinfo=UTC), max_age=None)
    assert reason_of(expired, encode(body)) == "expired_certificate"
    early = SnsVerifier(ALLOWED, host, lambda: datetime(2026, 5, 1, tzinfo=UTC), max_age=None)
    assert reason_of(early, encode(body)) == "expired_certificate"


def test_stale_and_future_messages(host: CertHost, signer: Signer) -> None:
    body = encode(signer.notification("x"))
    assert reason_of(SnsVerifier(ALLOWED, host, lambda: NOW + timedelta(hours=2)), body) == "stale_message"
    assert reason_of(SnsVerifier(ALLOWED, host, lambda: NOW - timedelta(hours=1)), body) == "stale_message"


def test_certificate_not_issued_to_sns(test_ca: LocalCa, host: CertHost) -> None:
    key, pem = test_ca.issue(
        "evil.example.com", not_before=datetime(2026, 1, 1, tzinfo=UTC), not_after=datetime(2027, 1, 1, tzinfo=UTC)
    )
    url = "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-other.pem"
    host.store[url] = pem
    signer = Signer(key=key, cert_url=url)
    assert reason_of(SnsVerifier(ALLOWED, host, lambda: NOW), encode(signer.notification("x"))) == "bad_certificate"


def test_certificate_fetch_failure_and_garbage(host: CertHost, signer: Signer) -> None:
    signer.cert_url = "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-missing.pem"
    verifier = SnsVerifier(ALLOWED, host, lambda: NOW)
    assert reason_of(verifier, encode(signer.notification("x"))) == "certificate_unavailable"
    host.store[signer.cert_url] = b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"
    assert reason_of(SnsVerifier(ALLOWED, host, lambda: NOW), encode(signer.notification("x"))) == "bad_certificate"


def test_a_failed_certificate_url_is_not_fetched_again_within_the_window(
    host: CertHost, signer: Signer, sns_leaf: tuple[rsa.RSAPrivateKey, bytes]
) -> None:
    now = [NOW]
    signer.cert_url = "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-missing.pem"
    verifier = SnsVerifier(ALLOWED, host, lambda: now[0], failure_ttl=timedelta(minutes=5))
    for _ in range(5):
        assert reason_of(verifier, encode(signer.notification("x"))) == "certificate_unavailable"
    assert host.fetched == [signer.cert_url]
    host.store[signer.cert_url] = sns_leaf[1]  # the host recovers; still not asked inside the window
    now[0] = NOW + timedelta(minutes=4)
    assert reason_of(verifier, encode(signer.notification("x"))) == "certificate_unavailable"
    assert host.fetched == [signer.cert_url]
    now[0] = NOW + timedelta(minutes=6)
    verifier.verify(encode(signer.notification("x")))
    assert host.fetched == [signer.cert_url, signer.cert_url]


def test_certificate_fetches_in_flight_are_capped(signer: Signer, sns_leaf: tuple[rsa.RSAPrivateKey, bytes]) -> None:
    """Past the cap a message is refused at once rather than queued behind a slow host."""
    release = threading.Event()
    started: list[str] = []

    def slow(url: str) -> bytes:
        started.append(url)
        release.wait(30)
        raise OSError("slow host")

    verifier = SnsVerifier(ALLOWED, slow, lambda: NOW, max_fetches=2)
    urls = [f"https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-{i}.pem" for i in range(3)]
    with ThreadPoolExecutor(2) as pool:
        waiting = [
            pool.submit(reason_of, verifier, encode(Signer(signer.key, cert_url=u).notification("x"))) for u in urls[:2]
        ]
        deadline = time.monotonic() + 10
        while len(started) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        third = Signer(signer.key, cert_url=urls[2]).notification("x")
        assert reason_of(verifier, encode(third)) == "certificate_unavailable"
        release.set()
        assert [w.result(10) for w in waiting] == ["certificate_unavailable"] * 2
    assert sorted(started) == sorted(urls[:2])


def test_certificate_is_cached_and_bounded(host: CertHost, signer: Signer, test_ca: LocalCa) -> None:
    verifier = SnsVerifier(ALLOWED, host, lambda: NOW, cache_size=1)
    for _ in range(3):
        verifier.verify(encode(signer.notification("x")))
    assert host.fetched == [CERT_URL]
    key, pem = test_ca.issue(
        "sns.amazonaws.com", not_before=datetime(2026, 1, 1, tzinfo=UTC), not_after=datetime(2027, 1, 1, tzinfo=UTC)
    )
    other_url = "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-second.pem"
    host.store[other_url] = pem
    verifier.verify(encode(Signer(key=key, cert_url=other_url).notification("y")))
    verifier.verify(encode(signer.notification("x")))  # evicted by the second certificate, fetched again
    assert host.fetched == [CERT_URL, other_url, CERT_URL]


def test_route_refuses_other_topics(signer: Signer) -> None:
    message = SnsMessage.model_validate(signer.notification("x", topic="arn:aws:sns:eu-central-1:1:other"))
    with pytest.raises(SnsRejected) as caught:
        route(message)
    assert caught.value.reason == "unroutable_topic"


def test_lambda_record_spelling_is_accepted(signer: Signer, verifier: SnsVerifier) -> None:
    body = signer.notification("x")
    body["SigningCertUrl"] = body.pop("SigningCertURL")
    body["UnsubscribeUrl"] = body.pop("UnsubscribeURL")
    assert verifier.verify(encode(body)).signing_cert_url == CERT_URL


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.eu-central-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=t&Token=x",
        "https://sns.eu-central-1.amazonaws.com.evil.com/?Action=ConfirmSubscription&Token=x",
        "https://evil.com/?Action=ConfirmSubscription&Token=x",
        "https://sns.eu-central-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
        "https://x@sns.eu-central-1.amazonaws.com/?Action=ConfirmSubscription&Token=x",
    ],
)
def test_confirm_url_refused(url: str) -> None:
    assert not confirm_url_allowed(url)


# --- local trust mode (moto signs differently, so the local stack skips signatures) ---------------


def test_default_trust_mode_is_aws() -> None:
    default = inspect.signature(SnsVerifier.__init__).parameters["trust_mode"].default
    assert default == "aws"
    assert SnsVerifier(ALLOWED, lambda url: b"", lambda: NOW).trust_mode == "aws"


def test_aws_mode_never_accepts_unsigned_loopback(verifier: SnsVerifier, signer: Signer) -> None:
    body = signer.notification("x")
    body["Signature"] = ""
    assert reason_of(verifier, encode(body), source_ip="127.0.0.1") == "bad_signature"


def _moto_body() -> bytes:
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "m-1",
            "TopicArn": ALARM_TOPIC,
            "Message": fixture_text("jit-lambdaerrorrate.alarm.message.json"),
            "Timestamp": "2026-11-27T14:06:00.000Z",
            "SignatureVersion": "1",
            "Signature": "bW90bw==",
            "SigningCertURL": "http://127.0.0.1:5000/SimpleNotificationService-moto.pem",
        }
    ).encode()


@pytest.mark.parametrize("ip", ["127.0.0.1", "::1", "127.8.9.10"])
def test_local_mode_accepts_loopback_with_a_warning(ip: str, caplog: pytest.LogCaptureFixture) -> None:
    def no_fetch(url: str) -> bytes:
        raise AssertionError("local mode must not fetch certificates")

    verifier = SnsVerifier(ALLOWED, no_fetch, lambda: NOW, trust_mode="local-unsigned")
    with caplog.at_level(logging.WARNING, logger="alarms.sns"):
        verifier.verify(_moto_body(), source_ip=ip)
        verifier.verify(_moto_body(), source_ip=ip)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "WITHOUT signature" in r.message]
    assert len(warnings) == 2
    assert all("bW90bw" not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("ip", ["10.0.0.5", "192.168.1.2", "203.0.113.9", "::ffff:8.8.8.8", "", "localhost", None])
def test_local_mode_rejects_non_loopback(ip: str | None) -> None:
    verifier = SnsVerifier(ALLOWED, lambda url: b"", lambda: NOW, trust_mode="local-unsigned")
    kwargs = {} if ip is None else {"source_ip": ip}
    assert reason_of(verifier, _moto_body(), **kwargs) == "not_loopback"


def test_local_mode_still_checks_the_topic() -> None:
    verifier = SnsVerifier(frozenset({EVENTS_TOPIC}), lambda url: b"", lambda: NOW, trust_mode="local-unsigned")
    assert reason_of(verifier, _moto_body(), source_ip="127.0.0.1") == "topic_not_allowed"


def test_unknown_trust_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="trust mode"):
        SnsVerifier(ALLOWED, lambda url: b"", lambda: NOW, trust_mode="none")  # type: ignore[arg-type]


# --- duplicates -------------------------------------------------------------------------------


def test_seen_messages_marks_only_when_told() -> None:
    seen = SeenMessages(maxlen=2)
    assert not seen.is_seen("a")
    assert not seen.is_seen("a")  # asking does not mark: a failed post is retried by SNS
    seen.mark("a")
    assert seen.is_seen("a")
    seen.mark("b")
    seen.mark("c")
    assert not seen.is_seen("a")  # bounded: oldest forgotten
    assert seen.is_seen("b")
    assert seen.is_seen("c")
    assert len(seen) == 2


def test_seen_messages_is_thread_safe() -> None:
    seen = SeenMessages(maxlen=500)

    def work(offset: int) -> None:
        for i in range(1000):
            seen.mark(f"{offset}-{i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 500
    with pytest.raises(ValueError, match="positive"):
        SeenMessages(0)


@pytest.mark.parametrize(
    "subscribe_url",
    [
        "https://evil.example/?Action=ConfirmSubscription&TopicArn={topic}&Token=t",
        "https://sns.eu-central-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={other}&Token=t",
        "https://sns.eu-central-1.amazonaws.com/?Action=Unsubscribe&TopicArn={topic}",
    ],
)
def test_signed_confirmation_with_a_foreign_subscribe_url(
    verifier: SnsVerifier, signer: Signer, subscribe_url: str
) -> None:
    body = signer.confirmation("SubscriptionConfirmation")
    body["SubscribeURL"] = subscribe_url.format(topic=ALARM_TOPIC, other=EVENTS_TOPIC)
    body = signer.sign({k: v for k, v in body.items() if k != "Signature"})
    assert reason_of(verifier, encode(body)) == "bad_confirm_url"
