"""The access request and the people around it."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from backend.domain.assignment import AssignmentTarget
from jitwire.models import CardRef, NotifyApprovers, Person, RequestStatus


class Identity(BaseModel):
    """Who acts, as the backend decides it: the Mattermost account and its bound Identity Center user."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    person: Person
    principal_id: str = Field(min_length=1)
    groups: frozenset[str] = frozenset()

    def is_requester_of(self, request: AccessRequest) -> bool:
        return self.principal_id == request.principal_id or self.person.same_as(request.requester)


class IdentityBinding(BaseModel):
    """A Mattermost account pinned to one Identity Center user the first time it acted."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    mattermost_user_id: str = Field(min_length=1, max_length=64)
    mattermost_username: str = Field(min_length=1, max_length=64)
    principal_id: str = Field(min_length=1, max_length=128)
    email: str = Field(min_length=3, max_length=254)  # the address the binding was made from
    bound_at: datetime
    verified_by: str = Field(min_length=1, max_length=64)  # e.g. sso:saml, mattermost:verified-email, admin:...


class Approval(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    approver: Person
    at: datetime
    principal_id: str | None = None  # the approver's Identity Center user (absent on old records)


class AccessRequest(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

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
    revoke_requested_at: datetime | None = None  # someone ended it early: no extension from then on
    # Live AWS sessions ended at revoke (docs/ending-sessions.md): when the Deny statement was
    # provisioned, until when it must stay, and whether the wide (any user) form was needed.
    sessions_ended_at: datetime | None = None
    session_deny_until: datetime | None = None
    session_deny_wide: bool = False
    notify_approvers: NotifyApprovers = "channel"
    # Mattermost accounts of the eligible approvers bound at creation (DM copies, reminders).
    approver_user_ids: tuple[str, ...] = ()
    reminded_at: datetime | None = None  # the half-timeout reminder was sent (once)

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

    def approved_by(self, person: Person, principal_id: str | None = None) -> bool:
        return any(
            a.approver.same_as(person) or (principal_id is not None and a.principal_id == principal_id)
            for a in self.approvals
        )
