"""The reconciler: gather, plan (pure), apply everything it can, then fail loudly if anything failed."""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from backend.domain import lifecycle
from backend.domain.errors import ReconcileFailed, RequestNotFound
from backend.domain.reconcile import (
    Drift,
    ExpirePending,
    FailStuckGrant,
    ReconcileAction,
    ReconcileInputs,
    ReleaseDeadHolders,
    RemindApprovers,
    RevokeExpired,
    plan_reconcile,
)
from backend.service.access import release_holders
from backend.service.sessions import reconcile_session_denies
from backend.service.system_events import publish_system_event
from backend.service.workflow_tasks import mark_error, revoke_now
from jitwire.models import RequestStatus

if TYPE_CHECKING:
    from backend.domain.assignment import AssignmentTarget
    from backend.service.unit_of_work import UnitOfWork

log = logging.getLogger("backend.reconciler")

OUTBOX_GRACE = timedelta(seconds=30)


@dataclass
class ReconcileReport:
    planned: list[ReconcileAction] = field(default_factory=list)
    done: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    drift: list[AssignmentTarget] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "planned": len(self.planned),
            "done": dict(self.done),
            "failed": dict(self.failed),
            "drift": [t.ledger_key for t in self.drift],
        }


def gather(uow: UnitOfWork) -> ReconcileInputs:
    now = uow.now()
    policy = uow.policies.current()
    ledger = uow.ledger.all()
    statuses: dict[str, RequestStatus] = {}
    for holders in ledger.values():
        for request_id in holders:
            try:
                statuses[request_id] = uow.store.get(request_id).status
            except RequestNotFound:
                log.warning("ledger names unknown request %s", request_id)
    live: set[AssignmentTarget] = set()
    for ps_name in sorted(policy.managed_permission_sets):
        ps_arn = uow.directory.permission_set_arn(ps_name)
        for account in policy.accounts:
            live.update(uow.assignments.list_user_assignments(account.id, ps_arn))
    return ReconcileInputs(
        now=now,
        expired_granted=tuple(uow.store.granted_ending_before(now)),
        pending=tuple(uow.store.list_by_status(RequestStatus.PENDING, limit=1000)),
        approved=tuple(uow.store.list_by_status(RequestStatus.APPROVED, limit=1000)),
        ledger=ledger,
        statuses=statuses,
        live_assignments=frozenset(live),
        remove_drift=policy.remove_drift,
    )


def reconcile(uow: UnitOfWork, *, dry_run: bool = False) -> ReconcileReport:
    """Run once. Raises ReconcileFailed after trying every action if any of them failed."""
    report = ReconcileReport()
    report.planned = plan_reconcile(gather(uow))
    for action in report.planned:
        kind = type(action).__name__
        if dry_run:
            report.done[f"would_{kind}"] += 1
            if isinstance(action, Drift):
                report.drift.append(action.target)
            continue
        try:
            _apply(uow, action, report)
        except Exception:  # count, log, carry on: one stuck grant must not block the others
            log.exception("ERROR reconcile action %s failed", action)
            report.failed[kind] += 1
        else:
            report.done[kind] += 1
    if not dry_run:
        _session_denies(uow, report)
        _flush_outbox(uow, report)
    _publish_heartbeat(uow, report)
    for name, value in report.done.items():
        uow.metrics.count(f"Reconcile{name}", value)
    uow.metrics.count("ReconcileFailures", sum(report.failed.values()))
    log.info("reconcile finished %s", json.dumps(report.as_dict()))
    if report.failed:
        raise ReconcileFailed(f"{sum(report.failed.values())} reconcile actions failed: {dict(report.failed)}")
    return report


def _apply(uow: UnitOfWork, action: ReconcileAction, report: ReconcileReport) -> None:
    match action:
        case RevokeExpired(request_id):
            request = uow.store.get(request_id)
            if request.status is RequestStatus.GRANTED:
                revoke_now(uow, request)
        case ExpirePending(request_id):
            request = uow.store.get(request_id)
            if request.status is RequestStatus.PENDING:
                after = lifecycle.expire(request, uow.now())
                uow.commit(request, after, uow.entry("request.expired", None, request.status, after.status))
        case RemindApprovers(request_id):
            _remind(uow, request_id)
        case FailStuckGrant(request_id):
            mark_error(uow, request_id, "the grant workflow did not finish; the reconciler does not retry grants")
        case ReleaseDeadHolders(target):
            _release_dead_holders(uow, target)
        case Drift(target, remove):
            if uow.ledger.holders(target):
                return  # a grant joined since the ledger was read: not drift
            report.drift.append(target)
            log.warning("drift: assignment %s is held by no active request", target.ledger_key)
            if remove:
                uow.assignments.delete_assignment(target)
                if uow.ledger.holders(target):  # a grant joined during the delete: give it back
                    uow.assignments.create_assignment(target)
            _publish_drift(uow, target, removed=remove)


def _remind(uow: UnitOfWork, request_id: str) -> None:
    # The reconciler's periodic run (every 15 min) is the scheduler, as for the approval timeout: no
    # per-request timer to lose; the version-checked commit sends the reminder once if runs overlap.
    request = uow.store.get(request_id)
    if lifecycle.reminder_due(request, uow.now()):
        after = lifecycle.remind(request, uow.now())
        uow.commit(request, after, uow.entry("request.approval_reminder", None, request.status, after.status))


def _session_denies(uow: UnitOfWork, report: ReconcileReport) -> None:
    """Expired session-ending statements go; missing ones still needed come back (drift)."""
    policy = uow.policies.current()
    try:
        arns = {uow.directory.permission_set_arn(name) for name in sorted(policy.managed_permission_sets)}
        found = reconcile_session_denies(uow, arns)
    except Exception:  # count, log, carry on, as every other action
        log.exception("ERROR reconciling session deny statements")
        report.failed["SessionDenies"] += 1
        return
    if found.removed:
        report.done["SessionDenyRemoved"] += found.removed
    if found.readded:
        report.done["SessionDenyReadded"] += len(found.readded)
    if found.failed:
        report.failed["SessionDenies"] += found.failed


def _release_dead_holders(uow: UnitOfWork, target: AssignmentTarget) -> None:
    """Release the holders that are dead now, judged on a fresh read of the ledger entry.

    The plan was made from a ledger scan followed by status reads; by now some of those holders may
    have been revoked (and released) and new grants may have joined. So: read the entry, read each
    holder's status, read the entry again; a holder is dead only if it is in both reads and its
    status no longer holds access (statuses never return to holding). The release itself is the
    same conditional one as ``release_access``: decided on the entry read, restored if a grant
    joined before the holders left.
    """
    first = uow.ledger.holders(target)
    holding = {request_id: _still_holds(uow, request_id) for request_id in first}
    current = uow.ledger.holders(target)
    dead = frozenset(h for h in first & current if not holding[h])
    if dead:
        release_holders(uow, target, dead, current)


def _still_holds(uow: UnitOfWork, request_id: str) -> bool:
    try:
        return uow.store.get(request_id).status.holds_access
    except RequestNotFound:
        return False


def _publish_drift(uow: UnitOfWork, target: AssignmentTarget, *, removed: bool) -> None:
    detail = f"{target.ledger_key} {'removed' if removed else 'reported'}"
    publish_system_event(uow, "access.drift_detected", detail)


HEARTBEAT = "system.heartbeat"


def _publish_heartbeat(uow: UnitOfWork, report: ReconcileReport) -> None:
    """Every run, dry or not, failed or not, tells the bot it ran: SNS counts each delivery the bot
    misses (NumberOfNotificationsFailed), which JIT-BotUnreachable watches (docs/runbooks/04-bot-unreachable.md).
    A failed publish counts as a failed action, so JIT-ReconcilerErrors notices it."""
    detail = f"reconciler run: {len(report.planned)} planned, {sum(report.failed.values())} failed"
    try:
        publish_system_event(uow, HEARTBEAT, detail)
    except Exception:
        log.exception("ERROR publishing the heartbeat")
        report.failed["Heartbeat"] += 1


def _flush_outbox(uow: UnitOfWork, report: ReconcileReport) -> None:
    for event in uow.store.pending_outbox(uow.now() - OUTBOX_GRACE):
        try:
            event_type = json.loads(event.payload)["type"]
            uow.events.publish(event.event_id, event_type, event.payload)
            uow.store.delete_outbox(event.event_id)
        except Exception:
            log.exception("ERROR republishing event %s", event.event_id)
            report.failed["RepublishEvent"] += 1
        else:
            report.done["RepublishEvent"] += 1
