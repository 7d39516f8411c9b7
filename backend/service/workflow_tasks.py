"""The Step Functions task steps: grant, warn, revoke, and the two failure recorders.

Each is idempotent (a Task Retry calls it again) and raises domain errors whose class names the
state machine's Retry/Catch match on.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from backend.domain import lifecycle
from backend.domain.errors import ConcurrentUpdate, InvalidTransition
from backend.domain.models import AccessRequest
from backend.service.access import hold_access, release_access
from backend.service.sessions import end_sessions, should_end_sessions
from jitwire.models import RequestStatus
from jitwire.timefmt import iso_z

if TYPE_CHECKING:
    from backend.service.unit_of_work import UnitOfWork

log = logging.getLogger("backend.workflow")

# A wait that wakes up a little early must not reschedule forever.
_EARLY_TOLERANCE = timedelta(seconds=1)


def _schedule(request: AccessRequest, outcome: str) -> dict[str, Any]:
    result: dict[str, Any] = {"request_id": request.request_id, "outcome": outcome}
    if request.end_time is not None and request.warn_at is not None:
        result["end_time"] = iso_z(request.end_time)
        result["warn_at"] = iso_z(request.warn_at)
    return result


def grant(uow: UnitOfWork, request_id: str) -> dict[str, Any]:
    request = uow.store.get(request_id)
    if request.status is RequestStatus.GRANTED:
        return _schedule(request, "granted")
    if request.status is not RequestStatus.APPROVED:
        raise InvalidTransition(f"cannot grant a {request.status} request")
    hold_access(uow, request)
    after = lifecycle.grant(request, uow.now(), uow.policies.current().expiry_warning)
    try:
        uow.commit(request, after, uow.entry("request.granted", None, request.status, after.status))
    except ConcurrentUpdate:
        _release_if_failed_meanwhile(uow, request_id)
        raise
    return _schedule(after, "granted")


def _release_if_failed_meanwhile(uow: UnitOfWork, request_id: str) -> None:
    """The reconciler failed this stuck grant while we made the assignment: take it back."""
    current = uow.store.get(request_id)
    if current.status.is_final:
        release_access(uow, current)


def warn_expiring(uow: UnitOfWork, request_id: str) -> dict[str, Any]:
    request = uow.store.get(request_id)
    if request.status is not RequestStatus.GRANTED or request.warn_at is None:
        return _schedule(request, "already_final")
    if uow.now() + _EARLY_TOLERANCE < request.warn_at:
        return _schedule(request, "rescheduled")
    # Not a status change, but audited and delivered like one.
    after = request.model_copy(update={"version": request.version + 1})
    uow.commit(request, after, uow.entry("request.expiring_soon", None, request.status, after.status))
    return _schedule(after, "warned")


def revoke(uow: UnitOfWork, request_id: str) -> dict[str, Any]:
    request = uow.store.get(request_id)
    if request.status.is_final:
        return _schedule(request, "already_final")
    if request.status is not RequestStatus.GRANTED or request.end_time is None:
        raise InvalidTransition(f"cannot revoke a {request.status} request")
    if uow.now() + _EARLY_TOLERANCE < request.end_time:
        return _schedule(request, "rescheduled")  # extended: wait again
    return {"request_id": request_id, "outcome": revoke_now(uow, request)}


def revoke_now(uow: UnitOfWork, request: AccessRequest) -> str:
    """Release the assignment, end live sessions if the rule says so, then mark REVOKED.

    Shared with the reconciler. Sessions are ended only when the assignment is gone: while another
    active grant holds it, the user is still entitled to their sessions.
    """
    deleted = release_access(uow, request)
    detail = "assignment removed" if deleted else "released; another active grant still holds the assignment"
    sessions = None
    if deleted and should_end_sessions(uow.policies.current(), request):
        sessions = end_sessions(uow, request)
        detail += f"; live sessions ended (deny provisioned at {iso_z(sessions.at)}"
        detail += ", wide form: see runbook 03)" if sessions.wide else ")"
    after = lifecycle.revoke(request, sessions)
    uow.commit(request, after, uow.entry("request.revoked", None, request.status, after.status, detail))
    return "revoked"


def mark_error(uow: UnitOfWork, request_id: str, error: str) -> dict[str, Any]:
    """Catch after a failed grant: ERROR, and undo any half-made assignment (best effort)."""
    request = uow.store.get(request_id)
    if request.status is not RequestStatus.APPROVED:
        return _schedule(request, "unchanged")
    # ERROR first (conditional on APPROVED), then undo: a grant that got through meanwhile makes the
    # write fail and keeps its assignment; a grant arriving later finds ERROR and does not grant.
    after = lifecycle.fail(request, error)
    uow.commit(request, after, uow.entry("request.error", None, request.status, after.status, after.last_error))
    try:
        release_access(uow, request)
    except Exception:  # the ledger keeps the holder; the reconciler cleans up
        log.exception("ERROR compensating failed grant %s", request_id)
    uow.metrics.count("GrantFailures")
    return _schedule(after, "error")


def record_revoke_failure(uow: UnitOfWork, request_id: str, error: str) -> dict[str, Any]:
    """Catch after a failed revoke: stay GRANTED, remember the failure; the reconciler retries."""
    request = uow.store.get(request_id)
    if request.status is not RequestStatus.GRANTED:
        return _schedule(request, "unchanged")
    after = lifecycle.record_revoke_failure(request, error)
    uow.commit(request, after, uow.entry("request.revoke_failed", None, request.status, after.status, after.last_error))
    uow.metrics.count("RevokeFailures")
    log.error("ERROR revoke failed for %s: %s", request_id, error)
    return _schedule(after, "revoke_failed")
