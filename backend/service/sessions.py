"""Ending live AWS sessions at revoke, and keeping the Deny statements right afterwards.

At revoke of user U's permission set P in account A at time T: merge a Deny statement for U's
sessions in A issued before T into P's inline policy, provision P to A, wait for SUCCEEDED. The
reconciler removes our statements once P's session duration has passed since T and puts back any
still needed that someone removed (reported as drift). See docs/ending-sessions.md.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from backend.domain.errors import IdentityCenterError, InvalidRequest, SessionsNotEnded
from backend.domain.lifecycle import SessionsEnded
from backend.domain.session_deny import (
    NotAPolicy,
    PolicyTooLarge,
    SessionDeny,
    merge_deny,
    project_denies,
    remove_denies,
)
from backend.service.system_events import publish_system_event
from jitwire.timefmt import iso_z

if TYPE_CHECKING:
    from backend.domain.assignment import AssignmentTarget
    from backend.domain.models import AccessRequest
    from backend.domain.policy import Policy
    from backend.domain.ports import SessionPolicies
    from backend.service.unit_of_work import UnitOfWork

log = logging.getLogger("backend.sessions")

WIDE_EVENT = "access.sessions_ended_wide"
DRIFT_EVENT = "access.drift_detected"


def should_end_sessions(policy: Policy, request: AccessRequest) -> bool:
    """The rule's ``end_sessions``; a rule since removed from the policy errs on ending them."""
    try:
        return policy.rule(request.rule_name).end_sessions
    except InvalidRequest:
        return True


def _gateway(uow: UnitOfWork) -> SessionPolicies:
    if uow.sessions is None:
        raise SessionsNotEnded("ending live sessions is not configured in this process")
    return uow.sessions


def end_sessions(uow: UnitOfWork, request: AccessRequest) -> SessionsEnded:
    """Deny U's sessions in A issued before now, provisioned to A only. Raises on any failure."""
    return deny_sessions(
        uow,
        request.target,
        who=f"{request.requester.username}'s (request {request.request_id}, {request.permission_set_name} "
        f"in {request.account_name})",
    )


def deny_sessions(
    uow: UnitOfWork, target: AssignmentTarget, *, who: str, without_dynamodb: bool = False
) -> SessionsEnded:
    """The same for one assignment target (break-glass works on targets, not requests)."""
    gateway = _gateway(uow)
    arn = target.permission_set_arn
    wanted = SessionDeny(account_id=target.account_id, issued_before=uow.now(), user_id=target.principal_id)
    with gateway.locked(arn, best_effort=without_dynamodb):
        try:
            merged = merge_deny(gateway.inline_policy(arn), wanted)
        except (PolicyTooLarge, NotAPolicy) as exc:
            raise SessionsNotEnded(f"live sessions could not be ended: {exc}") from exc
        if merged.changed:
            gateway.put_inline_policy(arn, merged.text)
        gateway.provision(arn, target.account_id)
    duration = gateway.session_duration(arn)
    if merged.wide:
        _tell_oncall_wide(uow, target, merged.applied, who)
    uow.metrics.count("SessionsEnded")
    log.info("live sessions ended for %s (%s statement)", who, "wide" if merged.wide else "narrow")
    return SessionsEnded(at=wanted.issued_before, until=wanted.issued_before + duration, wide=merged.wide)


def _tell_oncall_wide(uow: UnitOfWork, target: AssignmentTarget, applied: SessionDeny, who: str) -> None:
    publish_system_event(
        uow,
        WIDE_EVENT,
        f"the inline policy of permission set {target.permission_set_arn} is near IAM's size limit, so every "
        f"session of it in account {target.account_id} issued before {iso_z(applied.issued_before)} is denied, "
        f"not only {who}. Others must sign in again; see runbook 03.",
    )


# -- the reconciler's part -------------------------------------------------------------------------


@dataclass
class SessionDenyReport:
    removed: int = 0
    readded: list[str] = field(default_factory=list)
    failed: int = 0


def _needed(request: AccessRequest) -> SessionDeny | None:
    if request.sessions_ended_at is None:
        return None
    user = None if request.session_deny_wide else request.principal_id
    return SessionDeny(account_id=request.account_id, issued_before=request.sessions_ended_at, user_id=user)


def reconcile_session_denies(uow: UnitOfWork, permission_set_arns: set[str]) -> SessionDenyReport:
    """Remove our expired statements; put back those still needed but missing (drift)."""
    report = SessionDenyReport()
    if uow.sessions is None:
        return report
    gateway = uow.sessions
    now = uow.now()
    needed: dict[str, list[tuple[AccessRequest, SessionDeny]]] = defaultdict(list)
    for request in uow.store.session_denies_in_force(now):
        deny = _needed(request)
        if deny is not None:
            needed[request.permission_set_arn].append((request, deny))
    for arn in sorted(permission_set_arns | set(needed)):
        try:
            _reconcile_one(uow, gateway, arn, needed.get(arn, []), report)
        except (IdentityCenterError, NotAPolicy, PolicyTooLarge):
            log.exception("ERROR reconciling session deny statements of %s", arn)
            report.failed += 1
    return report


def _reconcile_one(
    uow: UnitOfWork,
    gateway: SessionPolicies,
    arn: str,
    needed: list[tuple[AccessRequest, SessionDeny]],
    report: SessionDenyReport,
) -> None:
    now = uow.now()
    readded: list[str] = []
    if not needed and not project_denies(gateway.inline_policy(arn)):
        return  # nothing of ours there and nothing owed: no lease, no writes
    with gateway.locked(arn):
        before = gateway.inline_policy(arn)
        ours = project_denies(before)
        if not ours and not needed:
            return
        duration = gateway.session_duration(arn)
        expired = {d for d in ours if d.expires_at(duration) <= now}
        text = remove_denies(before, expired)
        touched = {d.account_id for d in expired}
        for request, deny in needed:
            if deny.expires_at(duration) <= now:
                continue
            merged = merge_deny(text, deny)
            if merged.changed:
                text = merged.text
                touched.add(deny.account_id)
                readded.append(request.request_id)
                log.warning("drift: session deny statement for %s was missing; put back", request.request_id)
        if text != before:
            gateway.put_inline_policy(arn, text)
        for account in sorted(touched):
            gateway.provision(arn, account)
    report.removed += len(expired)
    report.readded += readded
    for request_id in readded:
        publish_system_event(
            uow,
            DRIFT_EVENT,
            f"the Deny statement ending live sessions of request {request_id} had been removed from its "
            "permission set's inline policy; put back and provisioned",
        )
