"""Lambda entry point of ``jit-reconciler`` (EventBridge rate(15 minutes))."""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backend.service.unit_of_work import UnitOfWork


@cache
def _deps() -> UnitOfWork:
    from backend.settings import BackendSettings
    from backend.wiring import build_unit_of_work, make_clients

    settings = BackendSettings.from_env(os.environ)
    return build_unit_of_work(settings, make_clients(settings))


def run_reconciler(deps: UnitOfWork, event: Any) -> dict[str, Any]:
    """Raises ReconcileFailed after processing everything if any action failed (the alarm counts it)."""
    from backend.service.reconciler import reconcile

    dry_run = bool(event.get("dry_run", False)) if isinstance(event, dict) else False
    return reconcile(deps, dry_run=dry_run).as_dict()


def lambda_handler(event: Any, _context: Any) -> dict[str, Any]:
    return run_reconciler(_deps(), event)
