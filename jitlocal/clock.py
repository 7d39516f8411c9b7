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


class ShiftedClock:
    """Real time plus an offset, to the microsecond; frozen while a batch must share one moment.

    For benchmarks that must measure real lateness without sitting through a grant's minutes:
    ``jump_to`` moves the clock forward (waits wake at once and re-check), time then flows at the
    real rate again. ``freeze`` stops it (every grant made meanwhile starts at the same moment).
    """

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._frozen_at: datetime | None = None
        self._lock = threading.Lock()
        self._moved = threading.Condition(self._lock)

    def _read(self) -> datetime:
        return self._frozen_at if self._frozen_at is not None else datetime.now(UTC) + self._offset

    def __call__(self) -> datetime:
        with self._lock:
            return self._read()

    def freeze(self) -> datetime:
        with self._moved:
            self._frozen_at = self._read()
            return self._frozen_at

    def jump_to(self, moment: datetime) -> None:
        """Flow at the real rate from ``moment`` on (unfreezes)."""
        with self._moved:
            self._frozen_at = None
            self._offset = moment - datetime.now(UTC)
            self._moved.notify_all()

    def wait_until(self, moment: datetime, should_stop: Callable[[], bool] = lambda: False) -> None:
        with self._moved:
            while (remaining := (moment - self._read()).total_seconds()) > 0 and not should_stop():
                self._moved.wait(timeout=min(remaining, 0.25))
