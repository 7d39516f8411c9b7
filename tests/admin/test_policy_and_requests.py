"""Policy validate/diff/apply, request listings and reconcile-now against the local stack."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml

from jitwire.models import RequestStatus
from tests.admin.conftest import OPERATOR, granted

POLICY = Path(__file__).resolve().parents[2] / "config" / "policy.yaml"


def _edited_policy(tmp_path: Path) -> Path:
    document = yaml.safe_load(POLICY.read_text(encoding="utf-8"))
    document["expiry_warning"] = "15m"
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_validate_accepts_the_shipped_policy(admin):
    result = admin("policy", "validate", str(POLICY))
    assert result.code == 0
    assert "is valid: 2 account(s), 3 permission set(s), 4 rule(s)" in result.output


def test_validate_lists_every_problem(admin, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "accounts: [{id: '12', name: prod}]\npermission_sets: []\nrules: []\nunexpected: 1\n", encoding="utf-8"
    )
    result = admin("policy", "validate", str(bad))
    assert result.code == 1
    assert "accounts.0.id: String should match pattern" in result.output
    assert "unexpected: Extra inputs are not permitted" in result.output


def test_diff_shows_nothing_for_the_applied_policy_and_the_change_for_an_edit(admin, tmp_path):
    same = admin("policy", "diff", str(POLICY))
    assert same.code == 0
    assert "No changes." in same.output

    changed = admin("policy", "diff", str(_edited_policy(tmp_path)))
    assert "-expiry_warning: 10m" in changed.output
    assert "+expiry_warning: 15m" in changed.output


def test_apply_needs_confirmation_and_stores_a_new_version_by_the_operator(stack, admin, tmp_path):
    edited = _edited_policy(tmp_path)
    refused = admin("policy", "apply", str(edited), answers=["no"])
    assert refused.code == 1
    assert stack.uow.policies.current().expiry_warning == timedelta(minutes=10)

    applied = admin("policy", "apply", str(edited), answers=["apply"])
    assert applied.code == 0, applied.output
    assert "Applied policy version 2" in applied.output
    item = stack.clients.dynamodb.get_item(
        TableName="jit_config", Key={"kind": {"S": "policy"}, "version": {"N": "2"}}
    )["Item"]
    assert item["applied_by"]["S"] == OPERATOR


def test_apply_without_operator_is_refused(admin, tmp_path):
    result = admin("policy", "apply", str(_edited_policy(tmp_path)), operator=False)
    assert result.code == 1
    assert "--operator" in result.output


def test_expired_grant_is_listed_and_reconciled_only_with_apply(stack, admin):
    request = granted(stack)
    execution = stack.provisioned.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{request.request_id}"
    stack.clients.stepfunctions.stop_execution(executionArn=execution)  # the workflow died
    stack.advance(timedelta(hours=3))

    listed = admin("requests", "list", "--expired-granted")
    assert request.request_id in listed.output
    assert "1 request(s)" in listed.output
    stuck = admin("requests", "list", "--stuck")
    assert "end time passed but still GRANTED" in stuck.output

    dry = admin("reconcile")
    assert dry.code == 0
    assert "dry run: nothing changed" in dry.output
    assert any(
        "RevokeExpired" in line and f"request_id={request.request_id}" in line for line in dry.output.splitlines()
    )
    assert stack.uow.store.get(request.request_id).status is RequestStatus.GRANTED

    applied = admin("reconcile", "--apply")
    assert applied.code == 0, applied.output
    assert stack.uow.store.get(request.request_id).status is RequestStatus.REVOKED
    assert not stack.uow.assignments.has_assignment(request.target)


def test_list_by_user_shows_only_that_persons_requests(stack, admin):
    request = granted(stack)
    alice = admin("requests", "list", "--user", "alice")
    bob = admin("requests", "list", "--user", "bob@example.com")
    assert request.request_id in alice.output
    assert "1 request(s)" in alice.output
    assert request.request_id not in bob.output
    assert "0 request(s)" in bob.output


def test_apply_refuses_a_policy_naming_an_unknown_user_and_stores_nothing(stack, admin, tmp_path):
    document = yaml.safe_load(POLICY.read_text(encoding="utf-8"))
    document["admins"] = ["dave@example.com", "ghost@example.com"]
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    result = admin("policy", "apply", str(path), "--yes", "--confirm", "apply")
    assert result.code == 1
    assert "Identity Center does not know: ghost@example.com" in result.output
    assert stack.uow.policies.current().admins.users == frozenset({"dave@example.com"})


def test_validate_warns_when_sessions_outlive_grants_and_end_sessions_is_off(admin, stack, tmp_path):
    stack.clients.sso_admin.update_permission_set(
        InstanceArn=stack.provisioned.instance_arn,
        PermissionSetArn=stack.provisioned.permission_set_arns["AdministratorAccess"],
        SessionDuration="PT12H",
    )
    shipped = admin("policy", "validate", str(POLICY))
    assert shipped.code == 0
    said = " ".join(shipped.output.split())
    assert "warning: rule 'staging-self-service': AdministratorAccess sessions last 12h, longer than" in said
    assert "prod-admin" not in said  # the shipped policy ends sessions for prod access
    document = yaml.safe_load(POLICY.read_text(encoding="utf-8"))
    for rule in document["rules"]:
        rule["end_sessions"] = True
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    all_on = admin("policy", "validate", str(path))
    assert all_on.code == 0 and "warning" not in all_on.output
