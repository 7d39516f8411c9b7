from datetime import timedelta

import pytest

from backend.domain import lifecycle
from backend.domain.errors import InvalidTransition, NotAuthorized, RequestExpired, RevokeAlreadyRequested
from backend.domain.lifecycle import TRANSITIONS, Role, check_transition
from jitwire.models import RequestStatus as S
from tests.unit.world import ALICE, BOB, CAROL, T0, pending


def test_the_table_is_the_design_table():
    assert set(TRANSITIONS) == {
        (S.PENDING, S.APPROVED),
        (S.PENDING, S.DENIED),
        (S.PENDING, S.CANCELLED),
        (S.PENDING, S.EXPIRED),
        (S.APPROVED, S.GRANTED),
        (S.APPROVED, S.ERROR),
        (S.GRANTED, S.REVOKED),
    }


@pytest.mark.parametrize("final", [S.REVOKED, S.DENIED, S.CANCELLED, S.EXPIRED, S.ERROR])
@pytest.mark.parametrize("target", list(S))
def test_final_statuses_never_move(final, target):
    with pytest.raises(InvalidTransition):
        check_transition(final, target, Role.SYSTEM)


def test_only_the_system_grants_and_revokes():
    with pytest.raises(NotAuthorized):
        check_transition(S.APPROVED, S.GRANTED, Role.ADMIN)
    with pytest.raises(NotAuthorized):
        check_transition(S.GRANTED, S.REVOKED, Role.REQUESTER)
    with pytest.raises(NotAuthorized):
        check_transition(S.PENDING, S.CANCELLED, Role.APPROVER)


def test_one_approval_reaches_quorum_and_bumps_version():
    after = lifecycle.record_approval(pending(), BOB, T0)
    assert after.status is S.APPROVED
    assert after.version == 2
    assert after.decided_by == BOB


def test_two_approvals_needed_tally_first():
    request = pending(approvals_required=2)
    once = lifecycle.record_approval(request, BOB, T0)
    assert once.status is S.PENDING and len(once.approvals) == 1
    with pytest.raises(InvalidTransition, match="already approved"):
        lifecycle.record_approval(once, BOB, T0)
    twice = lifecycle.record_approval(once, CAROL, T0)
    assert twice.status is S.APPROVED and twice.version == 3


def test_self_approval_is_refused():
    with pytest.raises(NotAuthorized, match="own request"):
        lifecycle.record_approval(pending(), ALICE, T0)


def test_approval_after_the_deadline_is_expired():
    with pytest.raises(RequestExpired):
        lifecycle.record_approval(pending(), BOB, T0 + timedelta(hours=1))


def test_grant_starts_the_clock_at_grant_time():
    approved = lifecycle.record_approval(pending(), BOB, T0)
    granted = lifecycle.grant(approved, T0 + timedelta(minutes=5), timedelta(minutes=10))
    assert granted.start_time == T0 + timedelta(minutes=5)
    assert granted.end_time == T0 + timedelta(hours=2, minutes=5)
    assert granted.warn_at == granted.end_time - timedelta(minutes=10)


def test_warning_is_never_before_the_grant_for_short_grants():
    approved = lifecycle.record_approval(pending(duration=timedelta(minutes=5)), BOB, T0)
    granted = lifecycle.grant(approved, T0, timedelta(minutes=10))
    assert granted.warn_at == T0


def test_extend_within_max_duration_moves_end_time():
    granted = lifecycle.grant(lifecycle.record_approval(pending(), BOB, T0), T0, timedelta(minutes=10))
    extended = lifecycle.extend(granted, timedelta(hours=1), timedelta(hours=4), timedelta(minutes=10))
    assert extended.end_time == T0 + timedelta(hours=3)
    assert extended.status is S.GRANTED


def test_extend_beyond_max_duration_is_refused():
    granted = lifecycle.grant(lifecycle.record_approval(pending(), BOB, T0), T0, timedelta(minutes=10))
    with pytest.raises(NotAuthorized, match="at most 4h"):
        lifecycle.extend(granted, timedelta(hours=3), timedelta(hours=4), timedelta(minutes=10))


def test_extend_after_an_early_revoke_is_refused_until_the_revoke_runs():
    granted = lifecycle.grant(lifecycle.record_approval(pending(), BOB, T0), T0, timedelta(minutes=10))
    ending = lifecycle.request_early_end(granted, T0 + timedelta(minutes=5))
    assert (ending.status, ending.revoke_requested_at, ending.end_time) == (
        S.GRANTED,
        T0 + timedelta(minutes=5),
        T0 + timedelta(minutes=5),
    )
    with pytest.raises(RevokeAlreadyRequested, match="cannot be extended") as refused:
        lifecycle.extend(ending, timedelta(minutes=30), timedelta(hours=4), timedelta(minutes=10))
    assert refused.value.status_code == 409


def test_an_approval_from_the_requesters_identity_center_user_does_not_count():
    other_account = BOB  # a different Mattermost account...
    with pytest.raises(NotAuthorized, match="your own request"):
        lifecycle.record_approval(pending(), other_account, T0, principal_id="ic-alice")  # ...bound to alice's user
    once = lifecycle.record_approval(pending(approvals_required=2), BOB, T0, principal_id="ic-bob")
    with pytest.raises(InvalidTransition, match="already approved"):
        lifecycle.record_approval(once, CAROL, T0, principal_id="ic-bob")


def test_cancel_only_by_requester():
    with pytest.raises(NotAuthorized):
        lifecycle.cancel(pending(), BOB)
    assert lifecycle.cancel(pending(), ALICE).status is S.CANCELLED


def test_expire_needs_the_window_to_be_over():
    with pytest.raises(InvalidTransition):
        lifecycle.expire(pending(), T0)
    assert lifecycle.expire(pending(), T0 + timedelta(hours=1)).status is S.EXPIRED


def test_early_end_only_for_granted():
    with pytest.raises(InvalidTransition):
        lifecycle.request_early_end(pending(), T0)


def test_revoke_failure_keeps_granted():
    granted = lifecycle.grant(lifecycle.record_approval(pending(), BOB, T0), T0, timedelta(minutes=10))
    failed = lifecycle.record_revoke_failure(granted, "ThrottlingException")
    assert failed.status is S.GRANTED
    assert failed.revoke_failures == 1
