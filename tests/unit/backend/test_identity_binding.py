"""Authority comes from the stored Mattermost → Identity Center binding, never from e-mail text."""

from __future__ import annotations

import threading

import pytest

from backend.domain.errors import (
    IdentityMismatch,
    IdentityNotVouched,
    IdentityTaken,
    InvalidRequest,
    NotAuthorized,
    PrincipalNotFound,
)
from backend.domain.models import Identity
from backend.domain.policy import Policy
from backend.service import access_requests as use_cases
from backend.service.identity import identify
from backend.service.policy_apply import resolve_users
from jitwire.contract import CreateRequestBody
from jitwire.models import Person, RequestStatus
from tests.fakes.ports import in_memory_unit_of_work
from tests.unit.world import ALICE, BOB, CAROL, DAVE, SSO, T0, identity_center, policy

# A second Mattermost account that typed the admin's address (open sign-up, no verification).
MALLORY_AS_DAVE = Person(user_id="u-mallory", username="mallory", email="dave@example.com")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture
def uow():
    return in_memory_unit_of_work(policy(), identity_center(), Clock())


def _ask(uow, actor, account="prod", permission_set="AdministratorAccess"):
    body = CreateRequestBody(actor=actor, account=account, permission_set=permission_set, duration="1h", reason="INC-1")
    request, _ = use_cases.create_request(uow, body)
    return request


def test_first_action_binds_the_account_with_how_it_was_vouched(uow):
    use_cases.catalog(uow, ALICE)
    binding = uow.identities.get("ualice")
    assert (binding.principal_id, binding.email, binding.verified_by, binding.bound_at) == (
        "ic-alice",
        "alice@example.com",
        SSO,
        T0,
    )


def test_a_second_account_with_the_admins_email_is_not_the_admin(uow):
    """Before: Person(user_id="u-mallory", email="dave@example.com") was an admin."""
    assert use_cases.catalog(uow, DAVE)[1]  # dave, bound first, is the admin
    for actor in (MALLORY_AS_DAVE, MALLORY_AS_DAVE.model_copy(update={"vouched_by": SSO})):
        with pytest.raises((IdentityNotVouched, IdentityTaken)):
            use_cases.list_requests(uow, actor, "status", RequestStatus.PENDING, 10)
        with pytest.raises((IdentityNotVouched, IdentityTaken)):
            use_cases.catalog(uow, actor)
    assert uow.identities.get("u-mallory") is None
    assert uow.identities.get("udave").principal_id == "ic-dave"


def test_an_unvouched_account_is_refused_and_nothing_is_written(uow):
    with pytest.raises(IdentityNotVouched, match="cannot vouch for your Mattermost e-mail"):
        _ask(uow, MALLORY_AS_DAVE)
    assert uow.identities.all() == []
    assert uow.store.requests == {}


def test_an_email_change_moves_no_authority_and_is_refused(uow, caplog):
    _ask(uow, ALICE)  # alice is bound to ic-alice
    moved = ALICE.model_copy(update={"email": "dave@example.com"})
    with pytest.raises(IdentityMismatch, match="not the one your account was linked with"):
        use_cases.list_requests(uow, moved, "status", RequestStatus.PENDING, 10)
    assert uow.identities.get("ualice").principal_id == "ic-alice"
    assert "SECURITY identity mismatch" in caplog.text


def test_two_accounts_never_bind_the_same_identity_center_user(uow):
    twin = Person(user_id="u-twin", username="twin", email="ALICE@example.com", vouched_by=SSO)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def act(person):
        barrier.wait()
        try:
            identify(uow, person)
            outcomes.append("bound")
        except IdentityTaken:
            outcomes.append("taken")

    threads = [threading.Thread(target=act, args=(p,)) for p in (ALICE, twin)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["bound", "taken"]
    assert [b.principal_id for b in uow.identities.all()] == ["ic-alice"]


def test_self_approval_through_a_second_account_is_impossible(uow):
    request = _ask(uow, ALICE)
    second = Person(user_id="u-alice2", username="alice2", email="alice@example.com", vouched_by=SSO)
    with pytest.raises(IdentityTaken):
        use_cases.approve(uow, second, request.request_id, None)
    assert use_cases.approve(uow, BOB, request.request_id, None).approvals[0].principal_id == "ic-bob"


def test_policy_decides_by_identity_center_id_not_by_the_name_written():
    applied = policy()
    assert applied.user_ids["dave@example.com"] == "ic-dave"
    dave_email = Person(user_id="udave", username="dave", email="dave@example.com")
    assert applied.is_admin(Identity(person=dave_email, principal_id="ic-dave"))
    assert not applied.is_admin(Identity(person=dave_email, principal_id="ic-someone-else"))


def test_a_policy_naming_an_unknown_email_is_rejected_at_apply_time():
    document = policy().model_dump(mode="json")
    document["admins"] = {"users": ["dave@example.com", "ghost@example.com"], "groups": []}
    with pytest.raises(InvalidRequest, match=r"does not know: ghost@example\.com"):
        resolve_users(Policy.model_validate(document), identity_center())


def test_admins_may_be_an_identity_center_group(uow):
    document = policy().model_dump(mode="json")
    document["admins"] = {"groups": ["Approvers"]}
    uow.policies.policy = resolve_users(Policy.model_validate(document), identity_center())
    assert use_cases.catalog(uow, BOB)[1]
    assert not use_cases.catalog(uow, DAVE)[1]


def test_someone_without_an_identity_center_user_is_told_so(uow):
    stranger = Person(user_id="u-x", username="x", email="x@example.com", vouched_by=SSO)
    with pytest.raises(PrincipalNotFound, match=r"no Identity Center user has the e-mail x@example\.com"):
        use_cases.catalog(uow, stranger)
    assert uow.identities.all() == []


def test_a_bound_account_keeps_working_when_the_bot_stops_vouching(uow):
    _ask(uow, ALICE)
    unvouched = ALICE.model_copy(update={"vouched_by": None})
    assert use_cases.list_requests(uow, unvouched, "mine", None, 10)


def test_an_approver_named_by_email_who_is_not_yet_bound_still_cannot_be_borrowed(uow):
    """bob@example.com approves prod-admin; an account that typed bob's address first gets bob's id…
    only if the bot vouched for it. Without vouching it gets nothing, and bob can still bind."""
    request = _ask(uow, ALICE)
    fake_bob = Person(user_id="u-fake-bob", username="fakebob", email="bob@example.com")
    with pytest.raises(NotAuthorized):
        use_cases.approve(uow, fake_bob, request.request_id, None)
    assert use_cases.approve(uow, BOB, request.request_id, None).status is RequestStatus.APPROVED
    assert uow.store.get(request.request_id).approvals[0].approver.user_id == "ubob"


def test_a_request_records_the_bound_eligible_approvers_and_its_rules_notify_mode(uow):
    """bob (named) and carol (group Approvers) are bound approvers; dave is bound but approves
    nothing; the requester is never among them; an approver who never acted has no binding."""
    rules = tuple(
        r.model_copy(update={"notify_approvers": "dm"}) if r.name == "readonly" else r
        for r in uow.policies.current().rules
    )
    uow.policies.put(uow.policies.current().model_copy(update={"rules": rules}), DAVE, T0)
    for person in (BOB, CAROL, DAVE):
        use_cases.catalog(uow, person)  # binds
    admin = _ask(uow, ALICE)  # prod-admin: approvers bob and carol by name
    readonly = _ask(uow, DAVE, permission_set="ReadOnlyAccess")  # readonly: the group Approvers
    assert (admin.approver_user_ids, admin.notify_approvers) == (("ubob", "ucarol"), "channel")
    assert (readonly.approver_user_ids, readonly.notify_approvers) == (("ubob", "ucarol"), "dm")
    uow.identities.remove("ucarol")
    assert _ask(uow, ALICE, permission_set="PowerUserAccess").approver_user_ids == ("ubob",)


def test_a_requester_reads_their_own_request_without_a_group_lookup(uow):
    request = _ask(uow, ALICE)
    uow.directory.group_lookups.clear()
    assert use_cases.get_request(uow, ALICE, request.request_id).request_id == request.request_id
    assert uow.directory.group_lookups == []  # a cold container's first GET makes no Identity Center call


def test_anyone_else_reading_a_request_is_judged_with_their_groups(uow):
    request = _ask(uow, ALICE)
    uow.directory.group_lookups.clear()
    assert use_cases.get_request(uow, BOB, request.request_id).request_id == request.request_id  # an approver
    assert uow.directory.group_lookups == ["ic-bob"]
    daves = _ask(uow, DAVE)
    with pytest.raises(NotAuthorized):
        use_cases.get_request(uow, ALICE, daves.request_id)  # neither requester, approver nor admin
