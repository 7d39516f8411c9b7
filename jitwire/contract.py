"""The wire contract between the bot and the backend (pydantic + standard library only).

The bot imports this module and ``signing``; neither may import boto3 or Lambda tooling.
Identity of the acting Mattermost user travels inside the signed request: in the JSON body for
writes, in signed query parameters (``as_user_id``, ``as_username``, ``as_email`` and, when the bot
vouches for the e-mail, ``as_vouched_by``) for reads. The backend decides from the account's stored
Identity Center binding, never from the e-mail text (docs/identity.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from jitwire.models import CardRef, NotifyApprovers, Person, RequestStatus

ACTOR_QUERY_FIELDS = ("as_user_id", "as_username", "as_email")
ACTOR_VOUCHED_BY_QUERY_FIELD = "as_vouched_by"  # optional


class _Body(BaseModel):
    """Inbound bodies are strict: unknown fields are refused with their name."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid", str_strip_whitespace=True)


class CreateRequestBody(_Body):
    actor: Person
    account: str = Field(min_length=1, max_length=64)
    permission_set: str = Field(min_length=1, max_length=64)
    duration: str = Field(min_length=1, max_length=16, description="30m, 2h, 1h30m")
    reason: str = Field(min_length=3, max_length=500)
    idempotency_key: str | None = Field(default=None, min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class DecisionBody(_Body):
    actor: Person
    note: str | None = Field(default=None, max_length=500)


class ActorBody(_Body):
    actor: Person


class ExtendBody(_Body):
    actor: Person
    duration: str = Field(min_length=1, max_length=16)


class CardBody(_Body):
    actor: Person
    channel_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")
    post_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")


class PolicyBody(_Body):
    actor: Person
    policy: dict[str, Any]


class ApprovalView(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    approver: Person
    at: datetime


class RequestView(BaseModel):
    """What the API returns for one request, and the snapshot inside lifecycle events."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    request_id: str
    requester: Person
    account_id: str
    account_name: str
    permission_set: str
    duration_seconds: int
    duration: str
    reason: str
    status: RequestStatus
    version: int
    created_at: datetime
    approval_deadline: datetime
    approvals: tuple[ApprovalView, ...]
    approvals_required: int
    decided_by: Person | None
    decision_note: str | None
    start_time: datetime | None
    end_time: datetime | None
    revoke_failures: int
    last_error: str | None
    card: CardRef | None
    sessions_ended_at: datetime | None = None
    notify_approvers: NotifyApprovers = "channel"
    approver_user_ids: tuple[str, ...] = ()  # bound eligible approvers' Mattermost user ids
    reminded_at: datetime | None = None


class RequestList(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    requests: tuple[RequestView, ...]


class CatalogEntry(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    account_id: str
    account_name: str
    permission_set: str
    max_duration: str
    approvals_required: int
    auto_approve: bool


class Catalog(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    entries: tuple[CatalogEntry, ...]
    is_admin: bool


EventType = Literal[
    "request.created",
    "request.approval_recorded",
    "request.approval_reminder",
    "request.approved",
    "request.denied",
    "request.cancelled",
    "request.expired",
    "request.granted",
    "request.expiring_soon",
    "request.extended",
    "request.revoke_requested",
    "request.revoked",
    "request.revoke_failed",
    "request.error",
    "access.drift_detected",
    "access.break_glass",
    "system.heartbeat",  # every reconciler run: proves the jit-events → bot path; the bot posts nothing
    "access.sessions_ended_wide",
]


class LifecycleEvent(BaseModel):
    """One message on the ``jit-events`` topic."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    event_id: str
    type: EventType
    occurred_at: datetime
    actor: Person | None
    request: RequestView | None
    detail: str | None = None


class ErrorBody(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    error: str
    message: str
    fields: dict[str, str] | None = None
