"""Identity Center faults, crashes and races, injected at moto's wire while the real ASL runs."""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from moto.dynamodb.models import DynamoDBBackend
from moto.ssoadmin.models import SSOAdminBackend
from moto.ssoadmin.responses import SSOAdminResponse
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from backend.adapters import tables
from backend.domain.errors import ReconcileFailed
from jitwire.client import BackendError
from jitwire.models import RequestStatus as S
from tests.identity_center.faults import MotoFaults, forever
from tests.scenarios.helpers import BOB, CAROL, ask, assignments_of


@pytest.fixture
def faults(monkeypatch):
    return MotoFaults(monkeypatch)


def _approved(stack, **kwargs):
    created = ask(stack, **kwargs)
    stack.client().decide(BOB, created.request_id, "approve")
    return created


def _final_execution(stack, name):
    for _ in range(400):
        [execution] = [e for e in stack.executions() if e["name"] == name]
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(0.05)
    raise AssertionError("execution still running")


def test_grant_reported_failed_marks_error_and_fails_the_execution(stack, faults):
    faults.script_status("create_account_assignment", forever("IN_PROGRESS"))
    faults.script_status("describe_account_assignment_creation_status", forever("FAILED"), "IAM role quota")
    created = _approved(stack)
    failed = stack.wait_for(created.request_id, S.ERROR)
    assert "IAM role quota" in failed.last_error
    # ERROR is recorded first, then the half-made assignment is undone; then the execution ends.
    assert _final_execution(stack, created.request_id)["status"] == "FAILED"
    assert assignments_of(stack, failed) == 0
    assert stack.uow.ledger.holders(failed.target) == frozenset()


def test_grant_throttled_a_few_times_still_grants(stack, faults):
    received = faults.fail(SSOAdminBackend, "create_account_assignment", "ThrottlingException", times=3)
    created = _approved(stack)
    granted = stack.wait_for(created.request_id, S.GRANTED)
    assert received.calls == 4
    assert assignments_of(stack, granted) == 1


def test_grant_throttled_forever_is_retried_by_the_workflow_then_error(stack, faults):
    received = faults.fail(SSOAdminBackend, "create_account_assignment", "ThrottlingException", times=None)
    created = _approved(stack)
    stack.wait_for(created.request_id, S.ERROR, timeout=60)
    # 6 attempts inside the adapter, for each of the 6 task attempts the state machine makes.
    assert received.calls == 36
    assert _final_execution(stack, created.request_id)["status"] == "FAILED"


def _crash_granted_writes(monkeypatch, times):
    """The process dies after CreateAccountAssignment succeeded, before GRANTED is written."""
    from tests.identity_center.faults import InjectedError, Received

    original = DynamoDBBackend.transact_write_items
    received = Received()

    def crashing(backend, transact_items, *args, **kwargs):
        if '"GRANTED"' in json.dumps(transact_items):
            received.calls += 1
            if received.calls <= times:
                raise InjectedError("AccessDeniedException", "crash before the status write")
        return original(backend, transact_items, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", crashing)
    return received


def test_crash_between_assignment_and_status_write_is_retried_into_one_grant(stack, monkeypatch):
    crashed = _crash_granted_writes(monkeypatch, times=1)
    created = _approved(stack)
    granted = stack.wait_for(created.request_id, S.GRANTED)
    assert crashed.calls == 2
    assert assignments_of(stack, granted) == 1
    assert stack.uow.ledger.holders(granted.target) == {created.request_id}


def test_crash_that_persists_is_compensated_no_assignment_lingers(stack, monkeypatch):
    crashed = _crash_granted_writes(monkeypatch, times=99)
    created = _approved(stack)
    failed = stack.wait_for(created.request_id, S.ERROR, timeout=30)
    assert crashed.calls == 3  # the task and its two retries
    assert _final_execution(stack, created.request_id)["status"] == "FAILED"  # the undo is done by then
    assert assignments_of(stack, failed) == 0
    assert stack.uow.ledger.holders(failed.target) == frozenset()


def test_revoke_that_keeps_failing_stays_granted_until_the_reconciler_cleans_up(stack, faults, monkeypatch):
    created = _approved(stack, duration="1h")
    granted = stack.wait_for(created.request_id, S.GRANTED)
    healthy = SSOAdminBackend.delete_account_assignment
    faults.fail(SSOAdminBackend, "delete_account_assignment", "AccessDeniedException", times=None, message="denied")
    stack.advance(timedelta(hours=1, seconds=2))
    failed = stack.wait_for(created.request_id, S.GRANTED, revoke_failures=1)
    assert "AccessDeniedException" in failed.last_error
    assert _final_execution(stack, created.request_id)["status"] == "FAILED"
    assert assignments_of(stack, granted) == 1
    stack.advance(timedelta(minutes=2))
    with pytest.raises(ReconcileFailed):
        stack.run_reconciler()  # still failing: processed, counted, raised
    monkeypatch.setattr(SSOAdminBackend, "delete_account_assignment", healthy)  # Identity Center recovers
    report = stack.run_reconciler()
    assert report["done"]["RevokeExpired"] == 1
    assert stack.uow.store.get(created.request_id).status is S.REVOKED
    assert assignments_of(stack, granted) == 0


def test_revoke_reported_failed_then_recovered_by_the_reconciler(stack, faults, monkeypatch):
    created = _approved(stack, duration="1h")
    granted = stack.wait_for(created.request_id, S.GRANTED)
    healthy = SSOAdminBackend.delete_account_assignment
    healthy_response = SSOAdminResponse.delete_account_assignment

    def deletion_that_fails(backend, **kwargs):
        """Identity Center accepts the deletion, then reports FAILED: the assignment stays."""
        return backend._find_account(**kwargs).to_json(include_creation_date=True, include_request_id=True)

    monkeypatch.setattr(SSOAdminBackend, "delete_account_assignment", deletion_that_fails)
    faults.script_status("delete_account_assignment", forever("FAILED"), "busy")
    stack.advance(timedelta(hours=1, seconds=2))
    failed = stack.wait_for(created.request_id, S.GRANTED, revoke_failures=1)
    assert "AssignmentFailed" in failed.last_error
    assert assignments_of(stack, granted) == 1
    monkeypatch.setattr(SSOAdminBackend, "delete_account_assignment", healthy)
    monkeypatch.setattr(SSOAdminResponse, "delete_account_assignment", healthy_response)
    stack.advance(timedelta(minutes=2))
    stack.run_reconciler()
    assert stack.uow.store.get(created.request_id).status is S.REVOKED
    assert assignments_of(stack, granted) == 0


def test_twenty_concurrent_approvals_give_one_transition_one_execution_one_assignment(stack):
    created = ask(stack)
    outcomes = []

    def click(i):
        try:  # a patient client: on a loaded CI machine twenty at once can outlast the 10 s default
            return stack.client(timeout=120).decide(BOB if i % 2 else CAROL, created.request_id, "approve").status
        except BackendError as exc:
            return exc.status

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(click, range(20)))
    assert outcomes.count(S.APPROVED) == 1
    assert all(o == 409 for o in outcomes if o is not S.APPROVED)
    granted = stack.wait_for(created.request_id, S.GRANTED)
    approvals = [e for e in stack.uow.store.audit_trail(created.request_id) if e.to_status is S.APPROVED]
    assert len(approvals) == 1
    assert len(stack.executions()) == 1
    assert assignments_of(stack, granted) == 1


def test_reconciler_expires_pending_and_reports_drift(stack):
    created = ask(stack)
    stack.advance(timedelta(hours=1, seconds=1))
    report = stack.run_reconciler()
    assert stack.uow.store.get(created.request_id).status is S.EXPIRED
    assert report["done"]["ExpirePending"] == 1
    # dave's standing ReadOnlyAccess is held by no request: reported, not removed by default.
    assert len(report["drift"]) == 1
    metrics = stack.clients.cloudwatch.list_metrics(Namespace="JIT/Access")["Metrics"]
    assert {"ReconcileExpirePending", "ReconcileDrift"} <= {m["MetricName"] for m in metrics}


def test_events_left_in_the_outbox_are_republished_by_the_reconciler(stack, monkeypatch):
    from backend.adapters.sns_events import SnsEventBus

    def down(*_args, **_kwargs):
        raise ConnectionError("SNS is down")

    monkeypatch.setattr(SnsEventBus, "publish", down)
    ask(stack)
    assert _outbox(stack) == 1
    monkeypatch.undo()
    stack.advance(timedelta(minutes=1))
    report = stack.run_reconciler()
    assert report["done"]["RepublishEvent"] == 1
    assert _outbox(stack) == 0


def _outbox(stack):
    return int(stack.clients.dynamodb.scan(TableName=tables.OUTBOX, Select="COUNT")["Count"])


def test_a_workflow_that_cannot_start_shows_a_short_reason_and_keeps_the_detail(stack, faults, caplog):
    """ARNs and role names from the exception stay in the log and the audit item, out of chat."""
    secret = "arn:aws:iam::123456789012:role/jit-internal-role-name"
    faults.fail(
        StepFunctionsParserBackend, "start_execution", "AccessDeniedException", None, f"{secret} is not authorized"
    )
    created = ask(stack)
    with caplog.at_level(logging.ERROR, logger="backend"), pytest.raises(BackendError) as refused:
        stack.client().decide(BOB, created.request_id, "approve")
    assert refused.value.status == 503
    failed = stack.uow.store.get(created.request_id)
    assert failed.status is S.ERROR
    assert failed.last_error == "the access workflow could not start"
    shown = stack.client().get_request(BOB, created.request_id)
    assert "arn:" not in json.dumps(shown.model_dump(mode="json"))
    [error] = [e for e in stack.uow.store.audit_trail(created.request_id) if e.type == "request.error"]
    assert secret in (error.detail or "")
    assert secret in caplog.text
