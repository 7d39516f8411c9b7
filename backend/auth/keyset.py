"""The HMAC key set kept in one Secrets Manager secret, and the pure rotation steps on it.

Stored shape::

    {"keys": [{"id": "bot-2026-11", "secret": "<b64url>", "status": "active"},
              {"id": "bot-2026-08", "secret": "<b64url>", "status": "verify_only",
               "not_after": "2026-11-28T14:00:00Z"}]}

Rotation (runbook 02): ``add_key`` (new key verify-only) → ``promote`` (new key active, old key
verify-only until now + overlap) → ``retire`` the old key → optionally ``remove_key``.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from jitwire.b64url import b64url_decode, b64url_encode
from jitwire.signing import KEY_ID_PATTERN, KEY_SECRET_BYTES, new_key_secret

if TYPE_CHECKING:
    from collections.abc import Callable

KeyId = Annotated[str, StringConstraints(pattern=KEY_ID_PATTERN.pattern)]


class KeyStatus(StrEnum):
    ACTIVE = "active"  # signs and verifies
    VERIFY_ONLY = "verify_only"  # verifies until not_after (if set)
    RETIRED = "retired"  # refused


class KeyEntry(BaseModel):
    # hide_input_in_errors: validation messages must never echo key material.
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid", hide_input_in_errors=True)

    id: KeyId
    # repr=False: a key set printed in a traceback or log must not reveal key material.
    secret: str = Field(repr=False)
    status: KeyStatus
    not_after: AwareDatetime | None = None
    audience: str | None = None

    @field_validator("secret")
    @classmethod
    def _secret_is_key_material(cls, value: str) -> str:
        try:
            raw = b64url_decode(value)
        except ValueError:
            raise ValueError("secret must be base64url without padding") from None
        if len(raw) < KEY_SECRET_BYTES:
            raise ValueError(f"secret must decode to at least {KEY_SECRET_BYTES} bytes")
        return value

    @model_validator(mode="after")
    def _active_key_does_not_expire(self) -> KeyEntry:
        if self.status is KeyStatus.ACTIVE and self.not_after is not None:
            raise ValueError(f"active key {self.id!r} cannot have not_after")
        return self

    def secret_bytes(self) -> bytes:
        return b64url_decode(self.secret)

    def usable_at(self, now: datetime) -> bool:
        """Whether a signature made with this key may be accepted at ``now``."""
        if self.status is KeyStatus.RETIRED:
            return False
        return self.not_after is None or now <= self.not_after


class KeySet(BaseModel):
    # hide_input_in_errors: validation messages must never echo key material.
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid", hide_input_in_errors=True)

    keys: list[KeyEntry]

    @model_validator(mode="after")
    def _ids_unique_and_one_active(self) -> KeySet:
        ids = [entry.id for entry in self.keys]
        duplicates = sorted({key_id for key_id in ids if ids.count(key_id) > 1})
        if duplicates:
            raise ValueError(f"duplicate key ids: {', '.join(duplicates)}")
        active = [entry.id for entry in self.keys if entry.status is KeyStatus.ACTIVE]
        if len(active) != 1:
            raise ValueError(f"a key set needs exactly one active key, found {len(active)}")
        return self

    def active_key(self) -> KeyEntry:
        return next(entry for entry in self.keys if entry.status is KeyStatus.ACTIVE)

    def find(self, key_id: str) -> KeyEntry | None:
        return next((entry for entry in self.keys if entry.id == key_id), None)

    def to_json(self) -> str:
        """The secret's text (absent optional fields left out)."""
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> KeySet:
        return cls.model_validate_json(text)


def generate_key(key_id: str, *, status: KeyStatus = KeyStatus.VERIFY_ONLY, audience: str | None = None) -> KeyEntry:
    """A new key with 32 cryptographically random bytes (verify-only unless told otherwise)."""
    return KeyEntry(id=key_id, secret=b64url_encode(new_key_secret()), status=status, audience=audience)


def _require(keyset: KeySet, key_id: str) -> KeyEntry:
    entry = keyset.find(key_id)
    if entry is None:
        raise ValueError(f"unknown key id {key_id!r}")
    return entry


def _replace(keyset: KeySet, replacements: dict[str, KeyEntry]) -> KeySet:
    return KeySet(keys=[replacements.get(entry.id, entry) for entry in keyset.keys])


def add_key(keyset: KeySet, entry: KeyEntry) -> KeySet:
    """Add a new key; it must be verify-only so the signer can switch to it later without downtime."""
    if entry.status is not KeyStatus.VERIFY_ONLY:
        raise ValueError(f"a new key must be added as verify_only, not {entry.status.value}")
    if keyset.find(entry.id) is not None:
        raise ValueError(f"key id {entry.id!r} already exists")
    return KeySet(keys=[*keyset.keys, entry])


def promote(keyset: KeySet, key_id: str, overlap: timedelta, now: datetime) -> KeySet:
    """Make ``key_id`` the active key; the old active key verifies until ``now + overlap``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if overlap <= timedelta(0):
        raise ValueError("overlap must be positive")
    entry = _require(keyset, key_id)
    if entry.status is not KeyStatus.VERIFY_ONLY:
        raise ValueError(f"only a verify_only key can be promoted; {key_id!r} is {entry.status.value}")
    if not entry.usable_at(now):
        raise ValueError(f"key {key_id!r} expired at {entry.not_after}; add a new key instead")
    old = keyset.active_key()
    return _replace(
        keyset,
        {
            key_id: entry.model_copy(update={"status": KeyStatus.ACTIVE, "not_after": None}),
            old.id: old.model_copy(update={"status": KeyStatus.VERIFY_ONLY, "not_after": now + overlap}),
        },
    )


def retire(keyset: KeySet, key_id: str) -> KeySet:
    """Refuse a key from now on (the emergency step, or the end of an overlap)."""
    entry = _require(keyset, key_id)
    if entry.status is KeyStatus.ACTIVE:
        raise ValueError(f"cannot retire the active key {key_id!r}; promote another key first")
    if entry.status is KeyStatus.RETIRED:
        raise ValueError(f"key {key_id!r} is already retired")
    return _replace(keyset, {key_id: entry.model_copy(update={"status": KeyStatus.RETIRED})})


def remove_key(keyset: KeySet, key_id: str) -> KeySet:
    """Delete a retired key from the set."""
    entry = _require(keyset, key_id)
    if entry.status is not KeyStatus.RETIRED:
        raise ValueError(f"only a retired key can be removed; {key_id!r} is {entry.status.value}")
    return KeySet(keys=[other for other in keyset.keys if other.id != key_id])


class KeySetProvider(Protocol):
    """Where the key set lives (Secrets Manager in AWS and in the local stack)."""

    def load(self) -> KeySet: ...


class CachedKeySet:
    """The key set, re-read every ``ttl_seconds`` and, rate-limited, when an unknown key id shows up.

    Thread-safe: the local stack serves concurrent API invocations from one process.
    """

    def __init__(
        self,
        provider: KeySetProvider,
        ttl_seconds: float = 300,
        clock: Callable[[], float] = time.monotonic,
        min_refresh_interval: float = 30,
    ) -> None:
        self._provider = provider
        self._ttl = ttl_seconds
        self._clock = clock
        self._min_refresh_interval = min_refresh_interval
        self._lock = threading.Lock()
        self._keyset: KeySet | None = None
        self._loaded_at = 0.0
        self._last_forced_refresh: float | None = None

    def get(self) -> KeySet:
        """The cached set; loads it when missing or older than the TTL (errors propagate)."""
        with self._lock:
            if self._keyset is None or self._clock() - self._loaded_at >= self._ttl:
                self._load()
            assert self._keyset is not None
            return self._keyset

    def refresh_for_unknown(self, key_id: str) -> KeySet:
        """Re-read the set because ``key_id`` was not in it, at most once per ``min_refresh_interval``.

        If another thread already loaded a set that knows ``key_id``, that set is returned without
        reading again.
        """
        with self._lock:
            now = self._clock()
            known = self._keyset is not None and self._keyset.find(key_id) is not None
            throttled = (
                self._last_forced_refresh is not None and now - self._last_forced_refresh < self._min_refresh_interval
            )
            if self._keyset is None or not (known or throttled):
                self._last_forced_refresh = now
                self._load()
            assert self._keyset is not None
            return self._keyset

    def _load(self) -> None:
        self._keyset = self._provider.load()
        self._loaded_at = self._clock()
