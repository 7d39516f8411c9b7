"""Every reconciler run publishes a system.heartbeat to jit-events (the path JIT-BotUnreachable watches)."""

from __future__ import annotations

import pytest

from backend.domain.assignment import AssignmentTarget
from backend.domain.errors import ReconcileFailed
from backend.service.reconciler import reconcile
from jitwire.contract import LifecycleEvent
from tests.fakes.ports import in_memory_unit_of_work
from tests.unit.world import PS_ARNS, T0, identity_center, policy

STANDING = AssignmentTarget(
    principal_id="ic-dave", account_id="111111111111", permission_set_arn=PS_ARNS["ReadOnlyAccess"]
)


def _deps(**policy_changes):
    return in_memory_unit_of_work(policy().model_copy(update=policy_changes), identity_center(), lambda: T0)


def _heartbeats(uow) -> list[LifecycleEvent]:
    return [
        LifecycleEvent.model_validate_json(payload)
        for _, kind, payload in uow.events.published
        if kind == "system.heartbeat"
    ]


@pytest.mark.parametrize("dry_run", [False, True])
def test_every_run_publishes_one_heartbeat(dry_run):
    uow = _deps()
    reconcile(uow, dry_run=dry_run)
    reconcile(uow, dry_run=dry_run)
    beats = _heartbeats(uow)
    assert len(beats) == 2
    assert beats[0].event_id != beats[1].event_id
    assert beats[0].request is None and beats[0].actor is None
    assert beats[0].occurred_at == T0
    assert "0 failed" in (beats[0].detail or "")


def test_a_run_whose_actions_fail_still_publishes_its_heartbeat():
    uow = _deps(remove_drift=True)
    uow.assignments.assignments.add(STANDING)
    uow.assignments.fail_delete = True
    with pytest.raises(ReconcileFailed):
        reconcile(uow)
    [beat] = _heartbeats(uow)
    assert "1 failed" in (beat.detail or "")


def test_a_failed_heartbeat_publish_fails_the_run_so_reconciler_errors_notices():
    uow = _deps()
    uow.events.fail = True
    with pytest.raises(ReconcileFailed, match="Heartbeat"):
        reconcile(uow)
    assert uow.metrics.counts["ReconcileFailures"] == 1
