"""Key set validation, the rotation steps, and the cache in front of the secret."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from backend.auth.errors import KeyStoreUnavailable
from backend.auth.keyset import (
    CachedKeySet,
    KeyEntry,
    KeySet,
    KeyStatus,
    add_key,
    generate_key,
    promote,
    remove_key,
    retire,
)
from jitwire.b64url import b64url_encode
from tests.auth.helpers import ACTIVE, PREVIOUS, FakeClock, FakeKeySetProvider

T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
SECRET = b64url_encode(bytes(32))


def test_parses_the_documented_secret_shape() -> None:
    text = json.dumps(
        {
            "keys": [
                {"id": "bot-2026-11", "secret": SECRET, "status": "active"},
                {"id": "bot-2026-08", "secret": SECRET, "status": "verify_only", "not_after": "2026-11-28T14:00:00Z"},
            ]
        }
    )
    keyset = KeySet.from_json(text)
    assert keyset.active_key().id == "bot-2026-11"
    assert keyset.find("bot-2026-08") == KeyEntry(
        id="bot-2026-08", secret=SECRET, status=KeyStatus.VERIFY_ONLY, not_after=T0 + timedelta(days=1)
    )
    assert keyset.find("nope") is None
    assert json.loads(keyset.to_json()) == json.loads(text)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([], "exactly one active key, found 0"),
        ([{"id": "a", "secret": SECRET, "status": "verify_only"}], "exactly one active key, found 0"),
        (
            [{"id": "a", "secret": SECRET, "status": "active"}, {"id": "b", "secret": SECRET, "status": "active"}],
            "exactly one active key, found 2",
        ),
        (
            [{"id": "a", "secret": SECRET, "status": "active"}, {"id": "a", "secret": SECRET, "status": "retired"}],
            "duplicate key ids: a",
        ),
        ([{"id": "A_1", "secret": SECRET, "status": "active"}], "String should match pattern"),
        ([{"id": "a", "secret": b64url_encode(bytes(16)), "status": "active"}], "at least 32 bytes"),
        ([{"id": "a", "secret": SECRET + "=", "status": "active"}], "base64url without padding"),
        ([{"id": "a", "secret": SECRET, "status": "active", "not_after": "2026-11-28T14:00:00Z"}], "not_after"),
        ([{"id": "a", "secret": SECRET, "status": "verify_only", "not_after": "2026-11-28T14:00:00"}], "timezone"),
        ([{"id": "a", "secret": SECRET, "status": "active", "kid": "x"}], "Extra inputs"),
        ([{"id": "a", "secret": SECRET, "status": "paused"}], "active"),
    ],
)
def test_invalid_key_sets_are_refused(keys: list[dict[str, str]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        KeySet.model_validate({"keys": keys})


@pytest.mark.parametrize(
    "entry",
    [
        {"status": "verify_only"},
        {"status": "active", "not_after": "2026-11-28T14:00:00Z"},
        {"status": "paused"},
    ],
)
def test_validation_errors_and_repr_do_not_reveal_key_material(entry: dict[str, str]) -> None:
    secret = b64url_encode(b"\x01" * 32)
    with pytest.raises(ValidationError) as caught:
        KeySet.model_validate({"keys": [{"id": "a", "secret": secret, **entry}]})
    assert "'secret': '" + secret[:2] not in str(caught.value)
    assert "input_value" not in str(caught.value)
    assert secret not in repr(KeyEntry(id="a", secret=secret, status=KeyStatus.ACTIVE))


def test_generate_key_is_random_32_bytes() -> None:
    first, second = generate_key("bot-2027-02"), generate_key("bot-2027-02", status=KeyStatus.ACTIVE)
    assert first.status is KeyStatus.VERIFY_ONLY
    assert second.status is KeyStatus.ACTIVE
    assert len(first.secret_bytes()) == 32
    assert first.secret_bytes() != second.secret_bytes()


def _rotation_start() -> KeySet:
    return KeySet(keys=[ACTIVE.model_copy(), PREVIOUS.model_copy(update={"status": KeyStatus.RETIRED})])


def test_full_rotation_add_promote_retire_remove() -> None:
    new = generate_key("bot-2027-02")
    added = add_key(_rotation_start(), new)
    assert added.active_key().id == ACTIVE.id
    assert added.find(new.id) == new

    promoted = promote(added, new.id, timedelta(hours=24), T0)
    assert promoted.active_key().id == new.id
    old = promoted.find(ACTIVE.id)
    assert old is not None
    assert old.status is KeyStatus.VERIFY_ONLY
    assert old.not_after == T0 + timedelta(hours=24)
    assert old.secret == ACTIVE.secret

    retired = retire(promoted, ACTIVE.id)
    assert retired.find(ACTIVE.id) is not None
    assert retired.find(ACTIVE.id).status is KeyStatus.RETIRED  # type: ignore[union-attr]
    assert [entry.id for entry in remove_key(retired, ACTIVE.id).keys] == [PREVIOUS.id, new.id]


def test_promote_clears_not_after_of_the_new_active_key() -> None:
    new = generate_key("bot-2027-02").model_copy(update={"not_after": T0 + timedelta(days=3)})
    promoted = promote(add_key(_rotation_start(), new), new.id, timedelta(hours=1), T0)
    assert promoted.active_key().not_after is None


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (lambda ks: add_key(ks, generate_key("bot-x", status=KeyStatus.ACTIVE)), "must be added as verify_only"),
        (lambda ks: add_key(ks, generate_key(ACTIVE.id)), "already exists"),
        (lambda ks: promote(ks, "bot-x", timedelta(hours=1), T0), "unknown key id 'bot-x'"),
        (lambda ks: promote(ks, ACTIVE.id, timedelta(hours=1), T0), "only a verify_only key"),
        (lambda ks: promote(ks, PREVIOUS.id, timedelta(hours=1), T0), "only a verify_only key"),
        (lambda ks: promote(ks, ACTIVE.id, timedelta(0), T0), "overlap must be positive"),
        (lambda ks: promote(ks, ACTIVE.id, timedelta(hours=1), T0.replace(tzinfo=None)), "timezone-aware"),
        (lambda ks: retire(ks, ACTIVE.id), "cannot retire the active key"),
        (lambda ks: retire(ks, PREVIOUS.id), "already retired"),
        (lambda ks: retire(ks, "bot-x"), "unknown key id"),
        (lambda ks: remove_key(ks, ACTIVE.id), "only a retired key"),
    ],
)
def test_rotation_misuse_is_refused(step: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        step(_rotation_start())  # type: ignore[operator]


def test_promoting_an_expired_verify_only_key_is_refused() -> None:
    stale = generate_key("bot-old").model_copy(update={"not_after": T0 - timedelta(seconds=1)})
    with pytest.raises(ValueError, match="expired"):
        promote(add_key(_rotation_start(), stale), "bot-old", timedelta(hours=1), T0)


def test_rotation_returns_new_sets_and_leaves_the_input_alone() -> None:
    start = _rotation_start()
    before = start.to_json()
    add_key(start, generate_key("bot-2027-02"))
    assert start.to_json() == before


# --- CachedKeySet -----------------------------------------------------------------------------


def test_cache_serves_within_ttl_and_reloads_after() -> None:
    clock, provider = FakeClock(1000.0), FakeKeySetProvider(_rotation_start())
    cache = CachedKeySet(provider, ttl_seconds=300, clock=clock)
    cache.get()
    clock.now += 299
    cache.get()
    assert provider.loads == 1
    clock.now += 1
    cache.get()
    assert provider.loads == 2


def test_refresh_for_unknown_is_rate_limited() -> None:
    clock, provider = FakeClock(1000.0), FakeKeySetProvider(_rotation_start())
    cache = CachedKeySet(provider, clock=clock, min_refresh_interval=30)
    cache.get()
    cache.refresh_for_unknown("bot-x")
    cache.refresh_for_unknown("bot-x")
    clock.now += 29
    cache.refresh_for_unknown("bot-x")
    assert provider.loads == 2
    clock.now += 1
    new = generate_key("bot-x")
    provider.keyset = add_key(provider.keyset, new)
    assert cache.refresh_for_unknown("bot-x").find("bot-x") == new
    assert provider.loads == 3


def test_refresh_for_a_key_already_known_does_not_reload() -> None:
    clock, provider = FakeClock(1000.0), FakeKeySetProvider(_rotation_start())
    cache = CachedKeySet(provider, clock=clock)
    cache.get()
    cache.refresh_for_unknown(ACTIVE.id)
    assert provider.loads == 1


def test_load_errors_propagate_and_the_next_get_retries() -> None:
    clock, provider = FakeClock(1000.0), FakeKeySetProvider(_rotation_start())
    cache = CachedKeySet(provider, clock=clock)
    provider.error = KeyStoreUnavailable("down")
    with pytest.raises(KeyStoreUnavailable):
        cache.get()
    provider.error = None
    assert cache.get().active_key().id == ACTIVE.id


def test_concurrent_unknown_key_lookups_reload_once() -> None:
    clock = FakeClock(1000.0)
    provider = FakeKeySetProvider(_rotation_start())
    cache = CachedKeySet(provider, clock=clock)
    cache.get()
    barrier = threading.Barrier(20)

    def lookup() -> None:
        barrier.wait()
        cache.refresh_for_unknown("bot-x")

    with ThreadPoolExecutor(max_workers=20) as pool:
        for future in [pool.submit(lookup) for _ in range(20)]:
            future.result()
    assert provider.loads == 2
