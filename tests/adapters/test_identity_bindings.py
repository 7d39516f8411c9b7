"""Identity bindings in DynamoDB (moto's server): one to one in both directions, atomically."""

from __future__ import annotations

import threading

import pytest

from backend.adapters import tables
from backend.adapters.dynamodb_identities import DynamoIdentityBindings
from backend.domain.errors import BindingExists, BindingNotFound, IdentityTaken
from backend.domain.models import IdentityBinding
from tests.unit.world import T0


def _binding(user: str, principal: str, email: str = "alice@example.com") -> IdentityBinding:
    return IdentityBinding(
        mattermost_user_id=user,
        mattermost_username=user.removeprefix("u-"),
        principal_id=principal,
        email=email,
        bound_at=T0,
        verified_by="sso:saml",
    )


@pytest.fixture
def bindings(stack):
    return DynamoIdentityBindings(stack.clients.dynamodb)


def test_bind_and_read_back(bindings):
    bindings.bind(_binding("u-alice", "ic-alice"))
    assert bindings.get("u-alice") == _binding("u-alice", "ic-alice")
    assert bindings.get("u-nobody") is None
    assert bindings.all() == [_binding("u-alice", "ic-alice")]


def test_a_second_account_cannot_take_a_bound_identity_center_user(stack, bindings):
    bindings.bind(_binding("u-alice", "ic-alice"))
    with pytest.raises(IdentityTaken):
        bindings.bind(_binding("u-mallory", "ic-alice"))
    with pytest.raises(BindingExists):
        bindings.bind(_binding("u-alice", "ic-other"))
    assert bindings.get("u-mallory") is None
    assert stack.clients.dynamodb.scan(TableName=tables.IDENTITIES)["Count"] == 2  # one binding, one claim


def test_concurrent_binds_of_one_principal_leave_exactly_one(bindings):
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def bind(user: str) -> None:
        barrier.wait()
        try:
            bindings.bind(_binding(user, "ic-alice"))
            outcomes.append("bound")
        except IdentityTaken:
            outcomes.append("taken")

    threads = [threading.Thread(target=bind, args=(f"u-{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["bound", "taken", "taken", "taken"]
    assert len(bindings.all()) == 1


def test_rebind_moves_the_claim_and_refuses_a_taken_principal(bindings):
    bindings.bind(_binding("u-alice", "ic-alice"))
    bindings.bind(_binding("u-bob", "ic-bob", "bob@example.com"))
    with pytest.raises(IdentityTaken):
        bindings.rebind(_binding("u-alice", "ic-bob", "bob@example.com"))
    old = bindings.rebind(_binding("u-alice", "ic-alice2", "alice@new.example"))
    assert old == _binding("u-alice", "ic-alice")
    bindings.bind(_binding("u-carol", "ic-alice", "carol@example.com"))  # the old claim was released


def test_remove_releases_both_directions(bindings):
    bindings.bind(_binding("u-alice", "ic-alice"))
    assert bindings.remove("u-alice") == _binding("u-alice", "ic-alice")
    assert bindings.get("u-alice") is None
    bindings.bind(_binding("u-other", "ic-alice"))
    with pytest.raises(BindingNotFound):
        bindings.remove("u-alice")
