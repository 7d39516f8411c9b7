"""Events about access rather than one request (drift, break-glass sweeps) reach on-call, once."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.conftest import System, wait_until


def drift_posts(system: System) -> list[str]:
    return [p["message"] for p in system.mm.posts("oncall") if "Access drift" in p["message"]]


def test_drift_is_posted_to_oncall_once_a_day_however_often_the_reconciler_runs(system: System) -> None:
    system.start_bot()
    system.stack.run_reconciler()  # dave's standing prod ReadOnlyAccess is held by no request
    [line] = wait_until(lambda: drift_posts(system), what="the drift post")
    assert "reported" in line
    assert "@channel" not in line
    system.stack.advance(timedelta(minutes=15))
    system.stack.run_reconciler()
    system.stack.advance(timedelta(minutes=15))
    system.stack.run_reconciler()
    wait_until(lambda: system.stack.uow.store.pending_outbox(system.stack.clock()) == [], what="events delivered")
    assert len(drift_posts(system)) == 1
