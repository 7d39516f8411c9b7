from datetime import timedelta

from backend.domain.assignment import AssignmentTarget
from backend.domain.ledger import needs_restore, plan_release
from backend.domain.reconcile import (
    Drift,
    ExpirePending,
    FailStuckGrant,
    ReconcileInputs,
    ReleaseDeadHolders,
    RemindApprovers,
    RevokeExpired,
    plan_reconcile,
)
from jitwire.models import RequestStatus as S
from tests.unit.world import BOB, T0, pending

TARGET = AssignmentTarget(principal_id="ic-alice", account_id="111111111111", permission_set_arn="ps")
OTHER = AssignmentTarget(principal_id="ic-dave", account_id="111111111111", permission_set_arn="ps")


def test_last_holder_deletes():
    assert plan_release(frozenset({"r1"}), "r1").delete_assignment
    assert plan_release(frozenset(), "r1").delete_assignment


def test_an_earlier_expiry_keeps_a_later_grant():
    assert not plan_release(frozenset({"r1", "r2"}), "r1").delete_assignment


def test_restore_when_someone_joined_during_the_delete():
    assert needs_restore(True, frozenset({"r2"}))
    assert not needs_restore(False, frozenset({"r2"}))
    assert not needs_restore(True, frozenset())


def _inputs(**changes):
    base = {
        "now": T0 + timedelta(hours=3),
        "expired_granted": (),
        "pending": (),
        "approved": (),
        "ledger": {},
        "statuses": {},
        "live_assignments": frozenset(),
        "remove_drift": False,
    }
    base.update(changes)
    return ReconcileInputs(**base)


def test_plan_revokes_granted_past_end_time_after_grace():
    late = pending(request_id="late", status=S.GRANTED, end_time=T0 + timedelta(hours=2))
    just = pending(request_id="just", status=S.GRANTED, end_time=T0 + timedelta(hours=3) - timedelta(seconds=10))
    actions = plan_reconcile(_inputs(expired_granted=(late, just)))
    assert RevokeExpired("late") in actions
    assert RevokeExpired("just") not in actions


def test_plan_expires_pending_past_deadline_only():
    old = pending(request_id="old")
    fresh = pending(request_id="fresh", approval_deadline=T0 + timedelta(hours=5))
    actions = plan_reconcile(_inputs(pending=(old, fresh)))
    assert ExpirePending("old") in actions and ExpirePending("fresh") not in actions


def test_plan_reminds_once_at_half_the_approval_timeout_when_nobody_acted():
    from backend.domain.models import Approval

    idle = pending(request_id="idle")  # created T0, deadline T0 + 1h
    acted = pending(request_id="acted", approvals_required=2, approvals=(Approval(approver=BOB, at=T0),))
    reminded = pending(request_id="reminded", reminded_at=T0 + timedelta(minutes=30))
    everyone = (idle, acted, reminded)
    at = {m: plan_reconcile(_inputs(now=T0 + timedelta(minutes=m), pending=everyone)) for m in (29, 30, 59, 60)}
    assert RemindApprovers("idle") not in at[29]
    assert [a for a in at[30] if isinstance(a, RemindApprovers)] == [RemindApprovers("idle")]
    assert RemindApprovers("idle") in at[59]
    assert not any(isinstance(a, RemindApprovers) for a in at[60])  # past the deadline it expires instead


def test_plan_fails_grants_stuck_in_approved():
    from backend.domain.models import Approval

    stuck = pending(request_id="stuck", status=S.APPROVED, approvals=(Approval(approver=BOB, at=T0),))
    recent = pending(
        request_id="recent", status=S.APPROVED, approvals=(Approval(approver=BOB, at=T0 + timedelta(hours=3)),)
    )
    actions = plan_reconcile(_inputs(approved=(stuck, recent)))
    assert FailStuckGrant("stuck") in actions and FailStuckGrant("recent") not in actions


def test_dead_holders_are_released_and_live_ones_kept():
    actions = plan_reconcile(
        _inputs(
            ledger={TARGET: frozenset({"dead", "live"})},
            statuses={"dead": S.ERROR, "live": S.GRANTED},
            live_assignments=frozenset({TARGET}),
        )
    )
    assert actions == [ReleaseDeadHolders(TARGET, frozenset({"dead"}), frozenset({"live"}))]


def test_drift_is_an_assignment_no_ledger_entry_holds():
    actions = plan_reconcile(_inputs(live_assignments=frozenset({OTHER}), remove_drift=True))
    assert actions == [Drift(OTHER, remove=True)]
