"""The access request and the people around it."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from backend.domain.assignment import AssignmentTarget


class RequestStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    GRANTED = "GRANTED"
    REVOKED = "REVOKED"
    DENIED = "DENIED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    ERROR = "ERROR"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES

    @property
    def holds_access(self) -> bool:
        """May an assignment legitimately exist for a request in this status?"""
        return self in (RequestStatus.APPROVED, RequestStatus.GRANTED)


FINAL_STATUSES = frozenset(
    {
        RequestStatus.REVOKED,
        RequestStatus.DENIED,
        RequestStatus.CANCELLED,
        RequestStatus.EXPIRED,
        RequestStatus.ERROR,
    }
)


class Person(BaseModel):
    """A Mattermost user as the bot vouches for them (identity travels in the signed body)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str = Field(min_length=1, max_length=64)
    username: str = Field(min_length=1, max_length=64)
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")

    def same_as(self, other: Person) -> bool:
        return self.user_id == other.user_id or self.email.lower() == other.email.lower()


class Approval(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    approver: Person
    at: datetime


class CardRef(BaseModel):
    """Where the bot posted the approval card, so any replica can edit it later."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel_id: str = Field(min_length=1, max_length=64)
    post_id: str = Field(min_length=1, max_length=64)


class AccessRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str
    requester: Person
    principal_id: str
    account_id: str
    account_name: str
    permission_set_name: str
    permission_set_arn: str
    duration: timedelta
    reason: str
    rule_name: str
    approvals_required: int
    status: RequestStatus
    version: int
    created_at: datetime
    approval_deadline: datetime
    approvals: tuple[Approval, ...] = ()
    decided_by: Person | None = None
    decision_note: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    warn_at: datetime | None = None
    revoke_failures: int = 0
    last_error: str | None = None
    card: CardRef | None = None
    idempotency_key: str | None = None
    # Live AWS sessions ended at revoke (docs/ending-sessions.md): when the Deny statement was
    # provisioned, until when it must stay, and whether the wide (any user) form was needed.
    sessions_ended_at: datetime | None = None
    session_deny_until: datetime | None = None
    session_deny_wide: bool = False

    @property
    def target(self) -> AssignmentTarget:
        return AssignmentTarget(
            principal_id=self.principal_id,
            account_id=self.account_id,
            permission_set_arn=self.permission_set_arn,
        )

    @property
    def approved_at(self) -> datetime:
        """When the quorum was reached (or the request was created, for auto-approval)."""
        return max((a.at for a in self.approvals), default=self.created_at)

    def approved_by(self, person: Person) -> bool:
        return any(a.approver.same_as(person) for a in self.approvals)
