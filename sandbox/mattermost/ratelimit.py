"""Mattermost's optional REST rate limiter: throttled GCRA, keyed here per token.

docs/architecture.md, "Rate limiting".

The real server keys by client IP unless `VaryByUser` is set; every emulated client shares
127.0.0.1, so the emulator keys by bearer token (what `VaryByUser` approximates). Limiting runs
before routing and before any handler, so a 429 never changes state and is never a violation.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

LIMITED_BODY = "limit exceeded\n"  # Go's http.Error appends the newline


@dataclass(frozen=True)
class RateLimit:
    """`RateLimitSettings.PerSec` and `MaxBurst`; the defaults are Mattermost's."""

    per_second: float = 10.0
    burst: int = 100

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 0:
            raise ValueError("per_second must be > 0 and burst >= 0")

    @property
    def limit(self) -> int:
        return self.burst + 1  # throttled reports MaxBurst + 1 as the limit

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second


@dataclass(frozen=True)
class Decision:
    limited: bool
    limit: int
    remaining: int
    reset_after: float
    retry_after: float = 0.0

    def headers(self) -> dict[str, str]:
        headers = {
            "X-Ratelimit-Limit": str(self.limit),
            "X-Ratelimit-Remaining": str(self.remaining),
            "X-Ratelimit-Reset": str(math.ceil(self.reset_after)),  # seconds from now, not an epoch
        }
        if self.limited:
            headers["Retry-After"] = str(math.ceil(self.retry_after))
        return headers


@dataclass
class _Forced:
    count: int
    retry_after: int


class RateLimiter:
    """Off unless given a `RateLimit`; `force` makes a token's next N calls 429 either way."""

    def __init__(self, rate: RateLimit | None, clock: Callable[[], float]) -> None:
        self.rate = rate
        self._clock = clock
        self._lock = threading.Lock()
        self._tat: dict[str, float] = {}  # GCRA "theoretical arrival time" per key
        self._forced: dict[str, _Forced] = {}
        self.limited_count = 0

    def force(self, key: str, count: int, retry_after: int = 1) -> None:
        if count < 0 or retry_after < 0:
            raise ValueError("count and retry_after must be >= 0")
        with self._lock:
            self._forced[key] = _Forced(count, retry_after)

    def forced_left(self, key: str) -> int:
        with self._lock:
            forced = self._forced.get(key)
            return forced.count if forced else 0

    def check(self, key: str) -> Decision | None:
        """None when the limiter is off and nothing is forced: the reply carries no headers."""
        with self._lock:
            forced = self._forced.get(key)
            if forced is not None and forced.count > 0:
                forced.count -= 1
                self.limited_count += 1
                limit = (self.rate or RateLimit()).limit
                return Decision(True, limit, 0, forced.retry_after, forced.retry_after)
            if self.rate is None:
                return None
            decision = self._gcra(key)
            self.limited_count += decision.limited
            return decision

    def _gcra(self, key: str) -> Decision:
        rate, now = self.rate, self._clock()
        assert rate is not None
        tolerance = rate.interval * rate.limit  # as throttled: period * (MaxBurst + 1)
        tat = max(self._tat.get(key, now), now)
        new_tat = tat + rate.interval
        diff = now - (new_tat - tolerance)
        if diff < 0:
            return Decision(True, rate.limit, 0, tat - now, -diff)
        self._tat[key] = new_tat
        ttl = new_tat - now
        remaining = int((tolerance - ttl) / rate.interval + 1e-9)
        return Decision(False, rate.limit, max(remaining, 0), ttl)
