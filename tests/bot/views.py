"""RequestView and LifecycleEvent builders for the pure-module tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jitwire.contract import ApprovalView, LifecycleEvent, RequestView
from jitwire.models import CardRef, Person
from tests.fakes.access_api import request_view

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
ALICE = Person(user_id="ua", username="alice", email="alice@example.com")
BOB = Person(user_id="ub", username="bob", email="bob@example.com")


def view(**changes: Any) -> RequestView:
    """The fakes' pending request, as these tests knew it: id ``rabc``, already on card ``p1``."""
    return request_view(**({"request_id": "rabc", "card": CardRef(channel_id="c1", post_id="p1")} | changes))


def approved_by(*people: Person) -> tuple[ApprovalView, ...]:
    return tuple(ApprovalView(approver=p, at=NOW) for p in people)


def event(kind: str, request: RequestView, actor: Person | None = None, detail: str | None = None) -> LifecycleEvent:
    return LifecycleEvent.model_validate(
        {"event_id": "e1", "type": kind, "occurred_at": NOW, "actor": actor, "request": request, "detail": detail}
    )
