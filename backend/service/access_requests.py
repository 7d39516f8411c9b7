"""Access-request use cases behind the API: create, decide, cancel, revoke early, extend, read."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from backend.domain import lifecycle
from backend.domain.assignment import AssignmentTarget
from backend.domain.errors import (
    ConcurrentUpdate,
    DomainError,
    InvalidRequest,
    NotAuthorized,
    RequestAlreadyExists,
    RequestExpired,
    RequestNotFound,
    StandingAccessExists,
    WorkflowUnavailable,
)
from backend.domain.lifecycle import Role
from backend.domain.models import AccessRequest, Identity
from backend.domain.policy import (
    Entitlement,
    Policy,
    decide_can_approve,
    decide_catalog,
    decide_eligibility,
    may_end_early,
)
from backend.domain.wire import lifecycle_event
from backend.service.identity import bound_approvers, bound_identity, identify, with_groups
from jitwire.models import Person, RequestStatus
from jitwire.timefmt import parse_duration

if TYPE_CHECKING:
    from backend.service.unit_of_work import UnitOfWork
    from jitwire.contract import CreateRequestBody
    from jitwire.models import CardRef

log = logging.getLogger("backend.requests")

_RETRIES = 8
# What chat shows when the workflow cannot start; the exception (ARNs, role names) stays in the log
# and the audit item.
WORKFLOW_START_FAILED = "the access workflow could not start"


def new_request_id(requester_id: str, idempotency_key: str | None) -> str:
    """Deterministic from the idempotency key (so a retried create finds its request), else random."""
    raw = (
        hashlib.sha256(f"{requester_id}\n{idempotency_key}".encode()).digest()
        if idempotency_key
        else secrets.token_bytes(32)
    )
    return "r" + base64.b32encode(raw).decode().lower()[:20]


def create_request(uow: UnitOfWork, body: CreateRequestBody) -> tuple[AccessRequest, bool]:
    """Returns the request and whether it was created now (False: an idempotent replay)."""
    actor = body.actor
    try:
        duration = parse_duration(body.duration)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from exc
    policy = uow.policies.current()
    who = identify(uow, actor)
    principal_id = who.principal_id
    rule = decide_eligibility(policy, who, body.account, body.permission_set, duration)
    account = policy.account(body.account)
    ps_name = policy.permission_set(body.permission_set).name
    request_id = new_request_id(actor.user_id, body.idempotency_key)
    replay = _find_replay(uow, request_id, actor, account.id, ps_name, duration, body.reason)
    if replay is not None:
        return replay, False
    target = AssignmentTarget(
        principal_id=principal_id,
        account_id=account.id,
        permission_set_arn=uow.directory.permission_set_arn(ps_name),
    )
    if not uow.ledger.holders(target) and uow.assignments.has_assignment(target):
        raise StandingAccessExists(f"you already hold {ps_name} in {account.name} outside JIT; nothing was requested")
    now = uow.now()
    request = AccessRequest(
        request_id=request_id,
        requester=actor,
        principal_id=principal_id,
        account_id=account.id,
        account_name=account.name,
        permission_set_name=ps_name,
        permission_set_arn=target.permission_set_arn,
        duration=duration,
        reason=body.reason,
        rule_name=rule.name,
        approvals_required=rule.approvals_required,
        status=RequestStatus.PENDING,
        version=1,
        created_at=now,
        approval_deadline=now + rule.approval_timeout,
        idempotency_key=body.idempotency_key,
        notify_approvers=rule.notify_approvers,
        approver_user_ids=() if rule.auto_approve else bound_approvers(uow, policy, rule, principal_id),
    )
    entry = uow.entry("request.created", actor, None, RequestStatus.PENDING, body.reason)
    payload = lifecycle_event(entry, request).model_dump_json()
    try:
        uow.store.create(request, entry, payload)
    except RequestAlreadyExists:
        replay = _find_replay(uow, request_id, actor, account.id, ps_name, duration, body.reason)
        if replay is None:  # pragma: no cover - the store said it exists
            raise
        return replay, False
    uow.deliver(entry.event_id, entry.type, payload)
    if rule.auto_approve:
        approved = uow.commit(
            request,
            lifecycle.auto_approve(request),
            uow.entry("request.approved", None, RequestStatus.PENDING, RequestStatus.APPROVED, "auto-approved"),
        )
        start_grant(uow, approved)
        return approved, True
    return request, True


def _find_replay(
    uow: UnitOfWork,
    request_id: str,
    actor: Person,
    account_id: str,
    ps_name: str,
    duration: timedelta,
    reason: str,
) -> AccessRequest | None:
    try:
        existing = uow.store.get(request_id)
    except RequestNotFound:
        return None
    same = (
        existing.requester.user_id == actor.user_id
        and existing.account_id == account_id
        and existing.permission_set_name == ps_name
        and existing.duration == duration
        and existing.reason == reason
    )
    if not same:
        raise RequestAlreadyExists("this idempotency key was already used for a different request")
    return existing


def start_grant(uow: UnitOfWork, request: AccessRequest) -> None:
    """Start the workflow named after the request; if it cannot start, the request is ERROR."""
    try:
        uow.workflow.start(request.request_id, request.request_id, "grant")
    except Exception as exc:
        detail = f"{WORKFLOW_START_FAILED}: {type(exc).__name__}: {exc}"[:1000]
        log.exception("ERROR %s for %s", WORKFLOW_START_FAILED, request.request_id)
        failed = lifecycle.fail(request, WORKFLOW_START_FAILED)
        uow.commit(request, failed, uow.entry("request.error", None, request.status, failed.status, detail))
        raise WorkflowUnavailable("the access workflow could not be started; please request again") from exc


def _with_retries(uow: UnitOfWork, request_id: str, step: Callable[[AccessRequest], AccessRequest]) -> AccessRequest:
    """Re-read and re-apply on a lost race: one of N concurrent callers wins each version."""
    for _ in range(_RETRIES):
        request = uow.store.get(request_id)
        try:
            return step(request)
        except ConcurrentUpdate:
            continue
    raise ConcurrentUpdate("the request changed too often while we tried; please retry")


def approve(uow: UnitOfWork, actor: Person, request_id: str, note: str | None) -> AccessRequest:
    policy = uow.policies.current()
    who = identify(uow, actor)

    def step(request: AccessRequest) -> AccessRequest:
        now = uow.now()
        _expire_if_due(uow, request, now)
        decide_can_approve(policy, request, who)
        after = lifecycle.record_approval(request, actor, now, who.principal_id)
        kind = "request.approved" if after.status is RequestStatus.APPROVED else "request.approval_recorded"
        uow.commit(request, after, uow.entry(kind, actor, request.status, after.status, note))
        if after.status is RequestStatus.APPROVED:
            start_grant(uow, after)
        return after

    return _with_retries(uow, request_id, step)


def deny(uow: UnitOfWork, actor: Person, request_id: str, note: str | None) -> AccessRequest:
    policy = uow.policies.current()
    who = identify(uow, actor)

    def step(request: AccessRequest) -> AccessRequest:
        _expire_if_due(uow, request, uow.now())
        role = Role.APPROVER
        try:
            decide_can_approve(policy, request, who)
        except NotAuthorized:
            if not policy.is_admin(who) or who.is_requester_of(request):
                raise
            role = Role.ADMIN
        after = lifecycle.deny(request, actor, role, note)
        return uow.commit(request, after, uow.entry("request.denied", actor, request.status, after.status, note))

    return _with_retries(uow, request_id, step)


def cancel(uow: UnitOfWork, actor: Person, request_id: str) -> AccessRequest:
    who = identify(uow, actor)

    def step(request: AccessRequest) -> AccessRequest:
        if not who.is_requester_of(request):
            raise NotAuthorized("only the requester can cancel a request")
        after = lifecycle.cancel(request, actor)
        return uow.commit(request, after, uow.entry("request.cancelled", actor, request.status, after.status))

    return _with_retries(uow, request_id, step)


def revoke_early(uow: UnitOfWork, actor: Person, request_id: str, note: str | None) -> AccessRequest:
    policy = uow.policies.current()
    who = identify(uow, actor)

    def step(request: AccessRequest) -> AccessRequest:
        if not may_end_early(policy, request, who):
            raise NotAuthorized("only the requester, an approver or an admin can revoke this access")
        after = lifecycle.request_early_end(request, uow.now())
        uow.commit(request, after, uow.entry("request.revoke_requested", actor, request.status, after.status, note))
        uow.workflow.start(f"{request_id}-revoke-v{after.version}", request_id, "revoke")
        return after

    return _with_retries(uow, request_id, step)


def extend(uow: UnitOfWork, actor: Person, request_id: str, duration_text: str) -> AccessRequest:
    try:
        extra = parse_duration(duration_text)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from exc
    policy = uow.policies.current()
    who = identify(uow, actor)

    def step(request: AccessRequest) -> AccessRequest:
        if not (who.is_requester_of(request) or policy.is_admin(who)):
            raise NotAuthorized("only the requester or an admin can extend this access")
        rule = policy.rule(request.rule_name)
        after = lifecycle.extend(request, extra, rule.max_duration, policy.expiry_warning)
        return uow.commit(
            request, after, uow.entry("request.extended", actor, request.status, after.status, duration_text)
        )

    return _with_retries(uow, request_id, step)


def place_card(uow: UnitOfWork, request_id: str, card: CardRef) -> AccessRequest:
    return uow.store.set_card(request_id, card)


def _expire_if_due(uow: UnitOfWork, request: AccessRequest, now: datetime) -> None:
    """A decision that arrives after the approval window expires the request instead."""
    if request.status is RequestStatus.PENDING and now >= request.approval_deadline:
        expired = lifecycle.expire(request, now)
        uow.commit(request, expired, uow.entry("request.expired", None, request.status, expired.status))
        raise RequestExpired("the approval window has passed; the request has expired")


def can_view(policy: Policy, request: AccessRequest, who: Identity) -> bool:
    return may_end_early(policy, request, who)


def get_request(uow: UnitOfWork, actor: Person, request_id: str) -> AccessRequest:
    who = bound_identity(uow, actor)
    request = uow.store.get(request_id)
    if who.is_requester_of(request):  # their own request: no group lookup (a cold start's first GET)
        return request
    if not can_view(uow.policies.current(), request, with_groups(uow, who)):
        raise NotAuthorized("you may only view your own requests and those you approve")
    return request


def list_requests(
    uow: UnitOfWork, actor: Person, view: str, status: RequestStatus | None, limit: int
) -> list[AccessRequest]:
    policy = uow.policies.current()
    who = identify(uow, actor)
    if view == "mine":
        return uow.store.list_by_requester(actor.user_id, limit)
    if view == "pending_approval":
        pending = uow.store.list_by_status(RequestStatus.PENDING, limit=500)
        now = uow.now()
        return [r for r in pending if now < r.approval_deadline and _may_decide(policy, r, who)][:limit]
    if view == "status":
        if status is None:
            raise InvalidRequest("view=status needs a status parameter")
        if not policy.is_admin(who):
            raise NotAuthorized("listing by status is for admins")
        return uow.store.list_by_status(status, limit)
    raise InvalidRequest(f"unknown view '{view}'; use mine, pending_approval or status")


def _may_decide(policy: Policy, request: AccessRequest, who: Identity) -> bool:
    try:
        decide_can_approve(policy, request, who)
    except DomainError:
        return False
    return True


def catalog(uow: UnitOfWork, actor: Person) -> tuple[list[Entitlement], bool]:
    policy = uow.policies.current()
    who = identify(uow, actor)
    return decide_catalog(policy, who), policy.is_admin(who)


def is_admin(uow: UnitOfWork, actor: Person) -> bool:
    return uow.policies.current().is_admin(identify(uow, actor))
