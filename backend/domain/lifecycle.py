"""Which status may follow which, and who may cause it (docs/architecture.md, "Request lifecycle").

Pure functions that return the next request; persistence makes each one a conditional write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from backend.domain.errors import InvalidTransition, NotAuthorized, RequestExpired, RevokeAlreadyRequested
from backend.domain.models import AccessRequest, Approval
from jitwire.models import Person, RequestStatus
from jitwire.timefmt import format_duration

S = RequestStatus


@dataclass(frozen=True)
class SessionsEnded:
    """The Deny statement for sessions issued before ``at`` is provisioned; it may go at ``until``."""

    at: datetime
    until: datetime
    wide: bool


class Role(StrEnum):
    REQUESTER = "requester"
    APPROVER = "approver"
    ADMIN = "admin"
    SYSTEM = "system"  # the workflow, the reconciler, break-glass tooling


TRANSITIONS: dict[tuple[RequestStatus, RequestStatus], frozenset[Role]] = {
    (S.PENDING, S.APPROVED): frozenset({Role.APPROVER, Role.SYSTEM}),
    (S.PENDING, S.DENIED): frozenset({Role.APPROVER, Role.ADMIN}),
    (S.PENDING, S.CANCELLED): frozenset({Role.REQUESTER}),
    (S.PENDING, S.EXPIRED): frozenset({Role.SYSTEM}),
    (S.APPROVED, S.GRANTED): frozenset({Role.SYSTEM}),
    (S.APPROVED, S.ERROR): frozenset({Role.SYSTEM}),
    (S.GRANTED, S.REVOKED): frozenset({Role.SYSTEM}),
}
"""Status changes. Early revoke by a person moves ``end_time`` to now; the workflow then revokes."""


def check_transition(current: RequestStatus, target: RequestStatus, role: Role) -> None:
    allowed = TRANSITIONS.get((current, target))
    if allowed is None:
        raise InvalidTransition(f"a {current} request cannot become {target}")
    if role not in allowed:
        raise NotAuthorized(f"the {role} may not move a request from {current} to {target}")


def _moved(request: AccessRequest, target: RequestStatus, role: Role, **changes: object) -> AccessRequest:
    check_transition(request.status, target, role)
    return request.model_copy(update={"status": target, "version": request.version + 1, **changes})


def record_approval(
    request: AccessRequest, approver: Person, now: datetime, principal_id: str | None = None
) -> AccessRequest:
    """Add one approval; the status becomes APPROVED when the quorum is reached.

    The caller has already checked that ``approver`` may approve under the policy; ``principal_id``
    is their bound Identity Center user, so one person never counts twice or approves their own.
    """
    if request.status is not S.PENDING:
        raise InvalidTransition(f"the request is {request.status}, not waiting for approval")
    if now >= request.approval_deadline:
        raise RequestExpired("the approval window has passed; the request has expired")
    if approver.same_as(request.requester) or principal_id == request.principal_id:
        raise NotAuthorized("you cannot approve your own request")
    if request.approved_by(approver, principal_id):
        raise InvalidTransition("you have already approved this request")
    approvals = (*request.approvals, Approval(approver=approver, at=now, principal_id=principal_id))
    if len(approvals) >= request.approvals_required:
        return _moved(request, S.APPROVED, Role.APPROVER, approvals=approvals, decided_by=approver)
    return request.model_copy(update={"approvals": approvals, "version": request.version + 1})


def auto_approve(request: AccessRequest) -> AccessRequest:
    return _moved(request, S.APPROVED, Role.SYSTEM, decision_note="auto-approved by policy")


def deny(request: AccessRequest, approver: Person, role: Role, note: str | None) -> AccessRequest:
    if approver.same_as(request.requester) and role is not Role.ADMIN:
        raise NotAuthorized("you cannot decide on your own request")
    return _moved(request, S.DENIED, role, decided_by=approver, decision_note=note)


def cancel(request: AccessRequest, actor: Person) -> AccessRequest:
    if not actor.same_as(request.requester):
        raise NotAuthorized("only the requester can cancel a request")
    return _moved(request, S.CANCELLED, Role.REQUESTER, decided_by=actor)


def expire(request: AccessRequest, now: datetime) -> AccessRequest:
    if request.status is S.PENDING and now < request.approval_deadline:
        raise InvalidTransition("the approval window is still open")
    return _moved(request, S.EXPIRED, Role.SYSTEM, decision_note="no decision within the approval timeout")


def remind(request: AccessRequest, now: datetime) -> AccessRequest:
    """Mark the half-timeout reminder as sent: PENDING stays PENDING, the version moves on."""
    if not reminder_due(request, now):
        raise InvalidTransition("no reminder is due")
    return request.model_copy(update={"reminded_at": now, "version": request.version + 1})


def reminder_due(request: AccessRequest, now: datetime) -> bool:
    """Pending, nobody has acted, never reminded, and half the approval window has passed."""
    halfway = request.created_at + (request.approval_deadline - request.created_at) / 2
    return (
        request.status is S.PENDING
        and not request.approvals
        and request.reminded_at is None
        and halfway <= now < request.approval_deadline
    )


def grant(request: AccessRequest, now: datetime, warning_lead: timedelta) -> AccessRequest:
    """The clock starts at grant: ``end_time = start_time + duration``."""
    end = now + request.duration
    warn = max(now, end - warning_lead)
    return _moved(request, S.GRANTED, Role.SYSTEM, start_time=now, end_time=end, warn_at=warn)


def fail(request: AccessRequest, error: str) -> AccessRequest:
    return _moved(request, S.ERROR, Role.SYSTEM, last_error=error[:1000])


def revoke(request: AccessRequest, sessions: SessionsEnded | None = None) -> AccessRequest:
    if sessions is None:
        return _moved(request, S.REVOKED, Role.SYSTEM)
    return _moved(
        request,
        S.REVOKED,
        Role.SYSTEM,
        sessions_ended_at=sessions.at,
        session_deny_until=sessions.until,
        session_deny_wide=sessions.wide,
    )


def request_early_end(request: AccessRequest, now: datetime) -> AccessRequest:
    """Early revoke: bring ``end_time`` forward to now; the workflow revokes (stays GRANTED)."""
    if request.status is not S.GRANTED:
        raise InvalidTransition(f"only granted access can be revoked; this request is {request.status}")
    requested = request.revoke_requested_at or now
    return request.model_copy(
        update={"end_time": now, "warn_at": now, "revoke_requested_at": requested, "version": request.version + 1}
    )


def extend(request: AccessRequest, extra: timedelta, max_duration: timedelta, warning_lead: timedelta) -> AccessRequest:
    if request.status is not S.GRANTED or request.start_time is None or request.end_time is None:
        raise InvalidTransition(f"only granted access can be extended; this request is {request.status}")
    if request.revoke_requested_at is not None:
        raise RevokeAlreadyRequested(
            f"this access was revoked early at {request.revoke_requested_at:%Y-%m-%d %H:%M} UTC and is being "
            "removed; it cannot be extended. Request new access if you still need it"
        )
    new_end = request.end_time + extra
    total = new_end - request.start_time
    if total > max_duration:
        raise NotAuthorized(
            f"the extension would make the grant {format_duration(total)} long; the policy allows at most "
            f"{format_duration(max_duration)}. Request new access instead"
        )
    return request.model_copy(
        update={
            "end_time": new_end,
            "warn_at": new_end - warning_lead,
            "duration": total,
            "version": request.version + 1,
        }
    )


def record_revoke_failure(request: AccessRequest, error: str) -> AccessRequest:
    """The revoke failed: stay GRANTED (the reconciler retries) and remember why."""
    if request.status is not S.GRANTED:
        raise InvalidTransition(f"the request is {request.status}, not GRANTED")
    return request.model_copy(
        update={
            "revoke_failures": request.revoke_failures + 1,
            "last_error": error[:1000],
            "version": request.version + 1,
        }
    )
