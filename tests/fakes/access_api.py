"""The backend's signed API in memory, at the bot's ``AccessApiPort`` (bot/ports.py).

``run`` hands the operation this object as its client, so the handlers' own lambdas run against it.
Every call is recorded as ``(method, *arguments)``; ``failing`` makes a method raise what the real
client raises (``BackendError``, ``BackendUnavailable``, ``OutcomeUnknown`` from jitwire.client).
The views it answers are ``jitwire.contract`` models, built as the backend would build them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from jitwire.contract import (
    ApprovalView,
    Catalog,
    CatalogEntry,
    CreateRequestBody,
    RequestList,
    RequestView,
)
from jitwire.models import CardRef, Person, RequestStatus
from jitwire.timefmt import parse_duration

T = TypeVar("T")
NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
PROD = CatalogEntry(
    account_id="111111111111",
    account_name="prod",
    permission_set="AdministratorAccess",
    max_duration="4h",
    approvals_required=1,
    auto_approve=False,
)


def request_view(**changes: Any) -> RequestView:
    """A pending request for ``PROD`` with no card yet; ``changes`` override any field."""
    base: dict[str, Any] = {
        "request_id": "r1",
        "requester": Person(user_id="ua", username="alice", email="alice@example.com"),
        "account_id": PROD.account_id,
        "account_name": PROD.account_name,
        "permission_set": PROD.permission_set,
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
        "card": None,
    }
    return RequestView.model_validate(base | changes)


@dataclass
class FakeAccessApi:
    views: dict[str, RequestView] = field(default_factory=dict)
    catalog_entries: tuple[CatalogEntry, ...] = (PROD,)
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    failing: dict[str, Exception] = field(default_factory=dict)  # method name -> what it raises

    def add(self, view: RequestView) -> RequestView:
        self.views[view.request_id] = view
        return view

    def called(self, method: str) -> list[tuple[Any, ...]]:
        """The recorded arguments of every call of ``method``."""
        return [call[1:] for call in self.calls if call[0] == method]

    async def run(self, operation: Callable[[Any], T]) -> T:
        return operation(self)

    def _record(self, method: str, *args: Any) -> None:
        self.calls.append((method, *args))
        if method in self.failing:
            raise self.failing[method]

    def _bump(self, request_id: str, **changes: Any) -> RequestView:
        before = self.views[request_id]
        after = before.model_copy(update={"version": before.version + 1, **changes})
        self.views[request_id] = after
        return after

    def create_request(self, body: CreateRequestBody) -> RequestView:
        self._record("create_request", body)
        entry = next(
            e for e in self.catalog_entries if (e.account_name, e.permission_set) == (body.account, body.permission_set)
        )
        return self.add(
            request_view(
                request_id=f"r{len(self.views) + 1}",
                requester=body.actor,
                account_id=entry.account_id,
                account_name=entry.account_name,
                permission_set=entry.permission_set,
                duration_seconds=int(parse_duration(body.duration).total_seconds()),
                duration=body.duration,
                reason=body.reason,
                approvals_required=entry.approvals_required,
            )
        )

    def get_request(self, actor: Person, request_id: str) -> RequestView:
        self._record("get_request", actor, request_id)
        return self.views[request_id]

    def list_requests(
        self, actor: Person, view: str = "mine", status: str | None = None, limit: int = 50
    ) -> RequestList:
        self._record("list_requests", actor, view, status, limit)
        if view == "mine":
            found = [v for v in self.views.values() if v.requester.user_id == actor.user_id]
        else:
            found = [v for v in self.views.values() if v.status is RequestStatus.PENDING]
        return RequestList(requests=tuple(found[:limit]))

    def decide(self, actor: Person, request_id: str, decision: str, note: str | None = None) -> RequestView:
        self._record("decide", actor, request_id, decision, note)
        if decision == "approve":
            approvals = (*self.views[request_id].approvals, ApprovalView(approver=actor, at=NOW))
            return self._bump(request_id, status=RequestStatus.APPROVED, decided_by=actor, approvals=approvals)
        if decision == "deny":
            return self._bump(request_id, status=RequestStatus.DENIED, decided_by=actor, decision_note=note)
        return self._bump(request_id)  # revoke: the workflow ends the access later

    def cancel(self, actor: Person, request_id: str) -> RequestView:
        self._record("cancel", actor, request_id)
        return self._bump(request_id, status=RequestStatus.CANCELLED)

    def revoke(self, actor: Person, request_id: str, note: str | None = None) -> RequestView:
        return self.decide(actor, request_id, "revoke", note)

    def extend(self, actor: Person, request_id: str, duration: str) -> RequestView:
        self._record("extend", actor, request_id, duration)
        end = self.views[request_id].end_time or NOW
        return self._bump(request_id, end_time=end + parse_duration(duration))

    def place_card(self, actor: Person, request_id: str, channel_id: str, post_id: str) -> RequestView:
        """The first card placed stays (the backend's conditional write)."""
        self._record("place_card", actor, request_id, channel_id, post_id)
        if self.views[request_id].card is not None:
            return self.views[request_id]
        return self._bump(request_id, card=CardRef(channel_id=channel_id, post_id=post_id))

    def catalog(self, actor: Person) -> Catalog:
        self._record("catalog", actor)
        return Catalog(entries=self.catalog_entries, is_admin=False)

    def get_policy(self, actor: Person) -> dict[str, Any]:
        self._record("get_policy", actor)
        return {"version": 1}

    def audit_report(self, actor: Person, window: str = "7d") -> dict[str, Any]:
        self._record("audit_report", actor, window)
        return {"from": "2026-11-20T14:00:00Z", "to": "2026-11-27T14:00:00Z", "grants": []}
