"""jit-admin identities: list, rebind (typed confirmation) and remove, against the local stack."""

from __future__ import annotations

from jitwire.models import RequestStatus
from tests.admin.conftest import ALICE, OPERATOR, granted


def test_list_shows_each_binding_made_on_first_use(stack, admin):
    granted(stack, account="prod")  # alice asked, bob approved: both are bound
    result = admin("identities", "list")
    assert result.code == 0, result.output
    assert "alice@example.com" in result.output and "bob@example.com" in result.output
    assert stack.provisioned.user_ids["alice"] in result.output
    assert "2 binding(s)" in result.output


def test_rebind_after_a_genuine_email_change_needs_the_typed_user_id(stack, admin):
    granted(stack)
    moved = ALICE.model_copy(update={"email": "carol@example.com"})  # say alice's account now shows carol's address
    refused = admin("identities", "rebind", ALICE.user_id, "carol@example.com", answers=["yes"])
    assert refused.code == 1 and "did not match" in refused.output
    assert stack.uow.identities.get(ALICE.user_id).email == "alice@example.com"

    done = admin("identities", "rebind", ALICE.user_id, "carol@example.com", answers=[ALICE.user_id])
    assert done.code == 0, done.output
    binding = stack.uow.identities.get(ALICE.user_id)
    assert (binding.principal_id, binding.email) == (stack.provisioned.user_ids["carol"], "carol@example.com")
    assert binding.verified_by == f"admin:{OPERATOR}"
    assert stack.client().list_requests(moved, "mine").requests  # the moved account acts again


def test_rebind_to_an_identity_center_user_bound_elsewhere_is_refused(stack, admin):
    granted(stack, account="prod")  # bob approved: he is bound too
    result = admin("identities", "rebind", ALICE.user_id, "bob@example.com", "--yes", "--confirm", ALICE.user_id)
    assert result.code == 1 and "IdentityTaken" in result.output
    assert stack.uow.identities.get(ALICE.user_id).email == "alice@example.com"


def test_remove_then_the_account_binds_afresh(stack, admin):
    request = granted(stack)
    unknown = admin("identities", "remove", "nobody", "--yes", "--confirm", "nobody")
    assert unknown.code == 1 and "no binding" in unknown.output
    done = admin("identities", "remove", ALICE.user_id, answers=[ALICE.user_id])
    assert done.code == 0, done.output
    assert stack.uow.identities.get(ALICE.user_id) is None
    assert stack.client().get_request(ALICE, request.request_id).status is RequestStatus.GRANTED
    assert stack.uow.identities.get(ALICE.user_id).principal_id == stack.provisioned.user_ids["alice"]
