"""Lambda entry point of ``jit-reconciler`` (EventBridge rate(15 minutes)).

Nothing happens at import: settings, clients and the JSON logger are built on the first invocation.
"""

from __future__ import annotations

import os
from functools import cache
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from backend.handlers.logs import Handler
    from backend.service.unit_of_work import UnitOfWork


@cache
def _deps() -> UnitOfWork:
    from backend.settings import BackendSettings
    from backend.wiring import build_unit_of_work, make_clients

    settings = BackendSettings.from_env(os.environ)
    return build_unit_of_work(settings, make_clients(settings))


def run_reconciler(uow: UnitOfWork, event: Any) -> dict[str, Any]:
    """Raises ReconcileFailed after processing everything if any action failed (the alarm counts it)."""
    from backend.service.reconciler import reconcile

    dry_run = bool(event.get("dry_run", False)) if isinstance(event, dict) else False
    return reconcile(uow, dry_run=dry_run).as_dict()


def logged_entry(uow: UnitOfWork, env: Mapping[str, str], stream: IO[str] | None = None) -> Handler:
    """What Lambda calls: every line one JSON object, the EventBridge event id as correlation id."""
    from backend.handlers.logs import RECONCILER_CORRELATION_ID, lambda_logger, logged

    def handle(event: Any, _context: Any) -> dict[str, Any]:
        return run_reconciler(uow, event)

    return logged(lambda_logger("jit-reconciler", env, stream), handle, RECONCILER_CORRELATION_ID)


@cache
def _entry() -> Handler:
    return logged_entry(_deps(), os.environ)


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    report: dict[str, Any] = _entry()(event, context)
    return report
