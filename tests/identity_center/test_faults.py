"""Behaviour moto does not model, injected at moto's wire: slow, failed, throttled and conflicting
assignment requests, for both creation and deletion."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError
from moto.ssoadmin.models import SSOAdminBackend

from backend.domain.assignment import AssignmentTarget
from backend.domain.errors import (
    AssignmentFailed,
    AssignmentTimedOut,
    IdentityCenterError,
    IdentityCenterThrottled,
)
from tests.identity_center.conftest import ACCOUNT
from tests.identity_center.faults import forever

if TYPE_CHECKING:
    from collections.abc import Callable

    from backend.adapters.identity_center import IdentityCenterGateway
    from tests.identity_center.conftest import FakeTime, IdentityCenter
    from tests.identity_center.faults import MotoFaults

FULL_POLL_BUDGET = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 5.0]
FULL_THROTTLE_BACKOFF = [0.5, 1.0, 2.0, 4.0, 8.0]


@dataclass(frozen=True)
class Operation:
    """One asynchronous assignment operation and the moto seams that drive it."""

    name: str
    backend_method: str
    start_method: str
    status_method: str

    def run(self, gateway: IdentityCenterGateway, target: AssignmentTarget) -> None:
        if self.name == "create":
            gateway.create_assignment(target)
        else:
            gateway.delete_assignment(target)


CREATE = Operation(
    "create",
    "create_account_assignment",
    "create_account_assignment",
    "describe_account_assignment_creation_status",
)
DELETE = Operation(
    "delete",
    "delete_account_assignment",
    "delete_account_assignment",
    "describe_account_assignment_deletion_status",
)
BOTH = pytest.mark.parametrize("operation", [CREATE, DELETE], ids=["create", "delete"])


@pytest.fixture
def target(idc: IdentityCenter) -> AssignmentTarget:
    return AssignmentTarget(
        principal_id=idc.users["alice"],
        account_id=ACCOUNT,
        permission_set_arn=idc.permission_sets["AdministratorAccess"],
    )


def prepare(operation: Operation, gateway: IdentityCenterGateway, target: AssignmentTarget) -> None:
    """A delete needs something to delete (made before any fault is injected)."""
    if operation is DELETE:
        gateway.create_assignment(target)


def expected_store_after_success(operation: Operation, idc: IdentityCenter) -> list[tuple[str, str]]:
    return [("USER", idc.users["alice"])] if operation is CREATE else []


@BOTH
def test_in_progress_then_succeeded(
    operation: Operation,
    gateway: IdentityCenterGateway,
    idc: IdentityCenter,
    target: AssignmentTarget,
    faults: MotoFaults,
    fake_time: FakeTime,
) -> None:
    prepare(operation, gateway, target)
    faults.script_status(operation.start_method, ["IN_PROGRESS"])
    polled = faults.script_status(operation.status_method, ["IN_PROGRESS", "IN_PROGRESS"])

    operation.run(gateway, target)

    assert polled.calls == 3
    assert fake_time.slept["gateway"] == [1.0, 2.0, 4.0]
    assert idc.stored_assignments(ACCOUNT, target.permission_set_arn) == expected_store_after_success(operation, idc)


@BOTH
def test_in_progress_forever_times_out_within_the_budget(
    operation: Operation,
    gateway: IdentityCenterGateway,
    target: AssignmentTarget,
    faults: MotoFaults,
    fake_time: FakeTime,
) -> None:
    prepare(operation, gateway, target)
    faults.script_status(operation.start_method, ["IN_PROGRESS"])
    polled = faults.script_status(operation.status_method, forever("IN_PROGRESS"))

    with pytest.raises(AssignmentTimedOut, match="still IN_PROGRESS after 60 s"):
        operation.run(gateway, target)

    assert fake_time.slept["gateway"] == FULL_POLL_BUDGET
    assert polled.calls == len(FULL_POLL_BUDGET)


def test_the_poll_schedule_follows_its_settings(
    make_gateway: Callable[..., IdentityCenterGateway],
    target: AssignmentTarget,
    faults: MotoFaults,
    fake_time: FakeTime,
) -> None:
    gateway = make_gateway(poll_initial=0.5, poll_max=2.0, poll_budget_seconds=5.0)
    faults.script_status(CREATE.start_method, ["IN_PROGRESS"])
    faults.script_status(CREATE.status_method, forever("IN_PROGRESS"))

    with pytest.raises(AssignmentTimedOut):
        gateway.create_assignment(target)

    assert fake_time.slept["gateway"] == [0.5, 1.0, 2.0, 1.5]


@BOTH
def test_failed_while_polling_is_assignment_failed_with_the_reason(
    operation: Operation,
    gateway: IdentityCenterGateway,
    target: AssignmentTarget,
    faults: MotoFaults,
) -> None:
    prepare(operation, gateway, target)
    started = faults.count(SSOAdminBackend, operation.backend_method)
    faults.script_status(operation.start_method, ["IN_PROGRESS"])
    faults.script_status(
        operation.status_method, ["IN_PROGRESS", "FAILED"], failure_reason="Received a 404 status error"
    )

    with pytest.raises(AssignmentFailed, match="Received a 404 status error") as caught:
        operation.run(gateway, target)

    assert target.principal_id in caught.value.message
    assert started.calls == 1  # a FAILED request is reported, never silently repeated


@BOTH
def test_failed_at_once_is_not_polled(
    operation: Operation,
    gateway: IdentityCenterGateway,
    target: AssignmentTarget,
    faults: MotoFaults,
    fake_time: FakeTime,
) -> None:
    prepare(operation, gateway, target)
    faults.script_status(operation.start_method, ["FAILED"], failure_reason="permission set not provisioned")
    polled = faults.script_status(operation.status_method, [])

    with pytest.raises(AssignmentFailed, match="permission set not provisioned"):
        operation.run(gateway, target)

    assert polled.calls == 0
    assert fake_time.slept["gateway"] == []


@BOTH
@pytest.mark.parametrize("code", ["ThrottlingException", "TooManyRequestsException", "ConflictException"])
def test_throttling_and_conflicts_are_retried_until_success(
    operation: Operation,
    code: str,
    gateway: IdentityCenterGateway,
    idc: IdentityCenter,
    target: AssignmentTarget,
    faults: MotoFaults,
    fake_time: FakeTime,
) -> None:
    prepare(operation, gateway, target)
    received = faults.fail(SSOAdminBackend, operation.backend_method, code, times=3)

    operation.run(gateway, target)

    assert received.calls == 4
    assert fake_time.slept["gateway"] == [0.5, 1.0, 2.0]
    assert idc.stored_assignments(ACCOUNT, target.permission_set_arn) == expected_store_after_success(operation, idc)


@BOTH
def test_throttling_forever_becomes_identity_center_throttled(
    operation: Operation,
    gateway: IdentityCenterGateway,
    idc: IdentityCenter,
    target: AssignmentTarget,
    faults: MotoFaults,
    fake_time: FakeTime,
) -> None:
    prepare(operation, gateway, target)
    before = idc.stored_assignments(ACCOUNT, target.permission_set_arn)
    received = faults.fail(SSOAdminBackend, operation.backend_method, "ThrottlingException", times=None)

    with pytest.raises(IdentityCenterThrottled, match="after 6 attempts") as caught:
        operation.run(gateway, target)

    assert received.calls == 6
    assert fake_time.slept["gateway"] == FULL_THROTTLE_BACKOFF
    assert isinstance(caught.value.__cause__, ClientError)
    assert caught.value.__cause__.response["Error"]["Code"] == "ThrottlingException"
    assert idc.stored_assignments(ACCOUNT, target.permission_set_arn) == before


@BOTH
def test_conflict_forever_becomes_identity_center_throttled(
    operation: Operation,
    make_gateway: Callable[..., IdentityCenterGateway],
    target: AssignmentTarget,
    faults: MotoFaults,
) -> None:
    gateway = make_gateway(max_throttle_retries=2)
    prepare(operation, gateway, target)
    received = faults.fail(SSOAdminBackend, operation.backend_method, "ConflictException", times=None)

    with pytest.raises(IdentityCenterThrottled, match="ConflictException after 3 attempts"):
        operation.run(gateway, target)

    assert received.calls == 3


@BOTH
def test_throttling_while_polling_is_retried(
    operation: Operation,
    gateway: IdentityCenterGateway,
    idc: IdentityCenter,
    target: AssignmentTarget,
    faults: MotoFaults,
    fake_time: FakeTime,
) -> None:
    prepare(operation, gateway, target)
    faults.script_status(operation.start_method, ["IN_PROGRESS"])
    polled = faults.fail(SSOAdminBackend, operation.status_method, "ThrottlingException", times=2)

    operation.run(gateway, target)

    assert polled.calls == 3
    assert fake_time.slept["gateway"] == [1.0, 0.5, 1.0]  # one poll pause, then two throttle pauses
    assert idc.stored_assignments(ACCOUNT, target.permission_set_arn) == expected_store_after_success(operation, idc)


@BOTH
def test_other_errors_are_identity_center_errors_naming_the_code(
    operation: Operation,
    gateway: IdentityCenterGateway,
    target: AssignmentTarget,
    faults: MotoFaults,
    fake_time: FakeTime,
) -> None:
    prepare(operation, gateway, target)
    received = faults.fail(SSOAdminBackend, operation.backend_method, "AccessDeniedException", times=None, message="no")

    with pytest.raises(IdentityCenterError, match="AccessDeniedException") as caught:
        operation.run(gateway, target)

    assert type(caught.value) is IdentityCenterError
    assert isinstance(caught.value.__cause__, ClientError)
    assert received.calls == 1
    assert fake_time.slept["gateway"] == []


def test_no_retries_means_one_attempt(
    make_gateway: Callable[..., IdentityCenterGateway], target: AssignmentTarget, faults: MotoFaults
) -> None:
    gateway = make_gateway(max_throttle_retries=0)
    received = faults.fail(SSOAdminBackend, CREATE.backend_method, "ThrottlingException", times=None)

    with pytest.raises(IdentityCenterThrottled):
        gateway.create_assignment(target)

    assert received.calls == 1


def test_throttle_pauses_are_jittered_within_each_step(
    make_gateway: Callable[..., IdentityCenterGateway],
    target: AssignmentTarget,
    faults: MotoFaults,
    fake_time: FakeTime,
) -> None:
    gateway = make_gateway(jitter=random.Random(7).uniform, max_throttle_retries=8)
    faults.fail(SSOAdminBackend, CREATE.backend_method, "ThrottlingException", times=None)

    with pytest.raises(IdentityCenterThrottled):
        gateway.create_assignment(target)

    pauses = fake_time.slept["gateway"]
    steps = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    assert len(pauses) == len(steps)
    assert all(step / 2 <= pause <= step for pause, step in zip(pauses, steps, strict=True))
    assert len(set(pauses)) == len(pauses)  # jittered, not a fixed schedule
