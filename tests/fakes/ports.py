"""In-memory implementations of the backend's ports, for pure service tests (no AWS shape at all).

Adapters are tested against moto; these let the Hypothesis state machine run thousands of steps.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from backend.domain.assignment import AssignmentTarget
from backend.domain.errors import (
    AssignmentFailed,
    BindingExists,
    BindingNotFound,
    ConcurrentUpdate,
    IdentityTaken,
    PermissionSetNotFound,
    PrincipalNotFound,
    RequestAlreadyExists,
    RequestNotFound,
)
from backend.domain.models import AccessRequest, IdentityBinding
from backend.domain.policy import Policy
from backend.domain.ports import AuditEntry, OutboxEvent
from backend.service.deps import Deps
from jitwire.models import CardRef, Person, RequestStatus


class InMemoryStore:
    def __init__(self) -> None:
        self.requests: dict[str, AccessRequest] = {}
        self.audit: dict[str, list[AuditEntry]] = {}
        self.outbox: dict[str, OutboxEvent] = {}
        self.fail_writes = False
        self._lock = threading.Lock()

    def _write(self, request: AccessRequest, entry: AuditEntry, payload: str) -> None:
        if self.fail_writes:
            raise ConnectionError("injected: the store is down")
        self.requests[request.request_id] = request
        self.audit.setdefault(request.request_id, []).append(entry)
        self.outbox[entry.event_id] = OutboxEvent(entry.event_id, payload, entry.at)

    def create(self, request: AccessRequest, entry: AuditEntry, event_payload: str) -> None:
        with self._lock:
            if request.request_id in self.requests:
                raise RequestAlreadyExists(request.request_id)
            self._write(request, entry, event_payload)

    def get(self, request_id: str) -> AccessRequest:
        try:
            return self.requests[request_id]
        except KeyError:
            raise RequestNotFound(request_id) from None

    def save(self, before: AccessRequest, after: AccessRequest, entry: AuditEntry, event_payload: str) -> None:
        with self._lock:
            current = self.requests.get(before.request_id)
            if current is None or current.version != before.version or current.status is not before.status:
                raise ConcurrentUpdate(before.request_id)
            self._write(after, entry, event_payload)

    def set_card(self, request_id: str, card: CardRef) -> AccessRequest:
        current = self.get(request_id)
        if current.card is not None:
            return current  # the first card placed stays
        updated = current.model_copy(update={"card": card})
        self.requests[request_id] = updated
        return updated

    def list_by_requester(self, requester_id: str, limit: int) -> list[AccessRequest]:
        return [r for r in self.requests.values() if r.requester.user_id == requester_id][:limit]

    def list_by_status(self, status: RequestStatus, limit: int) -> list[AccessRequest]:
        return [r for r in self.requests.values() if r.status is status][:limit]

    def granted_ending_before(self, moment: datetime) -> list[AccessRequest]:
        return [
            r
            for r in self.requests.values()
            if r.status is RequestStatus.GRANTED and r.end_time is not None and r.end_time <= moment
        ]

    def session_denies_in_force(self, moment: datetime) -> list[AccessRequest]:
        return [
            r
            for r in self.requests.values()
            if r.status is RequestStatus.REVOKED and r.session_deny_until is not None and r.session_deny_until > moment
        ]

    def audit_trail(self, request_id: str) -> list[AuditEntry]:
        return list(self.audit.get(request_id, []))

    def pending_outbox(self, created_before: datetime) -> list[OutboxEvent]:
        return [e for e in self.outbox.values() if e.created_at <= created_before]

    def delete_outbox(self, event_id: str) -> None:
        self.outbox.pop(event_id, None)


class InMemoryBindings:
    """Both directions unique, as the DynamoDB transaction keeps them."""

    def __init__(self) -> None:
        self.by_user: dict[str, IdentityBinding] = {}
        self._lock = threading.Lock()

    def get(self, mattermost_user_id: str) -> IdentityBinding | None:
        return self.by_user.get(mattermost_user_id)

    def _holder(self, principal_id: str) -> str | None:
        return next((u for u, b in self.by_user.items() if b.principal_id == principal_id), None)

    def bind(self, binding: IdentityBinding) -> None:
        with self._lock:
            if binding.mattermost_user_id in self.by_user:
                raise BindingExists(binding.mattermost_user_id)
            if self._holder(binding.principal_id) is not None:
                raise IdentityTaken(binding.principal_id)
            self.by_user[binding.mattermost_user_id] = binding

    def rebind(self, binding: IdentityBinding) -> IdentityBinding | None:
        with self._lock:
            if self._holder(binding.principal_id) not in (None, binding.mattermost_user_id):
                raise IdentityTaken(binding.principal_id)
            old = self.by_user.get(binding.mattermost_user_id)
            self.by_user[binding.mattermost_user_id] = binding
            return old

    def remove(self, mattermost_user_id: str) -> IdentityBinding:
        with self._lock:
            if mattermost_user_id not in self.by_user:
                raise BindingNotFound(mattermost_user_id)
            return self.by_user.pop(mattermost_user_id)

    def all(self) -> list[IdentityBinding]:
        return list(self.by_user.values())


class InMemoryLedger:
    def __init__(self) -> None:
        self.items: dict[AssignmentTarget, frozenset[str]] = {}

    def holders(self, target: AssignmentTarget) -> frozenset[str]:
        return self.items.get(target, frozenset())

    def add(self, target: AssignmentTarget, request_id: str) -> frozenset[str]:
        self.items[target] = self.holders(target) | {request_id}
        return self.items[target]

    def remove(self, target: AssignmentTarget, request_id: str) -> frozenset[str]:
        if target not in self.items:
            return frozenset()
        self.items[target] = self.items[target] - {request_id}
        return self.items[target]

    def all(self) -> dict[AssignmentTarget, frozenset[str]]:
        return dict(self.items)


@dataclass
class FakeIdentityCenter:
    """Assignments as a set; faults are switched on per operation by the test."""

    users: dict[str, str]  # e-mail → user id
    groups: dict[str, frozenset[str]]  # user id → group names
    permission_sets: dict[str, str]  # name → ARN
    assignments: set[AssignmentTarget] = field(default_factory=set)
    fail_create: bool = False
    fail_delete: bool = False
    crash_after_create: bool = False  # the assignment is made, then the caller dies
    calls: list[str] = field(default_factory=list)
    group_lookups: list[str] = field(default_factory=list)  # user ids whose groups were asked for

    def find_user_id(self, login: str) -> str:
        try:
            return self.users[login.lower()]
        except KeyError:
            raise PrincipalNotFound(login) from None

    def group_names_for_user(self, user_id: str) -> frozenset[str]:
        self.group_lookups.append(user_id)
        return self.groups.get(user_id, frozenset())

    def permission_set_arn(self, name: str) -> str:
        try:
            return self.permission_sets[name]
        except KeyError:
            raise PermissionSetNotFound(name) from None

    def create_assignment(self, target: AssignmentTarget) -> None:
        self.calls.append("create")
        if self.fail_create:
            raise AssignmentFailed("injected: FAILED")
        self.assignments.add(target)
        if self.crash_after_create:
            raise RuntimeError("injected: the process died after CreateAccountAssignment")

    def delete_assignment(self, target: AssignmentTarget) -> None:
        self.calls.append("delete")
        if self.fail_delete:
            raise AssignmentFailed("injected: deletion FAILED")
        self.assignments.discard(target)

    def has_assignment(self, target: AssignmentTarget) -> bool:
        return target in self.assignments

    def list_user_assignments(self, account_id: str, permission_set_arn: str) -> list[AssignmentTarget]:
        return [
            a for a in self.assignments if a.account_id == account_id and a.permission_set_arn == permission_set_arn
        ]


@dataclass
class RecordingWorkflow:
    started: list[tuple[str, str, str]] = field(default_factory=list)

    def start(self, execution_name: str, request_id: str, mode: str) -> None:
        if any(name == execution_name for name, _, _ in self.started):
            return  # Step Functions: one execution per name
        self.started.append((execution_name, request_id, mode))


@dataclass
class RecordingEvents:
    published: list[tuple[str, str, str]] = field(default_factory=list)
    fail: bool = False

    def publish(self, event_id: str, event_type: str, payload: str) -> None:
        if self.fail:
            raise ConnectionError("injected: SNS is down")
        self.published.append((event_id, event_type, payload))


@dataclass
class FixedPolicy:
    policy: Policy

    def current(self) -> Policy:
        return self.policy

    def put(self, policy: Policy, actor: Person, at: datetime) -> int:
        self.policy = policy
        return 2


@dataclass
class InMemorySessionPolicies:
    """Permission sets' inline policies in memory: ending sessions always succeeds here, so the
    lifecycle tests see the same revoke path (release, then end sessions) as a wired process."""

    policies: dict[str, str] = field(default_factory=dict)
    provisioned: list[tuple[str, str]] = field(default_factory=list)
    duration: timedelta = timedelta(hours=1)

    @contextmanager
    def locked(self, permission_set_arn: str, *, best_effort: bool = False) -> Iterator[None]:
        yield

    def session_duration(self, permission_set_arn: str) -> timedelta:
        return self.duration

    def inline_policy(self, permission_set_arn: str) -> str:
        return self.policies.get(permission_set_arn, "")

    def put_inline_policy(self, permission_set_arn: str, text: str) -> None:
        self.policies[permission_set_arn] = text

    def provision(self, permission_set_arn: str, account_id: str) -> None:
        self.provisioned.append((permission_set_arn, account_id))


def in_memory_deps(policy: Policy, directory: FakeIdentityCenter, clock: object) -> Deps:
    from backend.adapters.metrics import RecordingMetrics

    return Deps(
        store=InMemoryStore(),
        ledger=InMemoryLedger(),
        assignments=directory,
        directory=directory,
        identities=InMemoryBindings(),
        workflow=RecordingWorkflow(),
        events=RecordingEvents(),
        policies=FixedPolicy(policy),
        metrics=RecordingMetrics(),
        clock=clock,  # type: ignore[arg-type]
        sessions=InMemorySessionPolicies(),
    )


class InterleavingLedger:
    """Wraps a ledger and runs ``interleave`` once, right after the ``at_read``-th read returns.

    Reads are ``holders`` and ``all``; this lets a test put another process's steps (a grant, a
    revoke) between a reader's read and its next step, deterministically.
    """

    def __init__(self, inner: InMemoryLedger, at_read: int, interleave: object) -> None:
        self.inner = inner
        self.at_read = at_read
        self.interleave = interleave
        self.reads = 0
        self.fired = False

    def _after_read(self) -> None:
        self.reads += 1
        if self.reads - 1 == self.at_read and callable(self.interleave):
            self.fired = True
            self.interleave()

    def holders(self, target: AssignmentTarget) -> frozenset[str]:
        result = self.inner.holders(target)
        self._after_read()
        return result

    def add(self, target: AssignmentTarget, request_id: str) -> frozenset[str]:
        return self.inner.add(target, request_id)

    def remove(self, target: AssignmentTarget, request_id: str) -> frozenset[str]:
        return self.inner.remove(target, request_id)

    def all(self) -> dict[AssignmentTarget, frozenset[str]]:
        result = self.inner.all()
        self._after_read()
        return result
