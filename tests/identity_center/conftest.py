"""Shared fixtures: an in-process moto Identity Center with users, groups and permission sets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from backend.adapters.identity_center import IdentityCenterGateway
from backend.adapters.rate_limit import Permit, RateLimiter
from tests.identity_center.faults import MotoFaults

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from mypy_boto3_identitystore.client import IdentityStoreClient
    from mypy_boto3_sso_admin.client import SSOAdminClient

REGION = "eu-central-1"
ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
# No botocore retries: injected faults must reach the adapter (the wiring does the same).
NO_RETRIES = Config(retries={"total_max_attempts": 1})


class FakeTime:
    """A clock that only moves when someone sleeps; each sleeper records its own pauses."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: dict[str, list[float]] = {}

    def clock(self) -> float:
        return self.now

    def sleeper(self, name: str) -> Callable[[float], None]:
        pauses = self.slept.setdefault(name, [])

        def sleep(seconds: float) -> None:
            assert seconds >= 0
            pauses.append(seconds)
            self.now += seconds

        return sleep


class CountingLimiter(RateLimiter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acquired = 0
        self.urgent: list[bool] = []

    def acquire(self, urgent: bool = False) -> Permit:
        self.acquired += 1
        self.urgent.append(urgent)
        return super().acquire(urgent)


@dataclass
class IdentityCenter:
    sso: SSOAdminClient
    store: IdentityStoreClient
    instance_arn: str
    identity_store_id: str
    users: dict[str, str] = field(default_factory=dict)  # user name -> user id
    groups: dict[str, str] = field(default_factory=dict)  # display name -> group id
    permission_sets: dict[str, str] = field(default_factory=dict)  # name -> ARN

    def add_user(self, user_name: str, email: str) -> str:
        user_id = self.store.create_user(
            IdentityStoreId=self.identity_store_id,
            UserName=user_name,
            DisplayName=user_name.title(),
            Name={"GivenName": user_name.title(), "FamilyName": "Example"},
            Emails=[{"Value": email, "Type": "work", "Primary": True}],
        )["UserId"]
        self.users[user_name] = user_id
        return user_id

    def add_group(self, display_name: str, members: list[str]) -> str:
        group_id = self.store.create_group(IdentityStoreId=self.identity_store_id, DisplayName=display_name)["GroupId"]
        for user_name in members:
            self.store.create_group_membership(
                IdentityStoreId=self.identity_store_id,
                GroupId=group_id,
                MemberId={"UserId": self.users[user_name]},
            )
        self.groups[display_name] = group_id
        return group_id

    def add_permission_set(self, name: str) -> str:
        arn = self.sso.create_permission_set(Name=name, InstanceArn=self.instance_arn)["PermissionSet"][
            "PermissionSetArn"
        ]
        self.permission_sets[name] = arn
        return arn

    def stored_assignments(self, account_id: str, permission_set_arn: str) -> list[tuple[str, str]]:
        """(principal type, principal id) of every assignment moto holds, duplicates included."""
        rows = self.sso.list_account_assignments(
            InstanceArn=self.instance_arn, AccountId=account_id, PermissionSetArn=permission_set_arn
        )["AccountAssignments"]
        return [(row["PrincipalType"], row["PrincipalId"]) for row in rows]


@pytest.fixture
def idc() -> Iterator[IdentityCenter]:
    with mock_aws():
        sso = boto3.client("sso-admin", region_name=REGION, config=NO_RETRIES)
        store = boto3.client("identitystore", region_name=REGION, config=NO_RETRIES)
        instance = sso.list_instances()["Instances"][0]
        center = IdentityCenter(sso, store, instance["InstanceArn"], instance["IdentityStoreId"])
        center.add_user("alice", "alice@example.com")
        center.add_user("bob", "bob@example.com")
        center.add_group("platform-admins", ["alice"])
        center.add_group("on-call", ["alice", "bob"])
        center.add_permission_set("AdministratorAccess")
        center.add_permission_set("ReadOnlyAccess")
        yield center


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def limiter(fake_time: FakeTime) -> CountingLimiter:
    return CountingLimiter(10, clock=fake_time.clock, sleep=fake_time.sleeper("limiter"))


@pytest.fixture
def make_gateway(
    idc: IdentityCenter, limiter: CountingLimiter, fake_time: FakeTime
) -> Callable[..., IdentityCenterGateway]:
    """A gateway on the moto clients; ``jitter`` defaults to the top of each range (deterministic)."""

    def make(**overrides: Any) -> IdentityCenterGateway:
        options: dict[str, Any] = {"sleep": fake_time.sleeper("gateway"), "jitter": lambda low, high: high}
        options.update(overrides)
        return IdentityCenterGateway(idc.sso, idc.store, idc.instance_arn, idc.identity_store_id, limiter, **options)

    return make


@pytest.fixture
def gateway(make_gateway: Callable[..., IdentityCenterGateway]) -> IdentityCenterGateway:
    return make_gateway()


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> MotoFaults:
    return MotoFaults(monkeypatch)
