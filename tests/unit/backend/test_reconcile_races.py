"""The reconciler against grants and revokes that run between its reads and its writes (issue 15 §1).

Each test puts another process's steps right after the n-th ledger read of a reconcile run, for
every n the run makes, so every window between "read" and "act" is exercised deterministically.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from backend.service import requests, workflow_tasks
from backend.service.reconciler import reconcile
from jitwire.contract import CreateRequestBody
from jitwire.models import RequestStatus
from tests.fakes.ports import InterleavingLedger, in_memory_deps
from tests.unit.world import ALICE, BOB, T0, identity_center, policy


def every_read(scenario):
    """Run ``scenario(at_read)`` for every ledger read a reconcile run makes (until the steps no longer run)."""
    at_read = 0
    while scenario(at_read):
        at_read += 1
    assert at_read > 0, "the reconciler never read the ledger"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self):
        return self.now


def _world():
    clock = Clock()
    ic = identity_center()
    deps = in_memory_deps(policy(), ic, clock)
    return deps, ic, clock


def _approved(deps, duration="1h"):
    """alice, prod ReadOnlyAccess, approved by bob; not granted yet."""
    body = CreateRequestBody(
        actor=ALICE,
        account="prod",
        permission_set="ReadOnlyAccess",
        duration=duration,
        reason="overlap",
        idempotency_key=uuid.uuid4().hex,
    )
    request, _ = requests.create_request(deps, body)
    if request.status is RequestStatus.PENDING:
        requests.approve(deps, BOB, request.request_id, None)
    return request.request_id


def _granted(deps, duration="1h"):
    rid = _approved(deps, duration)
    workflow_tasks.grant(deps, rid)
    return rid


def _make_dead(deps, rid):
    """Final, yet still named in the ledger: what a failed compensation or a crash leaves behind."""
    stuck = deps.store.get(rid)
    deps.store.requests[rid] = stuck.model_copy(update={"status": RequestStatus.ERROR, "version": stuck.version + 1})
    return stuck


def _reconcile_with(deps, at_read, steps):
    """Reconcile with ``steps`` run right after its ``at_read``-th ledger read; did they run?"""
    hooked = InterleavingLedger(deps.ledger, at_read, steps)
    deps.ledger = hooked
    try:
        reconcile(deps)
    finally:
        deps.ledger = hooked.inner
    return hooked.fired


def test_a_grant_joining_after_a_dead_holder_was_read_keeps_its_assignment():
    """A holder left dead in the ledger (its release failed); a new grant joins mid-reconcile."""

    def scenario(at_read):
        deps, ic, _ = _world()
        dead = _granted(deps)
        request = _make_dead(deps, dead)
        assert deps.ledger.holders(request.target) == {dead}
        joiner = _approved(deps)
        if not _reconcile_with(deps, at_read, lambda: workflow_tasks.grant(deps, joiner)):
            return False

        assert deps.store.get(joiner).status is RequestStatus.GRANTED
        assert request.target in ic.assignments, "the reconciler removed a live grant's assignment"
        assert deps.ledger.holders(request.target) == {joiner}
        return True

    every_read(scenario)


def test_a_holder_revoked_and_a_grant_joining_mid_run_keep_the_new_assignment():
    """The issue's run: the holder is revoked between the reconciler's reads, then a new grant joins."""

    def scenario(at_read):
        deps, ic, _ = _world()
        first = _granted(deps)
        target = deps.store.get(first).target
        joiner = _approved(deps)

        def revoke_then_grant():
            requests.revoke_early(deps, ALICE, first, "done")
            workflow_tasks.revoke(deps, first)
            workflow_tasks.grant(deps, joiner)

        if not _reconcile_with(deps, at_read, revoke_then_grant):
            return False

        assert deps.store.get(first).status is RequestStatus.REVOKED
        assert deps.store.get(joiner).status is RequestStatus.GRANTED
        assert target in ic.assignments, "the reconciler removed a live grant's assignment"
        return True

    every_read(scenario)


def test_a_holder_revoked_mid_run_costs_no_identity_center_call():
    """Holders revoked between the reconciler's reads are released by their revoke, not again."""

    def scenario(at_read):
        deps, ic, _ = _world()
        rid = _granted(deps)
        ic.calls.clear()
        revoke = lambda: (requests.revoke_early(deps, ALICE, rid, "done"), workflow_tasks.revoke(deps, rid))  # noqa: E731
        if not _reconcile_with(deps, at_read, revoke):
            return False

        assert deps.store.get(rid).status is RequestStatus.REVOKED
        assert ic.calls == ["delete"], "only the revoke itself deletes the assignment"
        assert not any(a.principal_id == "ic-alice" for a in ic.assignments)
        return True

    every_read(scenario)


def test_a_live_holder_revoked_while_the_reconciler_releases_a_dead_one_leaves_nothing_behind():
    """Both sides see the other still holding; whoever leaves the ledger last deletes."""
    deps, ic, _ = _world()
    dead = _granted(deps)
    live = _granted(deps)
    target = deps.store.get(dead).target
    _make_dead(deps, dead)
    # The reconciler's run reads: all() [0], holders [1], holders [2]; revoke `live` after its last read.
    revoke = lambda: (requests.revoke_early(deps, ALICE, live, "done"), workflow_tasks.revoke(deps, live))  # noqa: E731
    assert _reconcile_with(deps, 2, revoke)

    assert deps.store.get(live).status is RequestStatus.REVOKED
    assert deps.ledger.holders(target) == frozenset()
    assert target not in ic.assignments, "the assignment lingers with nobody holding it"


def test_a_dead_holder_alone_is_still_released():
    deps, ic, clock = _world()
    rid = _granted(deps)
    target = deps.store.get(rid).target
    _make_dead(deps, rid)
    clock.now += timedelta(minutes=5)

    reconcile(deps)

    assert target not in ic.assignments
    assert deps.ledger.holders(target) == frozenset()
