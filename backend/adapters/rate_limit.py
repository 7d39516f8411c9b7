"""A thread-safe client-side rate limiter.

Identity Center allows 20 calls per second shared by every caller of the account, so the backend
holds itself to 10 per second. The limiter keeps the times of the last ``burst`` calls (a sliding
window log): a call may start only when the call ``burst`` places back is at least ``period``
seconds old. For an integral rate this is exact: never more than ``rate`` calls start in any
half-open one-second window, with no floating-point drift from summing intervals.

The bound holds per process: the deployed backend shares one budget across instances
(``shared_budget.SharedCallBudget``) and uses this only if that budget's table is unavailable.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_IDENTITY_CENTER_RATE = 10.0


class Permit(Protocol):
    def done(self) -> None:
        """The call has been made (or failed): a shared budget records when it started."""


class CallBudget(Protocol):
    def acquire(self, urgent: bool = False) -> Permit:
        """Wait until one more call fits the budget; ``urgent`` (revokes) goes first when it is short."""


class _InProcess:
    """This process's limiter keeps its starts itself: nothing to record afterwards."""

    def done(self) -> None:
        return None


IN_PROCESS: Final[Permit] = _InProcess()


class RateLimiter:
    """Blocks in :meth:`acquire` until one more call fits under ``max_calls_per_second``."""

    def __init__(
        self,
        max_calls_per_second: float = DEFAULT_IDENTITY_CENTER_RATE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not math.isfinite(max_calls_per_second) or max_calls_per_second <= 0:
            raise ValueError(f"max_calls_per_second must be a positive number, got {max_calls_per_second}")
        self._burst = max(1, math.floor(max_calls_per_second))
        # For an integral rate the period is exactly 1.0; a fractional rate keeps its average.
        self._period = self._burst / max_calls_per_second
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque(maxlen=self._burst)
        # Held while waiting too: callers queue in order and each slot is claimed exactly once.
        self._lock = threading.Lock()

    @property
    def max_calls_per_second(self) -> float:
        return self._burst / self._period

    def acquire(self, urgent: bool = False) -> Permit:  # noqa: ARG002 - one process: first come, first served
        """Wait until a call may start, then claim its slot."""
        with self._lock:
            while True:
                now = self._clock()
                if len(self._starts) < self._burst:
                    break
                elapsed = now - self._starts[0]
                if elapsed >= self._period:
                    break
                self._sleep(self._period - elapsed)
            self._starts.append(now)
        return IN_PROCESS
