"""MattermostClient waits out HTTP 429 as the server asks, within a budget (docs/architecture.md, "Rate limiting")."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
import responses
from mattermostdriver import Driver

from bot.mattermost.client import (
    MattermostClient,
    MattermostUnavailable,
    RateLimitRetry,
    driver_options,
)
from sandbox.mattermost import MattermostEmulator, RateLimit
from sandbox.mattermost.pytest_plugin import assert_no_violations
from tests.emulator.conftest import FakeClock

T = TypeVar("T")
DEFAULT = RateLimitRetry()  # 3 retries, 10 s per call


class Sleeps:
    """The injected sleep: records each requested wait and moves the emulator's clock on."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.requested: list[float] = []
        self._clock = clock

    async def __call__(self, seconds: float) -> None:
        self.requested.append(seconds)
        if self._clock is not None:
            self._clock.advance(seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as executor:
        yield executor


def emulator(clock: FakeClock, rate_limit: RateLimit | None = None) -> MattermostEmulator:
    return MattermostEmulator(clock=clock, rate_limit=rate_limit)


@pytest.fixture
def mm(clock: FakeClock) -> Iterator[MattermostEmulator]:
    with emulator(clock) as server:
        yield server
    assert_no_violations(server)


def client(
    url: str, token: str, pool: ThreadPoolExecutor, sleeps: Sleeps, policy: RateLimitRetry = DEFAULT
) -> MattermostClient:
    driver = Driver(driver_options(url, token))
    driver.client.token = token  # what login() sets; the wire-level fakes below have no /users/me
    return MattermostClient(driver, pool, retry=policy, sleep=sleeps)


def run(work: Callable[[], Awaitable[T]]) -> T:
    async def scenario() -> T:
        return await work()

    return asyncio.run(scenario())


def bot(
    mm: MattermostEmulator, pool: ThreadPoolExecutor, sleeps: Sleeps, policy: RateLimitRetry = DEFAULT
) -> MattermostClient:
    logged_in = client(mm.url, mm.token("jit-bot"), pool, sleeps, policy)
    run(logged_in.login)
    return logged_in


def test_a_rate_limited_post_is_retried_after_retry_after_and_created_once(
    mm: MattermostEmulator, pool: ThreadPoolExecutor
) -> None:
    sleeps = Sleeps()
    bot_client = bot(mm, pool, sleeps)
    channel = mm.channel_id("jit-approvals")
    mm.force_rate_limit("jit-bot", 2, retry_after=2)
    post = run(lambda: bot_client.create_post(channel, "approve me"))
    assert sleeps.requested == [2.0, 2.0]
    assert [p["id"] for p in mm.posts("jit-approvals")] == [post["id"]]
    assert mm.forced_rate_limits_left("jit-bot") == 0
    assert mm.rate_limited_count == 2


def test_gives_up_after_three_retries_with_mattermost_unavailable(
    mm: MattermostEmulator, pool: ThreadPoolExecutor
) -> None:
    sleeps = Sleeps()
    bot_client = bot(mm, pool, sleeps)
    channel = mm.channel_id("jit-approvals")
    mm.force_rate_limit("jit-bot", 5)
    with pytest.raises(MattermostUnavailable) as caught:
        run(lambda: bot_client.create_post(channel, "never"))
    assert caught.value.rate_limited and not caught.value.forbidden
    assert sleeps.requested == [1.0, 1.0, 1.0]
    assert mm.forced_rate_limits_left("jit-bot") == 1  # one try plus three retries
    assert mm.posts("jit-approvals") == []


def test_gives_up_rather_than_wait_past_the_total_budget(mm: MattermostEmulator, pool: ThreadPoolExecutor) -> None:
    sleeps = Sleeps()
    bot_client = bot(mm, pool, sleeps)
    mm.force_rate_limit("jit-bot", 3, retry_after=6)
    with pytest.raises(MattermostUnavailable, match="gave up after 1 retries"):
        run(lambda: bot_client.team_id("jit"))
    assert sleeps.requested == [6.0]  # 6 + 6 would pass the 10 s budget
    assert mm.forced_rate_limits_left("jit-bot") == 1


def test_the_budget_is_per_call(mm: MattermostEmulator, pool: ThreadPoolExecutor) -> None:
    sleeps = Sleeps()
    bot_client = bot(mm, pool, sleeps, RateLimitRetry(max_retries=1))
    mm.force_rate_limit("jit-bot", 1)
    assert run(lambda: bot_client.team_id("jit")) == mm.team_id
    mm.force_rate_limit("jit-bot", 1)
    assert run(lambda: bot_client.team_id("jit")) == mm.team_id
    assert sleeps.requested == [1.0, 1.0]


def test_waits_out_the_real_limiter_as_its_clock_moves(clock: FakeClock, pool: ThreadPoolExecutor) -> None:
    sleeps = Sleeps(clock)
    with emulator(clock, RateLimit(per_second=0.5, burst=0)) as server:
        bot_client = bot(server, pool, sleeps)
        channel = server.channel_id("jit-approvals")

        async def two_posts() -> None:
            await bot_client.create_post(channel, "first")  # login just took the only slot
            await bot_client.create_post(channel, "second")  # 0.5/s: each next slot is 2 s away

        run(two_posts)
        assert sleeps.requested == [2.0, 2.0]
        assert [p["message"] for p in server.posts("jit-approvals")] == ["first", "second"]
        assert server.rate_limited_count == 2
    assert_no_violations(server)


URL = "http://mattermost.test:8065"
TEAM = f"{URL}/api/v4/teams/name/jit"


@responses.activate
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Ratelimit-Reset": "4", "X-Ratelimit-Remaining": "0"}, 4.0),  # no Retry-After: the reset
        ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT", "X-Ratelimit-Reset": "3"}, 3.0),
        ({"Retry-After": "2", "X-Ratelimit-Reset": "9"}, 2.0),
        ({}, 1.0),  # nothing named: the default
    ],
)
def test_wait_comes_from_retry_after_else_reset_else_default(
    headers: dict[str, str], expected: float, pool: ThreadPoolExecutor
) -> None:
    responses.get(TEAM, status=429, body="limit exceeded\n", headers=headers)
    responses.get(TEAM, json={"id": "team1", "name": "jit"})
    sleeps = Sleeps()
    assert run(lambda: client(URL, "tok", pool, sleeps).team_id("jit")) == "team1"
    assert sleeps.requested == [expected]
    assert [c.request.headers["Authorization"] for c in responses.calls] == ["Bearer tok"] * 2


@responses.activate
@pytest.mark.parametrize(("status", "forbidden"), [(403, True), (404, False), (500, False), (503, False)])
def test_other_errors_are_not_retried(status: int, forbidden: bool, pool: ThreadPoolExecutor) -> None:
    responses.get(TEAM, status=status, json={"id": "x", "message": "no", "status_code": status})
    sleeps = Sleeps()
    with pytest.raises(MattermostUnavailable) as caught:
        run(lambda: client(URL, "tok", pool, sleeps).team_id("jit"))
    assert (caught.value.forbidden, caught.value.rate_limited) == (forbidden, False)
    assert sleeps.requested == []
    assert len(responses.calls) == 1
