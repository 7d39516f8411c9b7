"""What the use cases need from the outside world; adapters implement these Protocols."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from backend.domain.assignment import AssignmentTarget
    from backend.domain.models import AccessRequest, IdentityBinding
    from backend.domain.policy import Policy
    from jitwire.contract import LifecycleEvent
    from jitwire.models import CardRef, Person, RequestStatus

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class AuditEntry:
    """One append-only audit event; also the seed of the lifecycle event sent to jit-events."""

    event_id: str
    type: str
    at: datetime
    actor: Person | None
    from_status: RequestStatus | None
    to_status: RequestStatus
    detail: str | None = None


@dataclass(frozen=True)
class AuditRecord:
    """One row of the audit table as the auditors' report reads it back."""

    request_id: str
    type: str
    at: datetime
    actor: str | None  # username
    event: LifecycleEvent | None  # None for events written before snapshots were stored


@dataclass(frozen=True)
class OutboxEvent:
    event_id: str
    payload: str  # the JSON published to jit-events
    created_at: datetime


class SessionPolicies(Protocol):
    """A permission set's inline policy and its provisioning (ending live sessions)."""

    def locked(self, permission_set_arn: str, *, best_effort: bool = False) -> AbstractContextManager[None]:
        """One writer of this permission set's inline policy at a time (``best_effort``: unless the
        lock store itself is down, as break-glass must work without DynamoDB)."""

    def session_duration(self, permission_set_arn: str) -> timedelta: ...

    def inline_policy(self, permission_set_arn: str) -> str: ...

    def put_inline_policy(self, permission_set_arn: str, text: str) -> None: ...

    def provision(self, permission_set_arn: str, account_id: str) -> None: ...


class RequestStore(Protocol):
    def create(self, request: AccessRequest, entry: AuditEntry, event_payload: str) -> None:
        """Insert; raises RequestAlreadyExists if the id is taken."""

    def get(self, request_id: str) -> AccessRequest: ...

    def save(self, before: AccessRequest, after: AccessRequest, entry: AuditEntry, event_payload: str) -> None:
        """One conditional write on ``before.version``; audit and outbox in the same transaction."""

    def set_card(self, request_id: str, card: CardRef) -> AccessRequest:
        """Record the request's card unless one is recorded already (the first placed stays);
        returns the request as stored, so a caller whose card lost can tell."""

    def list_by_requester(self, requester_id: str, limit: int) -> list[AccessRequest]: ...

    def list_by_status(self, status: RequestStatus, limit: int) -> list[AccessRequest]: ...

    def granted_ending_before(self, moment: datetime) -> list[AccessRequest]: ...

    def session_denies_in_force(self, moment: datetime) -> list[AccessRequest]: ...

    def audit_trail(self, request_id: str) -> list[AuditEntry]: ...

    def pending_outbox(self, created_before: datetime) -> list[OutboxEvent]: ...

    def delete_outbox(self, event_id: str) -> None: ...


class HolderLedger(Protocol):
    def holders(self, target: AssignmentTarget) -> frozenset[str]: ...

    def add(self, target: AssignmentTarget, request_id: str) -> frozenset[str]: ...

    def remove(self, target: AssignmentTarget, request_id: str) -> frozenset[str]: ...

    def all(self) -> dict[AssignmentTarget, frozenset[str]]: ...


class AssignmentGateway(Protocol):
    def create_assignment(self, target: AssignmentTarget) -> None: ...

    def delete_assignment(self, target: AssignmentTarget) -> None: ...

    def has_assignment(self, target: AssignmentTarget) -> bool: ...

    def list_user_assignments(self, account_id: str, permission_set_arn: str) -> list[AssignmentTarget]: ...


class Directory(Protocol):
    def find_user_id(self, login: str) -> str: ...

    def group_names_for_user(self, user_id: str) -> frozenset[str]: ...

    def permission_set_arn(self, name: str) -> str: ...


class IdentityBindings(Protocol):
    """Mattermost account → Identity Center user, one to one (both directions unique, atomically)."""

    def get(self, mattermost_user_id: str) -> IdentityBinding | None: ...

    def bind(self, binding: IdentityBinding) -> None:
        """Create; BindingExists if the account is bound, IdentityTaken if the principal is."""

    def rebind(self, binding: IdentityBinding) -> IdentityBinding | None:
        """Replace the account's binding (returns the old one); IdentityTaken if the principal is bound elsewhere."""

    def remove(self, mattermost_user_id: str) -> IdentityBinding:
        """Delete both directions; BindingNotFound if there was none."""

    def all(self) -> list[IdentityBinding]: ...


class Workflow(Protocol):
    def start(self, execution_name: str, request_id: str, mode: str) -> None:
        """Start the access workflow; an execution of the same name is never started twice."""


class EventBus(Protocol):
    def publish(self, event_id: str, event_type: str, payload: str) -> None: ...


class PolicyStore(Protocol):
    def current(self) -> Policy: ...

    def put(self, policy: Policy, actor: Person, at: datetime) -> int: ...


class Metrics(Protocol):
    def count(self, name: str, value: float = 1.0) -> None: ...

    def record_auth_failure(self, reason: str) -> None: ...
