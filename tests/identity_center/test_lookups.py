from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError
from moto.identitystore.models import IdentityStoreBackend
from moto.ssoadmin.models import SSOAdminBackend

from backend.domain.errors import IdentityCenterThrottled, PermissionSetNotFound, PrincipalNotFound

if TYPE_CHECKING:
    from collections.abc import Callable

    from backend.adapters.identity_center import IdentityCenterGateway
    from tests.identity_center.conftest import CountingLimiter, FakeTime, IdentityCenter
    from tests.identity_center.faults import MotoFaults


def test_finds_a_user_by_email(gateway: IdentityCenterGateway, idc: IdentityCenter) -> None:
    assert gateway.find_user_id("alice@example.com") == idc.users["alice"]


def test_finds_a_user_by_user_name(gateway: IdentityCenterGateway, idc: IdentityCenter) -> None:
    assert gateway.find_user_id(" bob ") == idc.users["bob"]


@pytest.mark.parametrize(
    ("login", "named"),
    [("carol@example.com", "email 'carol@example.com'"), ("carol", "user name 'carol'")],
)
def test_an_unknown_user_is_principal_not_found(gateway: IdentityCenterGateway, login: str, named: str) -> None:
    with pytest.raises(PrincipalNotFound, match=named) as caught:
        gateway.find_user_id(login)

    assert isinstance(caught.value.__cause__, ClientError)
    assert caught.value.__cause__.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_empty_login_is_refused_without_asking_aws(gateway: IdentityCenterGateway, limiter: CountingLimiter) -> None:
    with pytest.raises(PrincipalNotFound, match="empty"):
        gateway.find_user_id("   ")

    assert limiter.acquired == 0


def test_user_lookup_retries_too_many_requests(
    gateway: IdentityCenterGateway, idc: IdentityCenter, faults: MotoFaults, fake_time: FakeTime
) -> None:
    received = faults.fail(IdentityStoreBackend, "get_user_id", "TooManyRequestsException", times=2)

    assert gateway.find_user_id("bob@example.com") == idc.users["bob"]
    assert received.calls == 3
    assert fake_time.slept["gateway"] == [0.5, 1.0]


def test_user_lookup_gives_up_as_throttled(gateway: IdentityCenterGateway, faults: MotoFaults) -> None:
    received = faults.fail(IdentityStoreBackend, "get_user_id", "ThrottlingException", times=None)

    with pytest.raises(IdentityCenterThrottled, match="GetUserId"):
        gateway.find_user_id("bob")
    assert received.calls == 6


@pytest.mark.parametrize("page_size", [None, 1])
def test_group_names_of_a_user(
    make_gateway: Callable[..., IdentityCenterGateway], idc: IdentityCenter, page_size: int | None
) -> None:
    gateway = make_gateway(page_size=page_size)

    assert gateway.group_names_for_user(idc.users["alice"]) == {"platform-admins", "on-call"}
    assert gateway.group_names_for_user(idc.users["bob"]) == {"on-call"}


def test_a_user_in_no_group_has_no_group_names(gateway: IdentityCenterGateway, idc: IdentityCenter) -> None:
    user_id = idc.add_user("dave", "dave@example.com")

    assert gateway.group_names_for_user(user_id) == frozenset()


def test_group_pages_are_all_read(
    make_gateway: Callable[..., IdentityCenterGateway], idc: IdentityCenter, faults: MotoFaults
) -> None:
    memberships = faults.count(IdentityStoreBackend, "list_group_memberships_for_member")

    names = make_gateway(page_size=1).group_names_for_user(idc.users["alice"])

    assert names == {"platform-admins", "on-call"}
    assert memberships.calls == 2


def test_permission_set_arn_by_name(gateway: IdentityCenterGateway, idc: IdentityCenter) -> None:
    assert gateway.permission_set_arn("ReadOnlyAccess") == idc.permission_sets["ReadOnlyAccess"]
    assert gateway.permission_set_arn("AdministratorAccess") == idc.permission_sets["AdministratorAccess"]


def test_permission_sets_are_listed_once_and_then_cached(
    gateway: IdentityCenterGateway, idc: IdentityCenter, faults: MotoFaults
) -> None:
    listed = faults.count(SSOAdminBackend, "list_permission_sets")
    described = faults.count(SSOAdminBackend, "describe_permission_set")

    for _ in range(3):
        gateway.permission_set_arn("AdministratorAccess")
        gateway.permission_set_arn("ReadOnlyAccess")

    assert listed.calls == 1
    assert described.calls == 2


def test_an_unknown_permission_set_is_not_found(gateway: IdentityCenterGateway) -> None:
    with pytest.raises(PermissionSetNotFound, match="'PowerUser'"):
        gateway.permission_set_arn("PowerUser")


def test_a_permission_set_created_later_is_found_by_a_refresh(
    gateway: IdentityCenterGateway, idc: IdentityCenter, faults: MotoFaults
) -> None:
    assert gateway.permission_set_arn("AdministratorAccess")
    listed = faults.count(SSOAdminBackend, "list_permission_sets")
    arn = idc.add_permission_set("PowerUser")

    assert gateway.permission_set_arn("PowerUser") == arn
    assert listed.calls == 1


def test_permission_set_pages_are_all_read(
    make_gateway: Callable[..., IdentityCenterGateway], idc: IdentityCenter, faults: MotoFaults
) -> None:
    for index in range(5):
        idc.add_permission_set(f"Team{index}")
    listed = faults.count(SSOAdminBackend, "list_permission_sets")

    gateway = make_gateway(page_size=2)

    assert gateway.permission_set_arn("Team4") == idc.permission_sets["Team4"]
    assert gateway.permission_set_arn("AdministratorAccess") == idc.permission_sets["AdministratorAccess"]
    assert listed.calls == 4  # 7 permission sets, 2 per page
