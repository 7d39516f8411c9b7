"""Build the adapters of one backend process from its settings (the only place clients are made)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from backend.adapters.directory_cache import CachedDirectory
from backend.adapters.dynamodb_identities import DynamoIdentityBindings
from backend.adapters.dynamodb_lease import DynamoLease
from backend.adapters.dynamodb_ledger import DynamoHolderLedger
from backend.adapters.dynamodb_policy import DynamoPolicyStore
from backend.adapters.dynamodb_requests import DynamoRequestStore
from backend.adapters.identity_center import IdentityCenterGateway
from backend.adapters.metrics import CloudWatchMetrics, EmfMetrics
from backend.adapters.permission_set_policy import PermissionSetPolicies
from backend.adapters.rate_limit import RateLimiter
from backend.adapters.shared_budget import SharedCallBudget
from backend.adapters.sns_events import SnsEventBus
from backend.adapters.stepfunctions_workflow import SfnWorkflow
from backend.service.deps import Deps

if TYPE_CHECKING:
    from backend.domain.ports import Clock
    from backend.settings import BackendSettings

# botocore's own retries would hide throttling from the Identity Center adapter's budget.
_NO_SDK_RETRIES = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=20)
_STANDARD = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20)


def utc_now() -> datetime:
    """Second precision, as every timestamp the system stores."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Clients:
    dynamodb: Any
    sso_admin: Any
    identitystore: Any
    stepfunctions: Any
    sns: Any
    secretsmanager: Any
    cloudwatch: Any


def make_clients(settings: BackendSettings, session: boto3.Session | None = None) -> Clients:
    session = session or boto3.Session(region_name=settings.region)

    def client(name: str, config: Config = _STANDARD) -> Any:
        return session.client(name, endpoint_url=settings.endpoint_url, config=config)  # type: ignore[call-overload]

    return Clients(
        dynamodb=client("dynamodb"),
        sso_admin=client("sso-admin", _NO_SDK_RETRIES),
        identitystore=client("identitystore", _NO_SDK_RETRIES),
        stepfunctions=client("stepfunctions"),
        sns=client("sns"),
        secretsmanager=client("secretsmanager"),
        cloudwatch=client("cloudwatch"),
    )


def build_deps(
    settings: BackendSettings,
    clients: Clients,
    clock: Clock = utc_now,
    sleep: Callable[[float], None] = time.sleep,
) -> Deps:
    """``sleep`` paces Identity Center polling and retries (the local stack's tests skip it)."""
    gateway = IdentityCenterGateway(
        clients.sso_admin,
        clients.identitystore,
        settings.identity_center_instance_arn,
        settings.identity_store_id,
        SharedCallBudget(clients.dynamodb, settings.ic_calls_per_second, RateLimiter(settings.ic_calls_per_second)),
        sleep=sleep,
    )
    sessions = PermissionSetPolicies(
        clients.sso_admin,
        settings.identity_center_instance_arn,
        gateway,
        DynamoLease(clients.dynamodb, sleep=sleep),
        sleep=sleep,
    )
    metrics = CloudWatchMetrics(clients.cloudwatch) if settings.metrics == "cloudwatch" else EmfMetrics()
    return Deps(
        store=DynamoRequestStore(clients.dynamodb),
        ledger=DynamoHolderLedger(clients.dynamodb),
        assignments=gateway,
        directory=CachedDirectory(gateway),
        identities=DynamoIdentityBindings(clients.dynamodb),
        workflow=SfnWorkflow(clients.stepfunctions, settings.state_machine_arn),
        events=SnsEventBus(clients.sns, settings.events_topic_arn),
        policies=DynamoPolicyStore(clients.dynamodb),
        metrics=metrics,
        clock=clock,
        sessions=sessions,
    )
