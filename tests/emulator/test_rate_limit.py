"""The emulator's optional rate limiter: Mattermost's headers and plain-text 429 (docs/architecture.md, "Rate limiting")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from sandbox.mattermost import MattermostEmulator, RateLimit
from sandbox.mattermost.pytest_plugin import assert_no_violations
from sandbox.mattermost.spec import OpenApiSpec
from tests.emulator.conftest import FakeClock

HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


@pytest.fixture
def limited(spec: OpenApiSpec, clock: FakeClock) -> Iterator[MattermostEmulator]:
    with MattermostEmulator(spec=spec, clock=clock, rate_limit=RateLimit(per_second=1, burst=2)) as emulator:
        yield emulator
    assert_no_violations(emulator)  # a 429 is the server's choice, never a contract violation


def me(mm: MattermostEmulator, user: str = "jit-bot") -> requests.Response:
    return requests.get(f"{mm.url}/api/v4/users/me", headers={"Authorization": f"Bearer {mm.token(user)}"}, timeout=5)


def limits(response: requests.Response) -> tuple[str, str, str]:
    limit, remaining, reset = (response.headers[h] for h in HEADERS)
    return limit, remaining, reset


def test_limiter_is_off_by_default_no_headers_and_no_429(mm: MattermostEmulator) -> None:
    replies = [me(mm) for _ in range(30)]
    assert {r.status_code for r in replies} == {200}
    assert not any(h in replies[-1].headers for h in (*HEADERS, "retry-after"))
    assert mm.rate_limited_count == 0


def test_every_response_carries_the_headers_and_reset_is_seconds_from_now(limited: MattermostEmulator) -> None:
    # burst 2 → limit 3; at 1/s, each call pushes the full reset one second further out.
    assert [limits(me(limited)) for _ in range(3)] == [("3", "2", "1"), ("3", "1", "2"), ("3", "0", "3")]
    missing = requests.get(f"{limited.url}/api/v4/users/me", timeout=5)  # errors carry them too (own key)
    assert missing.status_code == 401
    assert limits(missing) == ("3", "2", "1")


def test_over_the_limit_answers_plain_text_429_with_retry_after(limited: MattermostEmulator, clock: FakeClock) -> None:
    for _ in range(3):
        assert me(limited).status_code == 200
    refused = me(limited)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/plain")
    assert refused.text == "limit exceeded\n"
    assert limits(refused) == ("3", "0", "3")
    assert refused.headers["retry-after"] == "1"
    assert limited.rate_limited_count == 1

    clock.advance(1.0)  # one emission interval frees one slot
    again = me(limited)
    assert again.status_code == 200
    assert "retry-after" not in again.headers
    assert limits(again) == ("3", "0", "3")
    assert me(limited).status_code == 429


def test_limits_are_per_token(limited: MattermostEmulator) -> None:
    for _ in range(3):
        me(limited)
    assert me(limited).status_code == 429
    alice = me(limited, "alice")
    assert alice.status_code == 200
    assert limits(alice) == ("3", "2", "1")


def test_a_limited_post_is_not_applied_and_unknown_routes_are_limited_before_routing(
    limited: MattermostEmulator,
) -> None:
    auth = {"Authorization": f"Bearer {limited.token('jit-bot')}"}
    for _ in range(3):
        me(limited)
    body = {"channel_id": limited.channel_id("jit-approvals"), "message": "once"}
    posted = requests.post(f"{limited.url}/api/v4/posts", json=body, headers=auth, timeout=5)
    assert posted.status_code == 429
    assert limited.posts("jit-approvals") == []
    unknown = requests.get(f"{limited.url}/api/v4/no/such/route", headers=auth, timeout=5)
    assert unknown.status_code == 429
    assert limited.violations == []


def test_forced_429s_then_normal_service_without_headers(mm: MattermostEmulator) -> None:
    mm.force_rate_limit("jit-bot", 2, retry_after=3)
    assert mm.forced_rate_limits_left("jit-bot") == 2
    assert me(mm, "alice").status_code == 200  # only the named user's token is limited
    refused = [me(mm) for _ in range(2)]
    assert [r.status_code for r in refused] == [429, 429]
    assert all(r.text == "limit exceeded\n" for r in refused)
    assert limits(refused[0]) == ("101", "0", "3")  # Mattermost's default burst 100
    assert refused[0].headers["retry-after"] == "3"
    assert mm.forced_rate_limits_left("jit-bot") == 0
    after = me(mm)
    assert after.status_code == 200
    assert "x-ratelimit-limit" not in after.headers  # the limiter itself is still off
    assert mm.rate_limited_count == 2


def test_forced_429s_use_the_configured_limit(limited: MattermostEmulator) -> None:
    limited.force_rate_limit("jit-bot", 1)
    refused = me(limited)
    assert (refused.status_code, limits(refused), refused.headers["retry-after"]) == (429, ("3", "0", "1"), "1")
    assert limits(me(limited)) == ("3", "2", "1")  # a forced 429 spends none of the real budget


@pytest.mark.parametrize(("per_second", "burst"), [(0.0, 1), (-1.0, 1), (1.0, -1)])
def test_rate_limit_settings_are_validated(per_second: float, burst: int) -> None:
    with pytest.raises(ValueError, match="per_second"):
        RateLimit(per_second=per_second, burst=burst)
