"""Build the adapters of one backend process from its settings (the only place clients are made).

Clients are made on first use, not here: a Lambda container pays only for the services the events
it serves touch (a health check none; a signed read DynamoDB, Secrets Manager and the identity
store). Without a session the clients come from plain botocore: boto3's session adds nothing the
Lambda uses (the request store still imports boto3 for its DynamoDB type conversion).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

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
from backend.service.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    import boto3

    from backend.domain.ports import Clock
    from backend.settings import BackendSettings

# botocore's own retries would hide throttling from the Identity Center adapter's budget.
_NO_SDK_RETRIES = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=20)
_STANDARD = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20)


def utc_now() -> datetime:
    """Second precision, as every timestamp the system stores."""
    return datetime.now(UTC).replace(microsecond=0)


# (service name, config) -> a botocore client; the one place a client is made.
ClientFactory = Callable[[str, Config], Any]


class LazyClient:
    """Stands in for one botocore client and makes it on first use (any attribute: a call, ``meta``, ...).

    Thread-safe: the local stack serves concurrent invocations from one process, and one client
    per service and process is what AWS recommends.
    """

    __slots__ = ("_client", "_config", "_factory", "_lock", "service")

    def __init__(self, service: str, factory: ClientFactory, config: Config) -> None:
        self.service = service
        self._factory = factory
        self._config = config
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def made(self) -> bool:
        return self._client is not None

    def resolve(self) -> Any:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._factory(self.service, self._config)
                client = self._client
        return client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.resolve(), name)

    def __repr__(self) -> str:
        return f"LazyClient({self.service!r}, made={self.made})"


@dataclass
class Clients:
    dynamodb: Any
    sso_admin: Any
    identitystore: Any
    stepfunctions: Any
    sns: Any
    secretsmanager: Any
    cloudwatch: Any


# The services make_clients names; botocore's model loader is told these are all there are.
SERVICES = ("cloudwatch", "dynamodb", "identitystore", "secretsmanager", "sns", "sso-admin", "stepfunctions")


def _named_services_loader() -> Any:
    """botocore checks a service name by listing all ~400 model folders it ships, twice per process
    (tens of ms of a cold start); this process only ever asks for ``SERVICES``. (AWS_DATA_PATH,
    extra model folders, is not read: jit-api uses only the models botocore ships.)"""
    from botocore.loaders import Loader

    class NamedServicesLoader(Loader):
        def list_available_services(self, type_name: str) -> list[str]:  # noqa: ARG002 - same for every type
            return list(SERVICES)

    return NamedServicesLoader()


def client_factory(settings: BackendSettings, session: boto3.Session | None = None) -> ClientFactory:
    """Clients at ``settings.endpoint_url`` from ``session`` (tests) or one plain botocore session."""
    if session is not None:

        def from_boto3(service: str, config: Config) -> Any:
            return session.client(service, endpoint_url=settings.endpoint_url, config=config)  # type: ignore[call-overload]

        return from_boto3
    import botocore.session

    core = botocore.session.Session()
    core.register_component("data_loader", _named_services_loader())

    def from_botocore(service: str, config: Config) -> Any:
        return core.create_client(
            service, region_name=settings.region, endpoint_url=settings.endpoint_url, config=config
        )

    return from_botocore


def make_clients(settings: BackendSettings, session: boto3.Session | None = None) -> Clients:
    """The process's clients, each made when first used."""
    make = client_factory(settings, session)
    return Clients(
        dynamodb=LazyClient("dynamodb", make, _STANDARD),
        sso_admin=LazyClient("sso-admin", make, _NO_SDK_RETRIES),
        identitystore=LazyClient("identitystore", make, _NO_SDK_RETRIES),
        stepfunctions=LazyClient("stepfunctions", make, _STANDARD),
        sns=LazyClient("sns", make, _STANDARD),
        secretsmanager=LazyClient("secretsmanager", make, _STANDARD),
        cloudwatch=LazyClient("cloudwatch", make, _STANDARD),
    )


def build_unit_of_work(
    settings: BackendSettings,
    clients: Clients,
    clock: Clock = utc_now,
    sleep: Callable[[float], None] = time.sleep,
) -> UnitOfWork:
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
    return UnitOfWork(
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
