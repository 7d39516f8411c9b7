"""The reconciler against grants and revokes that run between its reads and its writes (issue 15 §1).

Each test puts another process's steps right after the n-th ledger read of a reconcile run, for
every n the run makes, so every window between "read" and "act" is exercised deterministically.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from backend.service import access_requests, workflow_tasks
from backend.service.reconciler import reconcile
from jitwire.contract import CreateRequestBody
from jitwire.models import RequestStatus
from tests.fakes.ports import InterleavingLedger, in_memory_unit_of_work
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
    uow = in_memory_unit_of_work(policy(), ic, clock)
    return uow, ic, clock


def _approved(uow, duration="1h"):
    """alice, prod ReadOnlyAccess, approved by bob; not granted yet."""
    body = CreateRequestBody(
        actor=ALICE,
        account="prod",
        permission_set="ReadOnlyAccess",
        duration=duration,
        reason="overlap",
        idempotency_key=uuid.uuid4().hex,
    )
    request, _ = access_requests.create_request(uow, body)
    if request.status is RequestStatus.PENDING:
        access_requests.approve(uow, BOB, request.request_id, None)
    return request.request_id


def _granted(uow, duration="1h"):
    rid = _approved(uow, duration)
    workflow_tasks.grant(uow, rid)
    return rid


def _make_dead(uow, rid):
    """Final, yet still named in the ledger: what a failed compensation or a crash leaves behind."""
    stuck = uow.store.get(rid)
    uow.store.requests[rid] = stuck.model_copy(update={"status": RequestStatus.ERROR, "version": stuck.version + 1})
    return stuck


def _reconcile_with(uow, at_read, steps):
    """Reconcile with ``steps`` run right after its ``at_read``-th ledger read; did they run?"""
    hooked = InterleavingLedger(uow.ledger, at_read, steps)
    uow.ledger = hooked
    try:
        reconcile(uow)
    finally:
        uow.ledger = hooked.inner
    return hooked.fired


def test_a_grant_joining_after_a_dead_holder_was_read_keeps_its_assignment():
    """A holder left dead in the ledger (its release failed); a new grant joins mid-reconcile."""

    def scenario(at_read):
        uow, ic, _ = _world()
        dead = _granted(uow)
        request = _make_dead(uow, dead)
        assert uow.ledger.holders(request.target) == {dead}
        joiner = _approved(uow)
        if not _reconcile_with(uow, at_read, lambda: workflow_tasks.grant(uow, joiner)):
            return False

        assert uow.store.get(joiner).status is RequestStatus.GRANTED
        assert request.target in ic.assignments, "the reconciler removed a live grant's assignment"
        assert uow.ledger.holders(request.target) == {joiner}
        return True

    every_read(scenario)


def test_a_holder_revoked_and_a_grant_joining_mid_run_keep_the_new_assignment():
    """The issue's run: the holder is revoked between the reconciler's reads, then a new grant joins."""

    def scenario(at_read):
        uow, ic, _ = _world()
        first = _granted(uow)
        target = uow.store.get(first).target
        joiner = _approved(uow)

        def revoke_then_grant():
            access_requests.revoke_early(uow, ALICE, first, "done")
            workflow_tasks.revoke(uow, first)
            workflow_tasks.grant(uow, joiner)

        if not _reconcile_with(uow, at_read, revoke_then_grant):
            return False

        assert uow.store.get(first).status is RequestStatus.REVOKED
        assert uow.store.get(joiner).status is RequestStatus.GRANTED
        assert target in ic.assignments, "the reconciler removed a live grant's assignment"
        return True

    every_read(scenario)


def test_a_holder_revoked_mid_run_costs_no_identity_center_call():
    """Holders revoked between the reconciler's reads are released by their revoke, not again."""

    def scenario(at_read):
        uow, ic, _ = _world()
        rid = _granted(uow)
        ic.calls.clear()
        revoke = lambda: (access_requests.revoke_early(uow, ALICE, rid, "done"), workflow_tasks.revoke(uow, rid))  # noqa: E731
        if not _reconcile_with(uow, at_read, revoke):
            return False

        assert uow.store.get(rid).status is RequestStatus.REVOKED
        assert ic.calls == ["delete"], "only the revoke itself deletes the assignment"
        assert not any(a.principal_id == "ic-alice" for a in ic.assignments)
        return True

    every_read(scenario)


def test_a_live_holder_revoked_while_the_reconciler_releases_a_dead_one_leaves_nothing_behind():
    """Both sides see the other still holding; whoever leaves the ledger last deletes."""
    uow, ic, _ = _world()
    dead = _granted(uow)
    live = _granted(uow)
    target = uow.store.get(dead).target
    _make_dead(uow, dead)
    # The reconciler's run reads: all() [0], holders [1], holders [2]; revoke `live` after its last read.
    revoke = lambda: (access_requests.revoke_early(uow, ALICE, live, "done"), workflow_tasks.revoke(uow, live))  # noqa: E731
    assert _reconcile_with(uow, 2, revoke)

    assert uow.store.get(live).status is RequestStatus.REVOKED
    assert uow.ledger.holders(target) == frozenset()
    assert target not in ic.assignments, "the assignment lingers with nobody holding it"


def test_a_dead_holder_alone_is_still_released():
    uow, ic, clock = _world()
    rid = _granted(uow)
    target = uow.store.get(rid).target
    _make_dead(uow, rid)
    clock.now += timedelta(minutes=5)

    reconcile(uow)

    assert target not in ic.assignments
    assert uow.ledger.holders(target) == frozenset()
