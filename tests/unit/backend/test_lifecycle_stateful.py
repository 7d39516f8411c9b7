"""Random lifecycles through the real use cases over in-memory ports (Hypothesis stateful).

Each run drives requests, approvals, denials, cancellations, the workflow's grant/warn/revoke
tasks with injected Identity Center faults and crashes, clock moves, early revokes, extensions
and reconciles, and checks the invariants of issue 2 after every step.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from backend.domain.assignment import AssignmentTarget
from backend.domain.errors import DomainError
from backend.domain.lifecycle import TRANSITIONS
from backend.service import access_requests, workflow_tasks
from backend.service.reconciler import reconcile
from jitwire.contract import CreateRequestBody
from jitwire.models import RequestStatus
from tests.fakes.ports import InterleavingLedger, RecordingWorkflow, in_memory_unit_of_work
from tests.unit.world import ALICE, BOB, CAROL, DAVE, MALLORY, PS_ARNS, T0, identity_center, policy

REQUESTERS = (ALICE, DAVE, MALLORY, BOB)
DECIDERS = (ALICE, BOB, CAROL, DAVE, MALLORY)
WANTS = (
    ("prod", "AdministratorAccess"),
    ("prod", "PowerUserAccess"),
    ("prod", "ReadOnlyAccess"),
    ("staging", "AdministratorAccess"),
)
DURATIONS = ("15m", "1h", "2h", "5h")
STANDING = AssignmentTarget(
    principal_id="ic-dave", account_id="111111111111", permission_set_arn=PS_ARNS["ReadOnlyAccess"]
)


class CountingWorkflow(RecordingWorkflow):
    def __init__(self) -> None:
        super().__init__()
        self.attempts: list[tuple[str, str]] = []

    def start(self, execution_name: str, request_id: str, mode: str) -> None:
        self.attempts.append((request_id, mode))
        super().start(execution_name, request_id, mode)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self):
        return self.now


class Lifecycle(RuleBasedStateMachine):
    remove_drift = False  # standing access is reported, not removed (the default policy)

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.ic = identity_center()
        self.ic.assignments.add(STANDING)
        document = policy().model_copy(update={"remove_drift": self.remove_drift})
        self.uow = in_memory_unit_of_work(document, self.ic, self.clock)
        self.workflow = CountingWorkflow()
        self.uow.workflow = self.workflow
        self.ids: list[str] = []
        self.granting: set[str] = set()  # grant executions started, task not yet finished
        self.reconciled_clean = False

    # -- helpers -------------------------------------------------------------------------

    def _pick(self, data, statuses):
        candidates = [r for r in self.ids if self.uow.store.get(r).status in statuses]
        return data.draw(st.sampled_from(candidates)) if candidates else None

    def _try(self, action):
        self.reconciled_clean = False
        try:
            return action()
        except DomainError:
            return None

    # -- rules ---------------------------------------------------------------------------

    @rule(who=st.sampled_from(REQUESTERS), want=st.sampled_from(WANTS), duration=st.sampled_from(DURATIONS))
    def create(self, who, want, duration):
        body = CreateRequestBody(
            actor=who,
            account=want[0],
            permission_set=want[1],
            duration=duration,
            reason="because",
            idempotency_key=uuid.uuid4().hex,
        )
        result = self._try(lambda: access_requests.create_request(self.uow, body))
        if result is not None:
            request, _ = result
            self.ids.append(request.request_id)
            if request.status is RequestStatus.APPROVED:
                self.granting.add(request.request_id)

    @rule(duration=st.sampled_from(DURATIONS[:3]))
    def overlapping_grant(self, duration):
        """alice gets prod ReadOnlyAccess approved and granted at once: overlaps are common."""
        body = CreateRequestBody(
            actor=ALICE,
            account="prod",
            permission_set="ReadOnlyAccess",
            duration=duration,
            reason="overlap",
            idempotency_key=uuid.uuid4().hex,
        )
        created = self._try(lambda: access_requests.create_request(self.uow, body))
        if created is None:
            return
        rid = created[0].request_id
        self.ids.append(rid)
        self._try(lambda: access_requests.approve(self.uow, BOB, rid, None))
        self._try(lambda: workflow_tasks.grant(self.uow, rid))

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), who=st.sampled_from(DECIDERS))
    def approve(self, data, who):
        rid = self._pick(data, {RequestStatus.PENDING, RequestStatus.APPROVED, RequestStatus.GRANTED})
        if rid and (after := self._try(lambda: access_requests.approve(self.uow, who, rid, None))):
            if after.status is RequestStatus.APPROVED:
                self.granting.add(rid)

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), who=st.sampled_from(DECIDERS))
    def deny_or_cancel(self, data, who):
        rid = self._pick(data, {RequestStatus.PENDING})
        if rid:
            if data.draw(st.booleans()):
                self._try(lambda: access_requests.deny(self.uow, who, rid, "no"))
            else:
                self._try(lambda: access_requests.cancel(self.uow, who, rid))

    @precondition(lambda self: self.granting)
    @rule(data=st.data(), fault=st.sampled_from(["none", "none", "failed", "crash"]))
    def grant_task(self, data, fault):
        rid = data.draw(st.sampled_from(sorted(self.granting)))
        self.ic.fail_create = fault == "failed"
        self.ic.crash_after_create = fault == "crash"
        try:
            self._try(lambda: workflow_tasks.grant(self.uow, rid))
            self.granting.discard(rid)
        except RuntimeError:  # the crash: Step Functions retries, then Catch marks ERROR
            if data.draw(st.booleans()):
                return  # a retry will come
            self.ic.crash_after_create = False
            workflow_tasks.mark_error(self.uow, rid, "States.TaskFailed: crashed")
            self.granting.discard(rid)
        finally:
            self.ic.fail_create = self.ic.crash_after_create = False
        if self.uow.store.get(rid).status is RequestStatus.APPROVED and fault == "failed":
            workflow_tasks.mark_error(self.uow, rid, "AssignmentFailed: injected")

    @rule(minutes=st.sampled_from([1, 10, 30, 61, 125, 301]))
    def time_passes(self, minutes):
        self.clock.now += timedelta(minutes=minutes)

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), fault=st.sampled_from(["none", "none", "failed"]))
    def revoke_task(self, data, fault):
        """The workflow wakes at end_time (or after an early revoke) and revokes."""
        rid = self._pick(data, {RequestStatus.GRANTED})
        if not rid or self.uow.store.get(rid).end_time > self.clock.now:
            return
        self.ic.fail_delete = fault == "failed"
        try:
            if self._try(lambda: workflow_tasks.revoke(self.uow, rid)) is None:
                workflow_tasks.record_revoke_failure(self.uow, rid, "AssignmentFailed: injected")
        finally:
            self.ic.fail_delete = False

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), who=st.sampled_from(DECIDERS))
    def revoke_early(self, data, who):
        rid = self._pick(data, {RequestStatus.GRANTED})
        if rid:
            self._try(lambda: access_requests.revoke_early(self.uow, who, rid, "done"))

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), extra=st.sampled_from(["30m", "2h"]))
    def extend(self, data, extra):
        rid = self._pick(data, {RequestStatus.GRANTED})
        if rid:
            requester = self.uow.store.get(rid).requester
            self._try(lambda: access_requests.extend(self.uow, requester, rid, extra))

    @rule(fault=st.booleans())
    def reconcile(self, fault):
        self.ic.fail_delete = fault
        try:
            reconcile(self.uow)
            self.reconciled_clean = not fault
        except DomainError:
            self.reconciled_clean = False
        finally:
            self.ic.fail_delete = False
        for rid in list(self.granting):
            if self.uow.store.get(rid).status is not RequestStatus.APPROVED:
                self.granting.discard(rid)

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), at_read=st.integers(min_value=0, max_value=6))
    def reconcile_while_a_revoke_and_a_grant_run(self, data, at_read):
        """Another process revokes one grant and grants another right after the reconciler's n-th ledger read.

        The grant prefers the target of the revoked one: a new grant for the same user, account
        and permission set joining while the reconciler releases the old holder must keep access.
        """
        granting = data.draw(st.sampled_from(sorted(self.granting))) if self.granting else None
        granted = [r for r in self.ids if self.uow.store.get(r).status is RequestStatus.GRANTED]
        if granting is not None:
            target = self.uow.store.get(granting).target
            granted = [r for r in granted if self.uow.store.get(r).target == target] or granted
        revoking = data.draw(st.sampled_from(granted)) if granted else None

        def others():
            if revoking is not None:
                requester = self.uow.store.get(revoking).requester
                if self._try(lambda: access_requests.revoke_early(self.uow, requester, revoking, "done")):
                    self._try(lambda: workflow_tasks.revoke(self.uow, revoking))
            if granting is not None:
                self._try(lambda: workflow_tasks.grant(self.uow, granting))

        inner = self.uow.ledger
        self.uow.ledger = InterleavingLedger(inner, at_read, others)
        try:
            reconcile(self.uow)
            clean = True
        except DomainError:
            clean = False
        finally:
            self.uow.ledger = inner
        self.reconciled_clean = clean  # the others finished too: nothing may linger
        for rid in list(self.granting):
            if self.uow.store.get(rid).status is not RequestStatus.APPROVED:
                self.granting.discard(rid)

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def transitions_only_along_the_table(self):
        for rid in self.ids:
            for entry in self.uow.store.audit_trail(rid):
                if entry.from_status is None:
                    assert entry.to_status is RequestStatus.PENDING
                elif entry.from_status is not entry.to_status:
                    assert (entry.from_status, entry.to_status) in TRANSITIONS, entry

    @invariant()
    def granted_means_the_assignment_exists(self):
        for rid in self.ids:
            request = self.uow.store.get(rid)
            if request.status is RequestStatus.GRANTED:
                assert request.target in self.ic.assignments, f"{rid} GRANTED without assignment"

    @invariant()
    def after_a_clean_reconcile_no_assignment_lacks_an_active_holder(self):
        if not self.reconciled_clean:
            return
        exempt = set() if self.remove_drift else {STANDING}
        for target in self.ic.assignments - exempt:
            holders = self.uow.ledger.holders(target)
            statuses = {self.uow.store.get(h).status for h in holders}
            assert any(s.holds_access for s in statuses), f"{target.ledger_key} lingers"

    @invariant()
    def one_grant_execution_per_request_and_no_self_approval(self):
        grants = [rid for rid, mode in self.workflow.attempts if mode == "grant"]
        assert len(grants) == len(set(grants))
        for rid in self.ids:
            request = self.uow.store.get(rid)
            assert not any(a.approver.same_as(request.requester) for a in request.approvals)


class LifecycleRemovingDrift(Lifecycle):
    """With ``remove_drift: true`` nothing at all may linger after a clean reconcile."""

    remove_drift = True


_SETTINGS = settings(
    max_examples=300, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
Lifecycle.TestCase.settings = _SETTINGS
LifecycleRemovingDrift.TestCase.settings = settings(_SETTINGS, max_examples=100)
test_lifecycle = Lifecycle.TestCase
test_lifecycle_removing_drift = LifecycleRemovingDrift.TestCase
