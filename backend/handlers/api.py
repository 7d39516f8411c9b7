"""Lambda entry point of ``jit-api``: API Gateway proxy events and Step Functions task events.

Nothing happens at import: the process's settings, routes, verifier and JSON logger are built on
the first invocation and reused by the container afterwards; each AWS client is made when an event first
needs it (``backend.wiring``), so a health check makes none.
"""

from __future__ import annotations

import os
import random
import time
from functools import cache
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    import boto3

    from backend.api.app import JitApi
    from backend.domain.ports import AuditRecord
    from backend.handlers.logs import Handler
    from backend.service.unit_of_work import UnitOfWork
    from backend.settings import BackendSettings
    from backend.wiring import Clients


class ApiProcess:
    """Everything one jit-api process needs, wired once."""

    def __init__(self, uow: UnitOfWork, api: JitApi, clients: Clients) -> None:
        self.uow = uow
        self.api = api
        self.clients = clients  # made on first use: what an event needs, not all of them

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if "task" in event:
            from backend.handlers.tasks import handle_task

            return handle_task(self.uow, event)
        return self.api(event, context)


def build_process(settings: BackendSettings, clients: Clients, uow: UnitOfWork) -> ApiProcess:
    from backend.adapters.dynamodb_audit import read_audit
    from backend.adapters.dynamodb_nonces import DynamoNonceStore
    from backend.adapters.secrets_keyset import SecretsManagerKeySetProvider
    from backend.api.app import JitApi
    from backend.auth.keyset import CachedKeySet
    from backend.auth.verifier import HmacVerifier

    verifier = HmacVerifier(
        keys=CachedKeySet(SecretsManagerKeySetProvider(clients.secretsmanager, settings.keyset_secret_id)),
        nonces=DynamoNonceStore(clients.dynamodb),
        audience=settings.audience,
        clock=time.time,
        metrics=uow.metrics,
    )

    def audit(until: datetime) -> list[AuditRecord]:
        return read_audit(clients.dynamodb, until)

    return ApiProcess(uow, JitApi(uow, verifier, audit), clients)


def process_from_env(env: Mapping[str, str], session: boto3.Session | None = None) -> ApiProcess:
    """What the container builds on its first event (``session``: tests watch the clients it makes)."""
    from backend.settings import BackendSettings
    from backend.wiring import build_unit_of_work, make_clients

    settings = BackendSettings.from_env(env)
    clients = make_clients(settings, session)
    return build_process(settings, clients, build_unit_of_work(settings, clients))


@cache
def _process() -> ApiProcess:
    return process_from_env(os.environ)


def prepare_snapshot(process: ApiProcess, register_after_restore: Callable[[Callable[[], None]], Any]) -> None:
    """Lambda SnapStart (docs/deploy.md): the snapshot keeps what init built, so build it then.

    Settings, routes, verifier and the clients a signed request uses are made now; nothing is
    called (a pooled connection would not survive the restore, and the key set stays out of the
    snapshot). Every restored copy shares the snapshot's ``random`` state, so it is re-seeded from
    the OS after each restore (the Identity Center back-off jitter would otherwise repeat in step).
    Nonces, request ids and event ids come from ``secrets``/``uuid4`` (the OS), so they are unique anyway.
    """
    for client in (process.clients.dynamodb, process.clients.secretsmanager, process.clients.identitystore):
        client.resolve()
    register_after_restore(random.seed)


def logged_entry(process: ApiProcess, env: Mapping[str, str], stream: IO[str] | None = None) -> Handler:
    """What Lambda calls: the process's handler, every line it logs one JSON object (docs/architecture.md, "Logs")."""
    from backend.handlers.logs import API_CORRELATION_ID, lambda_logger, logged

    return logged(lambda_logger("jit-api", env, stream), process.handle, API_CORRELATION_ID)


@cache
def _entry() -> Handler:
    return logged_entry(_process(), os.environ)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    answer: dict[str, Any] = _entry()(event, context)
    return answer


# The one thing done at import, and only in SnapStart's init phase (AWS sets this variable then);
# snapshot_restore_py is part of Lambda's managed Python runtime.
if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":  # pragma: no cover - AWS only
    from snapshot_restore_py import register_after_restore as _register  # type: ignore[import-not-found]

    prepare_snapshot(_process(), _register)
