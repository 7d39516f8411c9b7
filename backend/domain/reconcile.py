"""The reconcile plan (pure): what the 15-minute reconciler should do, given what it saw.

Compute first, then act: the handler gathers the inputs, calls ``plan_reconcile`` and applies the
actions one by one, counting failures instead of stopping at the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from backend.domain.assignment import AssignmentTarget
from backend.domain.lifecycle import reminder_due
from backend.domain.models import AccessRequest
from jitwire.models import RequestStatus


@dataclass(frozen=True)
class RevokeExpired:
    """A GRANTED request past its end time: the workflow missed it or its revoke failed."""

    request_id: str


@dataclass(frozen=True)
class ExpirePending:
    request_id: str


@dataclass(frozen=True)
class RemindApprovers:
    """Half the approval window has passed and nobody has acted."""

    request_id: str


@dataclass(frozen=True)
class FailStuckGrant:
    """APPROVED for too long: the grant workflow died. Grants are never retried."""

    request_id: str


@dataclass(frozen=True)
class ReleaseDeadHolders:
    """Ledger entries whose requests are final: release them (deleting the assignment if last)."""

    target: AssignmentTarget
    dead_holders: frozenset[str]
    live_holders: frozenset[str]


@dataclass(frozen=True)
class Drift:
    """An assignment of a managed permission set that no active request holds."""

    target: AssignmentTarget
    remove: bool


ReconcileAction = RevokeExpired | ExpirePending | RemindApprovers | FailStuckGrant | ReleaseDeadHolders | Drift


# An APPROVED request older than this has a stuck grant workflow: the reconciler fails it, jit-admin lists it.
STUCK_AFTER = timedelta(minutes=30)


@dataclass(frozen=True)
class ReconcileInputs:
    now: datetime
    expired_granted: tuple[AccessRequest, ...]
    pending: tuple[AccessRequest, ...]
    approved: tuple[AccessRequest, ...]
    ledger: dict[AssignmentTarget, frozenset[str]]
    statuses: dict[str, RequestStatus]  # status of every request named in the ledger
    live_assignments: frozenset[AssignmentTarget]
    remove_drift: bool
    stuck_after: timedelta = STUCK_AFTER
    revoke_grace: timedelta = timedelta(seconds=60)


def plan_reconcile(inputs: ReconcileInputs) -> list[ReconcileAction]:
    actions: list[ReconcileAction] = []
    for request in inputs.expired_granted:
        if request.end_time is not None and request.end_time <= inputs.now - inputs.revoke_grace:
            actions.append(RevokeExpired(request.request_id))
    actions.extend(ExpirePending(r.request_id) for r in inputs.pending if r.approval_deadline <= inputs.now)
    actions.extend(RemindApprovers(r.request_id) for r in inputs.pending if reminder_due(r, inputs.now))
    for request in inputs.approved:
        if request.approved_at <= inputs.now - inputs.stuck_after:
            actions.append(FailStuckGrant(request.request_id))
    revoking = {a.request_id for a in actions if isinstance(a, RevokeExpired | FailStuckGrant)}
    held: set[AssignmentTarget] = set()
    for target, holders in sorted(inputs.ledger.items(), key=lambda kv: kv[0].ledger_key):
        live = frozenset(h for h in holders if h not in revoking and _holds(inputs.statuses.get(h)))
        dead = frozenset(h for h in holders if not _holds(inputs.statuses.get(h)))
        if dead:
            actions.append(ReleaseDeadHolders(target, dead_holders=dead, live_holders=live))
        if holders:
            held.add(target)
    for target in sorted(inputs.live_assignments - held, key=lambda t: t.ledger_key):
        actions.append(Drift(target, remove=inputs.remove_drift))
    return actions


def _holds(status: RequestStatus | None) -> bool:
    return status is not None and status.holds_access
