"""Mattermost rate-limits the bot mid-lifecycle: the event still lands once, nothing twice (docs/architecture.md, "Rate limiting")."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

from jitwire.models import RequestStatus
from tests.e2e.conftest import System, wait_until
from tests.e2e.test_approval_flow import buttons, request_card, wait_card


def card_edits(system: System, card_id: str) -> list[dict[str, Any]]:
    """The card as each post_edited event showed it to bob (a member of the approvals channel)."""
    posts = [json.loads(e.data["post"]) for e in system.mm.events("bob", "post_edited")]
    return [p for p in posts if p["id"] == card_id]


def fallback(post: dict[str, Any]) -> str:
    return str(post["props"]["attachments"][0]["fallback"])


def test_a_revocation_during_a_429_burst_edits_the_card_and_dms_exactly_once(system: System) -> None:
    system.start_bot()
    card = request_card(system, "request prod AdministratorAccess 1h investigating INC-429")
    request_id = card["props"]["jit_request_id"]
    assert system.mm.click(user="bob", post_id=card["id"], action_id=buttons(card)["Approve"]).status == 200
    system.stack.wait_for(request_id, RequestStatus.GRANTED)
    wait_card(system, card["id"], "GRANTED")
    wait_until(lambda: any("You now have" in p["message"] for p in system.dms("alice")), what="grant DM")
    thread_before = system.thread(card["id"])

    # The bot's next three REST calls, whatever they are, answer 429 (Retry-After: 1 s).
    system.mm.force_rate_limit("jit-bot", 3, retry_after=1)
    system.stack.advance(timedelta(hours=1, minutes=5))
    system.stack.wait_for(request_id, RequestStatus.REVOKED)
    wait_card(system, card["id"], "REVOKED")
    wait_until(lambda: any("has been revoked" in p["message"] for p in system.dms("alice")), what="revoked DM")
    wait_until(lambda: any("revoked" in line for line in system.thread(card["id"])), what="revoked thread line")

    assert system.mm.forced_rate_limits_left("jit-bot") == 0
    assert system.mm.rate_limited_count == 3
    dms = [p["message"] for p in system.dms("alice")]
    assert sum("has been revoked" in m for m in dms) == 1
    assert [m for m, n in Counter(dms).items() if n > 1] == []
    thread_after = system.thread(card["id"])
    assert thread_after[: len(thread_before)] == thread_before
    new_lines = thread_after[len(thread_before) :]
    assert sum("revoked" in line for line in new_lines) == 1
    assert len(new_lines) == len(set(new_lines))
    assert len(system.cards()) == 1
    edits = card_edits(system, card["id"])
    assert sum(fallback(p).endswith("REVOKED") for p in edits) == 1
    versions = [p["props"]["jit_version"] for p in edits]
    assert versions == sorted(set(versions))  # no edit applied twice
