"""Domain objects → wire shapes (RequestView, LifecycleEvent)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jitwire.contract import ApprovalView, LifecycleEvent, RequestView
from jitwire.timefmt import format_duration

if TYPE_CHECKING:
    from backend.domain.models import AccessRequest
    from backend.domain.ports import AuditEntry


def request_view(request: AccessRequest) -> RequestView:
    return RequestView(
        request_id=request.request_id,
        requester=request.requester,
        account_id=request.account_id,
        account_name=request.account_name,
        permission_set=request.permission_set_name,
        duration_seconds=int(request.duration.total_seconds()),
        duration=format_duration(request.duration),
        reason=request.reason,
        status=request.status,
        version=request.version,
        created_at=request.created_at,
        approval_deadline=request.approval_deadline,
        approvals=tuple(ApprovalView(approver=a.approver, at=a.at) for a in request.approvals),
        approvals_required=request.approvals_required,
        decided_by=request.decided_by,
        decision_note=request.decision_note,
        start_time=request.start_time,
        end_time=request.end_time,
        revoke_failures=request.revoke_failures,
        last_error=request.last_error,
        card=request.card,
        sessions_ended_at=request.sessions_ended_at,
        notify_approvers=request.notify_approvers,
        approver_user_ids=request.approver_user_ids,
        reminded_at=request.reminded_at,
    )


def lifecycle_event(entry: AuditEntry, request: AccessRequest | None) -> LifecycleEvent:
    return LifecycleEvent.model_validate(
        {
            "event_id": entry.event_id,
            "type": entry.type,
            "occurred_at": entry.at,
            "actor": entry.actor,
            "request": request_view(request) if request is not None else None,
            "detail": entry.detail,
        }
    )
