from __future__ import annotations

import math
import threading

import pytest

from backend.adapters.rate_limit import RateLimiter
from tests.identity_center.conftest import FakeTime


def most_in_any_window(starts: list[float], window: float = 1.0) -> int:
    """The largest number of starts inside any half-open window [t, t + window)."""
    ordered = sorted(starts)
    return max(sum(1 for s in ordered[i:] if s < t + window) for i, t in enumerate(ordered))


def test_fifty_acquisitions_never_exceed_ten_in_any_second() -> None:
    time = FakeTime()
    limiter = RateLimiter(10, clock=time.clock, sleep=time.sleeper("limiter"))
    starts = []
    for _ in range(50):
        limiter.acquire()
        starts.append(time.now)

    assert most_in_any_window(starts) == 10
    # A burst of ten, then each further call waits for the call ten places back to be a second old.
    assert starts[:10] == [1000.0] * 10
    assert starts[10] == 1001.0
    assert starts[-1] == 1004.0
    assert sum(time.slept["limiter"]) == pytest.approx(4.0)


def test_calls_spread_out_by_the_caller_never_wait() -> None:
    time = FakeTime()
    limiter = RateLimiter(10, clock=time.clock, sleep=time.sleeper("limiter"))
    for _ in range(30):
        limiter.acquire()
        time.now += 0.1

    assert time.slept["limiter"] == []


def test_a_rate_below_one_spaces_single_calls() -> None:
    time = FakeTime()
    limiter = RateLimiter(0.5, clock=time.clock, sleep=time.sleeper("limiter"))
    starts = []
    for _ in range(4):
        limiter.acquire()
        starts.append(time.now)

    assert starts == [1000.0, 1002.0, 1004.0, 1006.0]
    assert limiter.max_calls_per_second == 0.5


@pytest.mark.parametrize("rate", [0, -1, math.nan, math.inf])
def test_rejects_a_rate_that_is_not_a_positive_number(rate: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(rate)


def test_threads_sharing_one_limiter_stay_under_the_rate() -> None:
    time = FakeTime()
    admitted = threading.local()
    lock = threading.Lock()

    def clock() -> float:
        # The limiter reads the clock only while holding its lock, so a thread's last read is
        # the moment its slot was claimed.
        admitted.at = time.now
        return time.now

    def sleep(seconds: float) -> None:
        with lock:
            time.now += seconds

    limiter = RateLimiter(10, clock=clock, sleep=sleep)
    starts: list[float] = []

    def worker() -> None:
        for _ in range(25):
            limiter.acquire()
            with lock:
                starts.append(admitted.at)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(starts) == 100
    assert most_in_any_window(starts) == 10
    assert max(starts) - min(starts) == pytest.approx(9.0)
