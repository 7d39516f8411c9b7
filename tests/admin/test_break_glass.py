"""Break-glass revoke against the local stack, including the outage drills of issue 5."""

from __future__ import annotations

import json
import stat
from datetime import timedelta

from backend.domain.assignment import AssignmentTarget
from jitadmin import journal as journal_file
from jitadmin.journal import StepState
from jitwire.models import RequestStatus
from tests.admin.conftest import OPERATOR, failing, granted


def _journal(admin):
    files = sorted(admin.journal_dir.glob("break-glass-*.json"))
    assert len(files) == 1, files
    return files[0], journal_file.load(files[0])


def test_revoke_by_request_id_removes_access_and_records_it(stack, admin, event_queue):
    request = granted(stack)
    result = admin(
        "break-glass",
        "revoke",
        "--request-id",
        request.request_id,
        "--reason",
        "laptop stolen",
        answers=[request.request_id],
    )

    assert result.code == 0, result.output
    assert result.prompts == [f"Type {request.request_id!r} to go ahead: "]
    assert not stack.uow.assignments.has_assignment(request.target)
    after = stack.uow.store.get(request.request_id)
    assert after.status is RequestStatus.REVOKED
    entry = stack.uow.store.audit_trail(request.request_id)[-1]
    assert entry.type == "access.break_glass"
    assert entry.actor is not None and entry.actor.email == OPERATOR
    assert (entry.from_status, entry.to_status) == (RequestStatus.GRANTED, RequestStatus.REVOKED)
    assert "laptop stolen" in (entry.detail or "")
    assert stack.uow.ledger.holders(request.target) == frozenset()
    events = event_queue.of_type("access.break_glass")
    assert [e["request"]["request_id"] for e in events] == [request.request_id]
    assert events[0]["request"]["status"] == "REVOKED"
    path, journal = _journal(admin)
    assert journal.complete
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_wrong_confirmation_changes_nothing(stack, admin):
    request = granted(stack)
    result = admin("break-glass", "revoke", "--request-id", request.request_id, "--reason", "x", answers=["yes"])

    assert result.code == 1
    assert "did not match; nothing was done" in result.output
    assert stack.uow.assignments.has_assignment(request.target)
    assert stack.uow.store.get(request.request_id).status is RequestStatus.GRANTED
    assert list(admin.journal_dir.glob("*")) == []


def test_yes_needs_the_same_confirm_text(stack, admin):
    request = granted(stack)
    refused = admin("break-glass", "revoke", "--user", "alice", "--reason", "x", "--yes")
    mismatched = admin("break-glass", "revoke", "--user", "alice", "--reason", "x", "--yes", "--confirm", "bob")
    assert (refused.code, mismatched.code) == (1, 1)
    assert stack.uow.assignments.has_assignment(request.target)

    done = admin("break-glass", "revoke", "--user", "alice", "--reason", "x", "--yes", "--confirm", "alice")
    assert done.code == 0, done.output
    assert not stack.uow.assignments.has_assignment(request.target)


def test_revoke_by_user_takes_every_grant_of_that_user_only(stack, admin):
    staging = granted(stack)
    prod = granted(stack, account="prod", permission_set="AdministratorAccess")
    dave_standing = AssignmentTarget(
        principal_id=stack.provisioned.user_ids["dave"],
        account_id="111111111111",
        permission_set_arn=stack.provisioned.permission_set_arns["ReadOnlyAccess"],
    )
    result = admin(
        "break-glass",
        "revoke",
        "--user",
        "alice@example.com",
        "--reason",
        "offboarding",
        "--yes",
        "--confirm",
        "alice@example.com",
    )

    assert result.code == 0, result.output
    for request in (staging, prod):
        assert not stack.uow.assignments.has_assignment(request.target)
        assert stack.uow.store.get(request.request_id).status is RequestStatus.REVOKED
    assert stack.uow.assignments.has_assignment(dave_standing)


def test_revoke_all_also_sweeps_unledgered_assignments_of_jit_users(stack, admin, event_queue):
    request = granted(stack)
    by_hand = AssignmentTarget(
        principal_id=request.principal_id,
        account_id="222222222222",
        permission_set_arn=stack.provisioned.permission_set_arns["PowerUserAccess"],
    )
    stack.uow.assignments.create_assignment(by_hand)

    result = admin("break-glass", "revoke", "--all", "--reason", "incident INC-9", answers=["REVOKE ALL"])

    assert result.code == 0, result.output
    assert "not in ledger" in result.output
    assert not stack.uow.assignments.has_assignment(request.target)
    assert not stack.uow.assignments.has_assignment(by_hand)
    events = event_queue.of_type("access.break_glass")
    assert sorted(e["request"] is None for e in events) == [False, True]
    swept = next(e for e in events if e["request"] is None)
    assert by_hand.ledger_key in swept["detail"]


def test_revoke_of_a_final_request_is_refused(stack, admin):
    request = granted(stack)
    admin("break-glass", "revoke", "--request-id", request.request_id, "--reason", "x", answers=[request.request_id])
    again = admin("break-glass", "revoke", "--request-id", request.request_id, "--reason", "x")
    assert again.code == 1
    assert "REVOKED; it holds no access" in again.output


def test_drill_dynamodb_writes_failing_then_resume_records_everything(stack, admin, event_queue):
    request = granted(stack)
    broken = admin.fresh_clients()
    undo = failing(broken, "dynamodb", ["TransactWriteItems", "UpdateItem", "PutItem", "DeleteItem"])

    result = admin(
        "break-glass",
        "revoke",
        "--request-id",
        request.request_id,
        "--reason",
        "drill",
        "--yes",
        "--confirm",
        request.request_id,
        clients=broken,
    )

    assert result.code == 3, result.output
    assert "Access is removed, but recording it failed" in result.output
    assert not stack.uow.assignments.has_assignment(request.target)
    assert stack.uow.store.get(request.request_id).status is RequestStatus.GRANTED  # not recorded yet
    assert event_queue.of_type("access.break_glass") == []
    path, journal = _journal(admin)
    assert [s.state for s in journal.targets] == [StepState.DONE]
    assert [s.state for s in journal.records] == [StepState.FAILED]
    assert "injected outage" in (journal.records[0].error or "")
    assert f"jit-admin break-glass resume {path}" in result.output.replace("\n", "")

    undo()  # DynamoDB is back
    resumed = admin("break-glass", "resume", str(path), clients=broken)

    assert resumed.code == 0, resumed.output
    after = stack.uow.store.get(request.request_id)
    assert after.status is RequestStatus.REVOKED
    assert [e.type for e in stack.uow.store.audit_trail(request.request_id)][-1] == "access.break_glass"
    assert stack.uow.ledger.holders(request.target) == frozenset()
    assert [e["request"]["request_id"] for e in event_queue.of_type("access.break_glass")] == [request.request_id]
    assert journal_file.load(path).complete
    assert admin("break-glass", "resume", str(path)).output.strip().endswith("this journal is complete.")


def test_drill_step_functions_unavailable(stack, admin):
    request = granted(stack)
    no_sfn = admin.fresh_clients(stepfunctions="http://127.0.0.1:9")

    result = admin(
        "break-glass",
        "revoke",
        "--request-id",
        request.request_id,
        "--reason",
        "drill",
        "--yes",
        "--confirm",
        request.request_id,
        clients=no_sfn,
    )

    assert result.code == 0, result.output
    assert not stack.uow.assignments.has_assignment(request.target)
    assert stack.uow.store.get(request.request_id).status is RequestStatus.REVOKED
    # The request's own workflow, still waiting, ends quietly when it wakes up.
    stack.advance(timedelta(hours=2, minutes=1))
    execution = _wait_execution_done(stack, request.request_id)
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["schedule"]["outcome"] == "already_final"


def _wait_execution_done(stack, request_id):
    import time

    arn = stack.provisioned.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{request_id}"
    for _ in range(400):
        execution = stack.clients.stepfunctions.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(0.05)
    raise AssertionError("the workflow did not finish")


def _our_denies(stack, request):
    from backend.domain.session_deny import project_denies

    text = stack.clients.sso_admin.get_inline_policy_for_permission_set(
        InstanceArn=stack.provisioned.instance_arn, PermissionSetArn=request.permission_set_arn
    )["InlinePolicy"]
    return project_denies(text)


def test_break_glass_ends_live_sessions_by_default_and_records_when(stack, admin):
    from jitlocal.moto_provisioning import provisioned_inline_policy

    request = granted(stack)  # staging-self-service: the rule does not ask for it; break-glass always does
    result = admin(
        "break-glass", "revoke", "--request-id", request.request_id, "--reason", "leak", answers=[request.request_id]
    )

    assert result.code == 0, result.output
    [deny] = _our_denies(stack, request)
    assert (deny.user_id, deny.account_id) == (request.principal_id, request.account_id)
    after = stack.uow.store.get(request.request_id)
    assert after.status is RequestStatus.REVOKED and after.sessions_ended_at == deny.issued_before
    assert provisioned_inline_policy(stack.config.region, request.permission_set_arn, request.account_id)
    _path, journal = _journal(admin)
    assert [s.state for s in journal.sessions] == [StepState.DONE]
    assert "end live sessions" in result.output


def test_break_glass_keep_sessions_leaves_the_inline_policy_alone(stack, admin):
    request = granted(stack)
    result = admin(
        "break-glass",
        "revoke",
        "--request-id",
        request.request_id,
        "--reason",
        "x",
        "--keep-sessions",
        answers=[request.request_id],
    )

    assert result.code == 0, result.output
    assert _our_denies(stack, request) == []
    after = stack.uow.store.get(request.request_id)
    assert after.status is RequestStatus.REVOKED and after.sessions_ended_at is None
    _path, journal = _journal(admin)
    assert journal.sessions == ()
