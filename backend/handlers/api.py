"""Lambda entry point of ``jit-api``: API Gateway proxy events and Step Functions task events.

Nothing happens at import: the process's settings, clients and routes are built on the first
invocation and reused by the container afterwards.
"""

from __future__ import annotations

import os
import time
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from backend.api.app import JitApi
    from backend.service.audit_report import AuditRecord
    from backend.service.deps import Deps
    from backend.settings import BackendSettings
    from backend.wiring import Clients


class ApiProcess:
    """Everything one jit-api process needs, wired once."""

    def __init__(self, deps: Deps, api: JitApi) -> None:
        self.deps = deps
        self.api = api

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if "task" in event:
            from backend.handlers.tasks import handle_task

            return handle_task(self.deps, event)
        return self.api(event, context)


def build_process(settings: BackendSettings, clients: Clients, deps: Deps) -> ApiProcess:
    from backend.adapters.dynamodb_nonces import DynamoNonceStore
    from backend.adapters.secrets_keyset import SecretsManagerKeySetProvider
    from backend.api.app import JitApi
    from backend.auth.keyset import CachedKeySet
    from backend.auth.verifier import HmacVerifier
    from backend.service.audit_report import read_audit

    verifier = HmacVerifier(
        keys=CachedKeySet(SecretsManagerKeySetProvider(clients.secretsmanager, settings.keyset_secret_id)),
        nonces=DynamoNonceStore(clients.dynamodb),
        audience=settings.audience,
        clock=time.time,
        metrics=deps.metrics,
    )

    def audit(until: datetime) -> list[AuditRecord]:
        return read_audit(clients.dynamodb, until)

    return ApiProcess(deps, JitApi(deps, verifier, audit))


@cache
def _process() -> ApiProcess:
    from backend.settings import BackendSettings
    from backend.wiring import build_deps, make_clients

    settings = BackendSettings.from_env(os.environ)
    clients = make_clients(settings)
    return build_process(settings, clients, build_deps(settings, clients))


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _process().handle(event, context)
