"""The adapter's call budget, observed at the wire: every AWS call waits for the shared limiter,
and the calls that leave the process never exceed ten in any second."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from moto.ssoadmin.models import SSOAdminBackend

from backend.domain.assignment import AssignmentTarget
from tests.identity_center.conftest import ACCOUNT
from tests.identity_center.test_rate_limit import most_in_any_window

if TYPE_CHECKING:
    from collections.abc import Callable

    from backend.adapters.identity_center import IdentityCenterGateway
    from tests.identity_center.conftest import CountingLimiter, FakeTime, IdentityCenter
    from tests.identity_center.faults import MotoFaults


class WireLog:
    """Every API call the two clients make, with the fake time it left at."""

    def __init__(self, idc: IdentityCenter, fake_time: FakeTime) -> None:
        self.calls: list[tuple[str, float]] = []
        self._time = fake_time
        for client in (idc.sso, idc.store):
            client.meta.events.register("before-call", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append((model.name, self._time.now))


@pytest.fixture
def wire(idc: IdentityCenter, fake_time: FakeTime) -> WireLog:
    return WireLog(idc, fake_time)


def test_every_aws_call_acquires_the_limiter_once(
    make_gateway: Callable[..., IdentityCenterGateway],
    idc: IdentityCenter,
    limiter: CountingLimiter,
    faults: MotoFaults,
    wire: WireLog,
) -> None:
    gateway = make_gateway(page_size=1)
    faults.fail(SSOAdminBackend, "create_account_assignment", "ThrottlingException", times=2)
    faults.script_status("create_account_assignment", ["IN_PROGRESS"])
    faults.script_status("describe_account_assignment_creation_status", ["IN_PROGRESS"])

    user_id = gateway.find_user_id("alice@example.com")
    gateway.group_names_for_user(user_id)
    target = AssignmentTarget(
        principal_id=user_id, account_id=ACCOUNT, permission_set_arn=gateway.permission_set_arn("ReadOnlyAccess")
    )
    gateway.create_assignment(target)
    assert gateway.has_assignment(target)
    gateway.delete_assignment(target)
    gateway.delete_assignment(target)

    names = [name for name, _ in wire.calls]
    assert names.count("CreateAccountAssignment") == 3  # two throttled attempts, then success
    assert names.count("DescribeAccountAssignmentCreationStatus") == 2
    assert names.count("ListPermissionSets") == 2  # two permission sets, one per page
    assert limiter.acquired == len(wire.calls)


def test_a_busy_gateway_never_sends_more_than_ten_calls_in_a_second(
    make_gateway: Callable[..., IdentityCenterGateway],
    idc: IdentityCenter,
    fake_time: FakeTime,
    wire: WireLog,
) -> None:
    for index in range(30):
        idc.add_permission_set(f"Team{index:02d}")
    gateway = make_gateway(page_size=5)
    wire.calls.clear()  # only the gateway's own calls count

    assert gateway.permission_set_arn("Team29") == idc.permission_sets["Team29"]
    for user in ("alice", "bob"):
        gateway.group_names_for_user(idc.users[user])

    times = [at for _, at in wire.calls]
    assert len(times) > 40
    assert most_in_any_window(times) == 10
    assert fake_time.slept["limiter"]  # the limiter, not luck, kept the pace


def test_group_names_are_described_once_for_every_member_within_their_ttl(
    make_gateway: Callable[..., IdentityCenterGateway], idc: IdentityCenter, fake_time: FakeTime, wire: WireLog
) -> None:
    """alice and bob share on-call: the second user's lookup costs one call, not one per group."""
    gateway = make_gateway(group_name_ttl_seconds=300, monotonic=fake_time.clock)
    assert gateway.group_names_for_user(idc.users["alice"]) == {"platform-admins", "on-call"}
    wire.calls.clear()
    assert gateway.group_names_for_user(idc.users["bob"]) == {"on-call"}
    assert [name for name, _ in wire.calls] == ["ListGroupMembershipsForMember"]

    fake_time.now += 301  # after the TTL the name is asked again (a renamed group shows)
    wire.calls.clear()
    assert gateway.group_names_for_user(idc.users["bob"]) == {"on-call"}
    assert [name for name, _ in wire.calls] == ["ListGroupMembershipsForMember", "DescribeGroup"]


def test_only_taking_access_away_is_urgent(
    make_gateway: Callable[..., IdentityCenterGateway],
    idc: IdentityCenter,
    limiter: CountingLimiter,
    faults: MotoFaults,
) -> None:
    """When the shared budget is short, revokes (delete and its status polls) go before everything else."""
    gateway = make_gateway()
    user_id = gateway.find_user_id("alice@example.com")
    target = AssignmentTarget(
        principal_id=user_id, account_id=ACCOUNT, permission_set_arn=gateway.permission_set_arn("ReadOnlyAccess")
    )
    gateway.create_assignment(target)
    limiter.urgent.clear()
    faults.script_status("delete_account_assignment", ["IN_PROGRESS"])
    gateway.delete_assignment(target)
    assert limiter.urgent == [True, True]  # DeleteAccountAssignment, then one status poll
    limiter.urgent.clear()
    gateway.has_assignment(target)
    gateway.create_assignment(target)
    assert limiter.urgent == [False, False]
