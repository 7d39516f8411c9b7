"""The local stack's ASL Wait wakes at its timestamp, as in AWS (issue 15 §5).

The stack stores and compares times at second precision; a wait that compared with that clock
woke up to a second late (the fraction of the second at which it began). These tests drive the
wait with a simulated real time and record what it asks to sleep: no timing involved.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.wiring import utc_now
from jitlocal.clock import ManualClock
from jitlocal.moto_runtime import parse_wait_timestamp, precise_now, wait_until_moment

BEGUN = datetime(2026, 12, 2, 12, 0, 0, 700_000, tzinfo=UTC)  # 0.7 s into a second
TARGET = datetime(2026, 12, 2, 12, 0, 2, tzinfo=UTC)


class SimulatedTime:
    def __init__(self, start: datetime) -> None:
        self.real = start
        self.woke: datetime | None = None

    def precise(self) -> datetime:
        return self.real

    def seconds_only(self) -> datetime:
        return self.real.replace(microsecond=0)

    def wait(self, seconds: float) -> None:
        self.real += timedelta(seconds=seconds)


def _wake(now_reading: str) -> datetime:
    time = SimulatedTime(BEGUN)
    now = time.precise if now_reading == "precise" else time.seconds_only
    wait_until_moment(now, TARGET, lambda: True, time.wait)
    return time.real


def test_a_wait_begun_mid_second_wakes_at_its_timestamp():
    assert _wake("precise") == TARGET


def test_comparing_with_a_second_precision_clock_would_wake_late():
    assert _wake("seconds") == TARGET + timedelta(microseconds=700_000)  # the artefact the fix removes


def test_the_real_clock_is_read_to_the_microsecond_for_waits():
    assert precise_now(utc_now) is not utc_now
    reading = precise_now(utc_now)()
    assert reading.tzinfo is not None
    manual = ManualClock()
    assert precise_now(manual) is manual  # tests keep moving their manual clock


def test_fractional_wait_timestamps_are_honoured():
    assert parse_wait_timestamp("2026-12-02T12:00:01.250Z") == datetime(2026, 12, 2, 12, 0, 1, 250_000, tzinfo=UTC)
    assert parse_wait_timestamp("2026-12-02T12:00:01Z") == datetime(2026, 12, 2, 12, 0, 1, tzinfo=UTC)
    assert parse_wait_timestamp("not a time") is None
