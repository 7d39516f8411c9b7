"""Ending live AWS sessions at revoke, on the local stack: the Deny statement in the permission set's
inline policy, provisioned to the one account, kept byte-identical around others' statements,
removed after the session duration and put back when someone deletes it too early."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from backend.domain.session_deny import ROLE_INLINE_POLICY_LIMIT, SID_PREFIX, project_denies
from jitlocal.moto_provisioning import provisioned_inline_policy
from jitlocal.provision import SYSTEM
from jitwire.contract import LifecycleEvent
from jitwire.models import RequestStatus as S
from tests.identity_center.faults import MotoFaults, forever
from tests.scenarios.helpers import BOB, ask

PROD, STAGING = "111111111111", "222222222222"
FOREIGN = (
    '{\n  "Version": "2012-10-17",\n  "Statement": [\n'
    '    {"Sid": "TeamReadsBuckets", "Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"},\n'
    '    { "Sid":"NoIamUsers" ,"Effect":"Deny","Action":"iam:CreateUser","Resource":"*" }\n  ]\n}'
)
FOREIGN_STATEMENTS = (
    '{"Sid": "TeamReadsBuckets", "Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"}',
    '{ "Sid":"NoIamUsers" ,"Effect":"Deny","Action":"iam:CreateUser","Resource":"*" }',
)


def _ends_sessions(stack, on: bool = True) -> None:
    policy = stack.uow.policies.current()
    rules = tuple(r.model_copy(update={"end_sessions": on}) for r in policy.rules)
    stack.uow.policies.put(policy.model_copy(update={"rules": rules}), SYSTEM, stack.clock())


def _arn(stack, name="AdministratorAccess") -> str:
    return stack.provisioned.permission_set_arns[name]


def _inline(stack, name="AdministratorAccess") -> str:
    return stack.clients.sso_admin.get_inline_policy_for_permission_set(
        InstanceArn=stack.provisioned.instance_arn, PermissionSetArn=_arn(stack, name)
    )["InlinePolicy"]


def _put_inline(stack, text: str, name="AdministratorAccess") -> None:
    stack.clients.sso_admin.put_inline_policy_to_permission_set(
        InstanceArn=stack.provisioned.instance_arn, PermissionSetArn=_arn(stack, name), InlinePolicy=text
    )


def _granted(stack, **kwargs):
    created = ask(stack, **kwargs)
    stack.client().decide(BOB, created.request_id, "approve")
    return stack.wait_for(created.request_id, S.GRANTED)


def _revoke_now(stack, granted):
    stack.client().revoke(BOB, granted.request_id, note="done")
    return stack.wait_for(granted.request_id, S.REVOKED)


def test_revoke_adds_the_deny_with_the_right_conditions_provisioned_to_that_account_only(stack):
    _ends_sessions(stack)
    _put_inline(stack, FOREIGN)
    granted = _granted(stack)
    revoked = _revoke_now(stack, granted)
    assert revoked.sessions_ended_at == stack.clock()
    assert revoked.session_deny_until == revoked.sessions_ended_at + timedelta(hours=1)  # PT1H
    text = _inline(stack)
    ours = [s for s in json.loads(text)["Statement"] if s.get("Sid", "").startswith(SID_PREFIX)]
    assert ours == [
        {
            "Sid": ours[0]["Sid"],
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "identitystore:userId": stack.provisioned.user_ids["alice"],
                    "aws:PrincipalAccount": PROD,
                },
                "DateLessThan": {"aws:TokenIssueTime": revoked.sessions_ended_at.strftime("%Y-%m-%dT%H:%M:%SZ")},
            },
        }
    ]
    for statement in FOREIGN_STATEMENTS:
        assert statement in text
    assert text.startswith(FOREIGN[: FOREIGN.index(FOREIGN_STATEMENTS[1]) + len(FOREIGN_STATEMENTS[1])])
    assert provisioned_inline_policy(stack.config.region, _arn(stack), PROD) == text
    assert provisioned_inline_policy(stack.config.region, _arn(stack), STAGING) is None
    accounts = stack.clients.sso_admin.list_accounts_for_provisioned_permission_set(
        InstanceArn=stack.provisioned.instance_arn, PermissionSetArn=_arn(stack)
    )["AccountIds"]
    assert accounts == [PROD]
    trail = stack.uow.store.audit_trail(granted.request_id)
    assert "live sessions ended" in (trail[-1].detail or "")


def test_rule_without_end_sessions_leaves_the_inline_policy_alone(stack):
    _ends_sessions(stack, on=False)
    _put_inline(stack, FOREIGN)
    revoked = _revoke_now(stack, _granted(stack))
    assert revoked.sessions_ended_at is None
    assert _inline(stack) == FOREIGN
    assert provisioned_inline_policy(stack.config.region, _arn(stack), PROD) is None


def test_reconciler_removes_the_deny_after_the_session_duration_leaving_the_document_as_it_was(stack):
    _ends_sessions(stack)
    _put_inline(stack, FOREIGN)
    _revoke_now(stack, _granted(stack))
    stack.advance(timedelta(minutes=59))
    assert stack.run_reconciler()["done"].get("SessionDenyRemoved") is None
    assert len(project_denies(_inline(stack))) == 1
    stack.advance(timedelta(minutes=1))
    report = stack.run_reconciler()
    assert report["done"]["SessionDenyRemoved"] == 1
    assert _inline(stack) == FOREIGN
    assert provisioned_inline_policy(stack.config.region, _arn(stack), PROD) == FOREIGN


def test_reconciler_puts_back_a_deny_someone_removed_while_still_needed_and_reports_drift(stack):
    _ends_sessions(stack)
    revoked = _revoke_now(stack, _granted(stack))
    _put_inline(stack, FOREIGN)  # someone's IaC rewrites the inline policy
    stack.advance(timedelta(minutes=10))
    report = stack.run_reconciler()
    assert report["done"]["SessionDenyReadded"] == 1
    text = _inline(stack)
    [deny] = project_denies(text)
    assert deny.issued_before == revoked.sessions_ended_at and deny.user_id == revoked.principal_id
    assert all(statement in text for statement in FOREIGN_STATEMENTS)
    assert provisioned_inline_policy(stack.config.region, _arn(stack), PROD) == text
    assert stack.run_reconciler()["done"].get("SessionDenyReadded") is None  # once


def test_overflow_falls_back_to_the_wide_deny_and_tells_on_call(stack):
    _ends_sessions(stack)
    envelope = '{"Version":"2012-10-17","Statement":[{"Sid":"Big","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::%s"}]}'
    big = envelope % ("b" * (ROLE_INLINE_POLICY_LIMIT - 260 - len(envelope)))  # room for the wide form only
    _put_inline(stack, big)
    events = []
    original = stack.uow.events.publish
    stack.uow.events.publish = lambda event_id, kind, payload: (
        events.append((kind, payload)),
        original(event_id, kind, payload),
    )[1]
    try:
        revoked = _revoke_now(stack, _granted(stack))
    finally:
        stack.uow.events.publish = original
    assert revoked.session_deny_wide
    [deny] = project_denies(_inline(stack))
    assert deny.wide and deny.account_id == PROD
    assert _inline(stack).startswith(big[:-2])
    [wide] = [LifecycleEvent.model_validate_json(p) for k, p in events if k == "access.sessions_ended_wide"]
    assert wide.request is None  # the bot posts request-less events to on-call
    assert "every session" in (wide.detail or "") and revoked.request_id in (wide.detail or "")


def test_provisioning_failure_keeps_the_request_granted_records_the_revoke_failure_and_says_why(stack, monkeypatch):
    _ends_sessions(stack)
    faults = MotoFaults(monkeypatch)
    faults.script_status("describe_permission_set_provisioning_status", forever("FAILED"), "role quota")
    granted = _granted(stack)
    stack.client().revoke(BOB, granted.request_id, note="done")
    failed = stack.wait_for(granted.request_id, S.GRANTED, revoke_failures=1)
    assert "role quota" in failed.last_error and failed.sessions_ended_at is None
    assert stack.uow.store.audit_trail(granted.request_id)[-1].type == "request.revoke_failed"
    monkeypatch.undo()
    stack.advance(timedelta(minutes=2))  # past the reconciler's grace for the workflow
    stack.run_reconciler()
    assert stack.wait_for(granted.request_id, S.REVOKED).sessions_ended_at is not None


@pytest.mark.parametrize("duration", ["PT12H"])
def test_removal_follows_the_permission_sets_own_session_duration(stack, duration):
    _ends_sessions(stack)
    stack.clients.sso_admin.update_permission_set(
        InstanceArn=stack.provisioned.instance_arn, PermissionSetArn=_arn(stack), SessionDuration=duration
    )
    revoked = _revoke_now(stack, _granted(stack))
    assert revoked.session_deny_until == revoked.sessions_ended_at + timedelta(hours=12)
    stack.advance(timedelta(hours=11, minutes=59))
    stack.run_reconciler()
    assert len(project_denies(_inline(stack))) == 1
    stack.advance(timedelta(minutes=1))
    stack.run_reconciler()
    assert _inline(stack) == ""
