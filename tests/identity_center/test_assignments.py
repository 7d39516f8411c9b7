from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from moto.ssoadmin.models import SSOAdminBackend
from moto.ssoadmin.responses import SSOAdminResponse

from backend.domain.assignment import AssignmentTarget
from tests.identity_center.conftest import ACCOUNT, OTHER_ACCOUNT

if TYPE_CHECKING:
    from collections.abc import Callable

    from backend.adapters.identity_center import IdentityCenterGateway
    from tests.identity_center.conftest import FakeTime, IdentityCenter
    from tests.identity_center.faults import MotoFaults


@pytest.fixture
def admin_arn(idc: IdentityCenter) -> str:
    return idc.permission_sets["AdministratorAccess"]


def target_for(idc: IdentityCenter, user: str, permission_set_arn: str, account: str = ACCOUNT) -> AssignmentTarget:
    return AssignmentTarget(principal_id=idc.users[user], account_id=account, permission_set_arn=permission_set_arn)


def test_create_then_delete_an_assignment(gateway: IdentityCenterGateway, idc: IdentityCenter, admin_arn: str) -> None:
    target = target_for(idc, "alice", admin_arn)

    gateway.create_assignment(target)
    assert idc.stored_assignments(ACCOUNT, admin_arn) == [("USER", idc.users["alice"])]
    assert gateway.has_assignment(target)

    gateway.delete_assignment(target)
    assert idc.stored_assignments(ACCOUNT, admin_arn) == []
    assert not gateway.has_assignment(target)


def test_an_immediate_success_is_not_polled(
    gateway: IdentityCenterGateway,
    idc: IdentityCenter,
    admin_arn: str,
    faults: MotoFaults,
    fake_time: FakeTime,
) -> None:
    polled = faults.script_status("describe_account_assignment_creation_status", [])

    gateway.create_assignment(target_for(idc, "alice", admin_arn))

    assert polled.calls == 0
    assert fake_time.slept["gateway"] == []


def test_deleting_a_missing_assignment_is_a_no_op(
    gateway: IdentityCenterGateway, idc: IdentityCenter, admin_arn: str, faults: MotoFaults
) -> None:
    deletes = faults.count(SSOAdminBackend, "delete_account_assignment")
    polled = faults.script_status("describe_account_assignment_deletion_status", [])

    gateway.delete_assignment(target_for(idc, "bob", admin_arn))

    assert deletes.calls == 1
    assert polled.calls == 0


def test_delete_removes_only_the_target(gateway: IdentityCenterGateway, idc: IdentityCenter, admin_arn: str) -> None:
    alice, bob = target_for(idc, "alice", admin_arn), target_for(idc, "bob", admin_arn)
    gateway.create_assignment(alice)
    gateway.create_assignment(bob)

    gateway.delete_assignment(alice)

    assert idc.stored_assignments(ACCOUNT, admin_arn) == [("USER", idc.users["bob"])]


def test_has_assignment_matches_user_account_and_permission_set(
    gateway: IdentityCenterGateway, idc: IdentityCenter, admin_arn: str
) -> None:
    gateway.create_assignment(target_for(idc, "alice", admin_arn))
    read_only = idc.permission_sets["ReadOnlyAccess"]

    assert gateway.has_assignment(target_for(idc, "alice", admin_arn))
    assert not gateway.has_assignment(target_for(idc, "bob", admin_arn))
    assert not gateway.has_assignment(target_for(idc, "alice", admin_arn, account=OTHER_ACCOUNT))
    assert not gateway.has_assignment(target_for(idc, "alice", read_only))


def test_a_group_assignment_is_not_a_user_assignment(
    gateway: IdentityCenterGateway, idc: IdentityCenter, admin_arn: str
) -> None:
    group_id = idc.groups["on-call"]
    idc.sso.create_account_assignment(
        InstanceArn=idc.instance_arn,
        TargetId=ACCOUNT,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=admin_arn,
        PrincipalType="GROUP",
        PrincipalId=group_id,
    )

    lookalike = AssignmentTarget(principal_id=group_id, account_id=ACCOUNT, permission_set_arn=admin_arn)
    assert not gateway.has_assignment(lookalike)
    assert gateway.list_user_assignments(ACCOUNT, admin_arn) == []


@pytest.mark.parametrize("page_size", [None, 1])
def test_list_user_assignments(
    make_gateway: Callable[..., IdentityCenterGateway],
    idc: IdentityCenter,
    admin_arn: str,
    page_size: int | None,
) -> None:
    gateway = make_gateway(page_size=page_size)
    alice, bob = target_for(idc, "alice", admin_arn), target_for(idc, "bob", admin_arn)
    gateway.create_assignment(alice)
    gateway.create_assignment(bob)
    gateway.create_assignment(target_for(idc, "alice", admin_arn, account=OTHER_ACCOUNT))
    gateway.create_assignment(target_for(idc, "bob", idc.permission_sets["ReadOnlyAccess"]))
    idc.sso.create_account_assignment(
        InstanceArn=idc.instance_arn,
        TargetId=ACCOUNT,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=admin_arn,
        PrincipalType="GROUP",
        PrincipalId=idc.groups["on-call"],
    )

    assert gateway.list_user_assignments(ACCOUNT, admin_arn) == [alice, bob]
    assert gateway.has_assignment(bob)


def test_list_user_assignments_reports_each_assignment_once(
    gateway: IdentityCenterGateway, idc: IdentityCenter, admin_arn: str
) -> None:
    # moto stores a repeated create twice (AWS would keep one); drift checks must see one.
    target = target_for(idc, "alice", admin_arn)
    gateway.create_assignment(target)
    gateway.create_assignment(target)
    assert len(idc.stored_assignments(ACCOUNT, admin_arn)) == 2

    assert gateway.list_user_assignments(ACCOUNT, admin_arn) == [target]


def test_requests_carry_the_expected_fields(
    gateway: IdentityCenterGateway,
    idc: IdentityCenter,
    admin_arn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bodies: list[str] = []
    original = SSOAdminResponse.create_account_assignment

    def recording(response: SSOAdminResponse) -> str:
        bodies.append(response.body)
        return original(response)

    monkeypatch.setattr(SSOAdminResponse, "create_account_assignment", recording)

    gateway.create_assignment(target_for(idc, "alice", admin_arn))

    assert [json.loads(body) for body in bodies] == [
        {
            "InstanceArn": idc.instance_arn,
            "TargetId": ACCOUNT,
            "TargetType": "AWS_ACCOUNT",
            "PermissionSetArn": admin_arn,
            "PrincipalType": "USER",
            "PrincipalId": idc.users["alice"],
        }
    ]
