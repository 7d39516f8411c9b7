"""Clocks for the local stack: the real one, or a manual one that tests move forward."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class ManualClock:
    """A UTC clock that only moves when told; waits in the state machine follow it."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime.now(UTC)).replace(microsecond=0)
        self._lock = threading.Lock()
        self._moved = threading.Condition(self._lock)

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._moved:
            self._now += delta
            self._moved.notify_all()
            return self._now

    def wait_until(self, moment: datetime, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Block until the clock reaches ``moment`` (polls so an aborted execution can leave)."""
        with self._moved:
            while self._now < moment and not should_stop():
                self._moved.wait(timeout=0.05)
