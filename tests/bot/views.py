"""RequestView and LifecycleEvent builders for the pure-module tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jitwire.contract import ApprovalView, LifecycleEvent, RequestView
from jitwire.models import CardRef, Person, RequestStatus

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
ALICE = Person(user_id="ua", username="alice", email="alice@example.com")
BOB = Person(user_id="ub", username="bob", email="bob@example.com")


def view(**changes: Any) -> RequestView:
    base: dict[str, Any] = {
        "request_id": "rabc",
        "requester": ALICE,
        "account_id": "111111111111",
        "account_name": "prod",
        "permission_set": "AdministratorAccess",
        "duration_seconds": 3600,
        "duration": "1h",
        "reason": "investigating INC-1",
        "status": RequestStatus.PENDING,
        "version": 1,
        "created_at": NOW,
        "approval_deadline": NOW + timedelta(hours=1),
        "approvals": (),
        "approvals_required": 1,
        "decided_by": None,
        "decision_note": None,
        "start_time": None,
        "end_time": None,
        "revoke_failures": 0,
        "last_error": None,
        "card": CardRef(channel_id="c1", post_id="p1"),
    }
    return RequestView.model_validate(base | changes)


def approved_by(*people: Person) -> tuple[ApprovalView, ...]:
    return tuple(ApprovalView(approver=p, at=NOW) for p in people)


def event(kind: str, request: RequestView, actor: Person | None = None, detail: str | None = None) -> LifecycleEvent:
    return LifecycleEvent.model_validate(
        {"event_id": "e1", "type": kind, "occurred_at": NOW, "actor": actor, "request": request, "detail": detail}
    )
