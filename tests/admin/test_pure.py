"""The pure pieces of jit-admin: plans, confirmation, policy canonical form, settings from outputs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.admin.breakglass import NothingToRevoke, Scope, new_journal, plan_steps
from backend.admin.confirm import ConfirmationRefused, confirm
from backend.admin.context import STACK_OUTPUTS, ConfigurationError, operator_person, settings_from_outputs
from backend.admin.policy import policy_diff
from backend.domain.assignment import AssignmentTarget
from backend.domain.policy import Policy
from jitwire.models import RequestStatus

A = AssignmentTarget(principal_id="u1", account_id="111111111111", permission_set_arn="arn:ps/a")
B = AssignmentTarget(principal_id="u1", account_id="222222222222", permission_set_arn="arn:ps/b")


def test_plan_deletes_held_targets_records_every_holder_and_notices_only_unledgered_sweeps():
    targets, records, notices = plan_steps(
        {A: frozenset({"r2", "r1"})}, {"r1": RequestStatus.GRANTED, "r2": None}, [A, B]
    )
    assert [(t.target, t.source, t.holders) for t in targets] == [(A, "ledger", ("r1", "r2")), (B, "sweep", ())]
    assert [(r.request_id, r.status_seen) for r in records] == [("r1", RequestStatus.GRANTED), ("r2", None)]
    assert [n.target for n in notices] == [B]


def test_an_empty_plan_is_refused():
    with pytest.raises(NothingToRevoke):
        new_journal(Scope("all"), "x", operator_person("a@b.c"), datetime(2026, 1, 1, tzinfo=UTC), ((), (), ()))


@pytest.mark.parametrize(
    ("scope", "expected"),
    [(Scope("request", "r-1"), "r-1"), (Scope("user", "alice"), "alice"), (Scope("all"), "REVOKE ALL")],
)
def test_confirmation_text_is_the_scope(scope, expected):
    assert scope.confirmation == expected


def test_confirm_rules():
    confirm("r-1", yes=False, confirm_text=None, prompt=lambda _p: " r-1 ")
    confirm("r-1", yes=True, confirm_text="r-1", prompt=lambda _p: pytest.fail("no prompt with --yes"))
    for yes, text, typed in ((False, None, "R-1"), (True, None, ""), (True, "r-2", ""), (False, "r-1", "r-1")):
        with pytest.raises(ConfirmationRefused):
            confirm("r-1", yes=yes, confirm_text=text, prompt=lambda _p, t=typed: t)

    def eof(_prompt: str) -> str:
        raise EOFError

    with pytest.raises(ConfirmationRefused):
        confirm("r-1", yes=False, confirm_text=None, prompt=eof)


def _policy(**changes: object) -> Policy:
    base: dict[str, object] = {
        "accounts": [{"id": "111111111111", "name": "prod"}],
        "permission_sets": [{"name": "ReadOnlyAccess"}],
        "admins": ["b@x.io", "a@x.io"],
        "rules": [
            {
                "name": "ro",
                "accounts": ["prod"],
                "permission_sets": ["ReadOnlyAccess"],
                "requesters": {"groups": ["G2", "G1"]},
                "approvers": {"users": ["a@x.io"]},
                "max_duration": "1h",
            }
        ],
    }
    return Policy.model_validate(base | changes)


def test_policy_diff_ignores_set_order_and_shows_real_changes():
    assert policy_diff(_policy(), _policy(admins=["a@x.io", "b@x.io"]), "f") == []
    lines = policy_diff(_policy(), _policy(admins=["a@x.io"]), "f")
    assert "-  - b@x.io" in lines  # admins is now {users, groups}
    assert policy_diff(None, _policy(), "f")[0] == "--- applied (jit_config)"


def test_settings_from_outputs_names_missing_outputs():
    outputs = {key: f"value-{key}" for key in STACK_OUTPUTS}
    settings = settings_from_outputs(outputs, "eu-central-1")
    assert settings.state_machine_arn == "value-StateMachineArn"
    with pytest.raises(ConfigurationError, match="IdentityStoreId"):
        settings_from_outputs({k: v for k, v in outputs.items() if k != "IdentityStoreId"}, "eu-central-1")


def test_operator_must_be_an_email():
    assert operator_person("oncall@example.com").username == "oncall"
    with pytest.raises(ConfigurationError):
        operator_person("oncall")
