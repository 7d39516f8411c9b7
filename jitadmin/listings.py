"""Which requests an operator needs to look at: expired but still GRANTED, stuck, or one user's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer

from backend.adapters import tables
from backend.adapters.dynamodb_requests import request_from_item
from backend.domain.models import AccessRequest
from backend.domain.reconcile import STUCK_AFTER
from jitwire.models import RequestStatus

if TYPE_CHECKING:
    from datetime import datetime

    from backend.service.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Finding:
    request: AccessRequest
    why: str


def stuck_reason(request: AccessRequest, now: datetime) -> str | None:
    """Why a request needs attention, or None (pure)."""
    if request.status is RequestStatus.APPROVED and request.approved_at <= now - STUCK_AFTER:
        return "approved but not granted for over 30 minutes (grant workflow stuck)"
    if request.status is RequestStatus.PENDING and request.approval_deadline <= now:
        return "approval window passed but still PENDING"
    if request.status is RequestStatus.GRANTED and request.revoke_failures > 0:
        return f"{request.revoke_failures} failed revoke attempt(s): {request.last_error or 'unknown error'}"
    if request.status is RequestStatus.GRANTED and request.end_time is not None and request.end_time <= now:
        return "end time passed but still GRANTED"
    return None


def expired_granted(uow: UnitOfWork) -> list[Finding]:
    """The runbook 01 query: GRANTED with end_time <= now on gsi_status_endtime."""
    return [Finding(r, "end time passed but still GRANTED") for r in uow.store.granted_ending_before(uow.now())]


def stuck(uow: UnitOfWork, limit: int) -> list[Finding]:
    now = uow.now()
    candidates: dict[str, AccessRequest] = {}
    for status in (RequestStatus.APPROVED, RequestStatus.PENDING, RequestStatus.GRANTED):
        candidates.update((r.request_id, r) for r in uow.store.list_by_status(status, limit))
    findings = [Finding(r, why) for r in candidates.values() if (why := stuck_reason(r, now)) is not None]
    return sorted(findings, key=lambda f: f.request.created_at)[:limit]


def by_principal(dynamodb: Any, principal_id: str, limit: int) -> list[Finding]:
    """A person's requests by Identity Center user id (a scan: no index is keyed on the principal)."""
    deserializer = TypeDeserializer()
    found: list[AccessRequest] = []
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=tables.REQUESTS,
        FilterExpression="principal_id = :p",
        ExpressionAttributeValues={":p": {"S": principal_id}},
    ):
        for raw in page.get("Items", []):
            found.append(request_from_item({k: deserializer.deserialize(v) for k, v in raw.items()}))
    found.sort(key=lambda r: r.created_at, reverse=True)
    return [Finding(r, r.status.value.lower()) for r in found[:limit]]
