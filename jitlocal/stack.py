"""The embedded local stack (docs/architecture.md, "Local runtime"): the whole backend on this machine, no AWS account.

moto's server (real HTTP on 127.0.0.1, Step Functions execution on) holds every AWS resource; the
state machine's Lambda tasks run the real ``jit-api`` handler in-process; the API is served on
127.0.0.1 as API Gateway would call it; the reconciler runs on a short period.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from backend.adapters.dynamodb_requests import DynamoRequestStore
from backend.domain.errors import ReconcileFailed
from backend.handlers.api import ApiProcess, build_process
from backend.handlers.reconciler import run_reconciler
from backend.settings import BackendSettings
from backend.wiring import build_unit_of_work, make_clients, utc_now
from jitlocal.alarm_drill import State, fire, provision_alarms
from jitlocal.clock import ManualClock
from jitlocal.config import LocalStackConfig, default_config_path
from jitlocal.http_api import LocalApiServer
from jitlocal.moto_runtime import LambdaRegistry, install_patches, reset_moto, start_moto_server
from jitlocal.provision import Provisioned, bot_key_path, provision
from jitlocal.watchdog import CheckResult, check, sample_queue_depth
from jitwire.b64url import b64url_decode
from jitwire.client import JitApiClient
from jitwire.names import DELIVERY_DLQ_NAME
from jitwire.signing import RequestSigner, SigningKey

if TYPE_CHECKING:
    from collections.abc import Callable

    from backend.service.unit_of_work import UnitOfWork
    from backend.wiring import Clients
    from jitwire.models import RequestStatus

log = logging.getLogger("jitlocal")


@dataclass
class StackOptions:
    config_path: Path = field(default_factory=default_config_path)
    moto_port: int | None = None  # None: the config file's; 0: any free port
    api_port: int | None = None
    clock: Callable[[], datetime] | None = None  # a ManualClock in tests
    retry_sleep_factor: float = 1.0  # 0 in tests: Step Functions retries do not sleep
    reconcile_every_seconds: float | None = None  # None: the config file's; 0: never on its own
    state_dir: Path | None = None
    # Step Functions' Lambda tasks run on this many separate jit-api processes (own clients, caches
    # and call-budget object), taken in turn, as concurrent Lambda containers would.
    task_instances: int = 1
    # Executions woken from a Wait that run their next task at once; the others wait their turn in
    # arrival order (moto_runtime, seam 1). None: all at once.
    woken_at_once: int | None = 16


def _no_sleep(_seconds: float) -> None:
    """Identity Center polling and retry pauses in tests: the outcome matters, not the wait."""


class LocalStack:
    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options or StackOptions()
        config = LocalStackConfig.load(self.options.config_path)
        if self.options.state_dir is not None:
            config = config.model_copy(update={"state_dir": self.options.state_dir})
        self.config = config
        self.clock: Callable[[], datetime] = self.options.clock or utc_now
        self.lambdas = LambdaRegistry(self.options.woken_at_once)
        self._stop = threading.Event()
        self._reconciler_thread: threading.Thread | None = None
        self._moto: Any = None
        self._api: LocalApiServer | None = None
        self.provisioned: Provisioned
        self.settings: BackendSettings
        self.clients: Clients
        self.uow: UnitOfWork
        self.process: ApiProcess
        self.instance_clients: list[Clients] = []
        self._task_processes: list[ApiProcess] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LocalStack:
        port = self.config.moto_port if self.options.moto_port is None else self.options.moto_port
        self._moto = start_moto_server(port)
        install_patches(self.lambdas, self.clock, self.options.retry_sleep_factor)
        self._provision()
        api_port = self.config.api_port if self.options.api_port is None else self.options.api_port
        self._api = LocalApiServer(api_port, self.process.api)
        self._api.start()
        self._write_endpoints()
        every = self.reconcile_every_seconds
        if every > 0:
            self._reconciler_thread = threading.Thread(
                target=self._reconcile_forever, args=(every,), name="jit-reconciler", daemon=True
            )
            self._reconciler_thread.start()
        return self

    def _provision(self) -> None:
        host, port = self._moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        session = boto3.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
            region_name=self.config.region,
        )
        bootstrap = BackendSettings(
            region=self.config.region,
            audience=self.config.audience,
            keyset_secret_id="-",  # noqa: S106 - filled in after provisioning
            state_machine_arn="-",
            events_topic_arn="-",
            identity_center_instance_arn="-",
            identity_store_id="-",
            endpoint_url=self.moto_url,
            metrics="cloudwatch",
        )
        clients = make_clients(bootstrap, session)
        self.sqs = session.client("sqs", endpoint_url=self.moto_url)
        self.provisioned = p = provision(self.config, clients, self.sqs, datetime.now(UTC))
        provision_alarms(clients.cloudwatch, p.alarms_topic_arn, p.state_machine_arn, p.fallback_topic_arn)
        # Observing the stack (wait_for) uses its own client, so it never shows in the handlers' call counts.
        self._observer = DynamoRequestStore(clients.dynamodb)
        self.settings = bootstrap.model_copy(
            update={
                "keyset_secret_id": p.keyset_secret_id,
                "state_machine_arn": p.state_machine_arn,
                "events_topic_arn": p.events_topic_arn,
                "identity_center_instance_arn": p.instance_arn,
                "identity_store_id": p.identity_store_id,
            }
        )
        self.clients = make_clients(self.settings, session)
        sleep = time.sleep if self.options.retry_sleep_factor > 0 else _no_sleep
        self.uow = build_unit_of_work(self.settings, self.clients, self.clock, sleep)
        self.process = build_process(self.settings, self.clients, self.uow)
        self.instance_clients = [self.clients]
        self._task_processes = [self.process]
        for _ in range(self.options.task_instances - 1):
            clients = make_clients(self.settings, session)
            self.instance_clients.append(clients)
            uow = build_unit_of_work(self.settings, clients, self.clock, sleep)
            self._task_processes.append(build_process(self.settings, clients, uow))
        self._turn = itertools.count()
        self.lambdas.register("jit-api", self._run_task)
        self.lambdas.register("jit-reconciler", lambda event, _ctx: run_reconciler(self.uow, event))

    def _run_task(self, event: dict[str, Any], context: Any) -> Any:
        processes = self._task_processes
        return processes[next(self._turn) % len(processes)].handle(event, context)

    def _write_endpoints(self) -> None:
        """Where the local command-line client and the bot find the running stack."""
        path = self.config.state_dir / "endpoints.json"
        path.write_text(json.dumps({"api_url": self.api_url, "moto_url": self.moto_url}), encoding="utf-8")

    def restart_api_process(self) -> None:
        """Serve the API from a fresh process (a cold Lambda container: empty key and policy caches)."""
        self.process = build_process(self.settings, self.clients, self.uow)
        self._task_processes[0] = self.process
        if self._api is not None:
            self._api.handler = self.process.api

    def reset(self) -> None:
        """Forget every resource and provision afresh (tests share one stack per process)."""
        reset_moto(self.moto_url)
        self._provision()
        if self._api is not None:
            self._api.handler = self.process.api

    def stop(self) -> None:
        self._stop.set()
        if self._api is not None:
            self._api.stop()
        if self._moto is not None:
            self._moto.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- what a user of the stack needs ----------------------------------------------------

    @property
    def reconcile_every_seconds(self) -> float:
        every = self.options.reconcile_every_seconds
        return self.config.reconcile_every_seconds if every is None else every

    @property
    def api_url(self) -> str:
        assert self._api is not None, "start the stack first"
        return self._api.url

    @property
    def key_file(self) -> Path:
        return bot_key_path(self.config)

    def signing_key(self) -> SigningKey:
        data = json.loads(self.key_file.read_text(encoding="utf-8"))
        return SigningKey(key_id=data["key_id"], secret=b64url_decode(data["secret"]))

    def client(self, timeout: float = 10.0) -> JitApiClient:
        signer = RequestSigner(self.signing_key(), self.config.audience)
        return JitApiClient(self.api_url, signer, timeout=timeout)

    def subscribe_http(self, topic_arn: str, url: str) -> str:
        """Subscribe an HTTP endpoint (the bot's /sns) to a topic; moto confirms at once. As in the
        template, what SNS cannot deliver goes to the delivery dead-letter queue."""
        response = self.clients.sns.subscribe(
            TopicArn=topic_arn,
            Protocol="http",
            Endpoint=url,
            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": self.provisioned.delivery_dlq_arn})},
        )
        return str(response["SubscriptionArn"])

    def check_bot_unreachable(self) -> CheckResult:
        """Run the JIT-BotUnreachable check CloudWatch would (moto does not): sample the dead-letter
        queue, evaluate the alarm, and on a change notify the fallback topic."""
        now = self.clock()
        sample_queue_depth(self.clients.cloudwatch, self.sqs, self.provisioned.delivery_dlq_url, DELIVERY_DLQ_NAME, now)
        return check(self.clients.cloudwatch, self.clients.sns, now, self.config.region)

    def fire_alarm(self, alarm_name: str, state: State = "ALARM", value: float | None = None) -> dict[str, Any]:
        """Publish the alarm's state change to jit-alarms as CloudWatch would (moto never does)."""
        return fire(
            self.clients.cloudwatch, self.clients.sns, alarm_name, state, value, self.config.region, self.clock()
        )

    def advance(self, delta: timedelta) -> datetime:
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs a stack started with a ManualClock")
        return self.clock.advance(delta)

    def run_reconciler(self, *, dry_run: bool = False) -> dict[str, Any]:
        return run_reconciler(self.uow, {"dry_run": dry_run})

    def wait_for(self, request_id: str, status: RequestStatus, timeout: float = 20.0, **conditions: Any) -> Any:
        """Poll the store until the request reaches ``status`` (the workflow runs in threads)."""
        deadline = time.monotonic() + timeout
        while True:
            request = self._observer.get(request_id)
            if request.status is status and all(getattr(request, k) == v for k, v in conditions.items()):
                return request
            if time.monotonic() > deadline:
                raise TimeoutError(f"{request_id} is {request.status}, not {status} after {timeout} s")
            time.sleep(0.05)

    def executions(self, status: str | None = None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"stateMachineArn": self.provisioned.state_machine_arn}
        if status:
            kwargs["statusFilter"] = status
        pages = self.clients.stepfunctions.get_paginator("list_executions").paginate(**kwargs)
        return [e for page in pages for e in page["executions"]]

    # -- the reconciler's schedule ---------------------------------------------------------

    def _reconcile_forever(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.run_reconciler()
            except ReconcileFailed as exc:
                log.error("ERROR reconciler: %s", exc)
            except Exception:  # the schedule must survive a bad run, as EventBridge would
                log.exception("ERROR reconciler run crashed")
            try:
                self.check_bot_unreachable()
            except Exception:
                log.exception("ERROR JIT-BotUnreachable check crashed")
