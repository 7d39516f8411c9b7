from datetime import timedelta

import pytest
from pydantic import ValidationError

from backend.domain.errors import InvalidRequest, NotAuthorized
from backend.domain.policy import Policy, decide_can_approve, decide_catalog, decide_eligibility, may_end_early
from tests.unit.world import ALICE, BOB, CAROL, DAVE, MALLORY, pending, policy, who

ENGINEERS = frozenset({"Engineers"})
APPROVERS = frozenset({"Approvers"})


def test_eligible_by_group():
    rule = decide_eligibility(policy(), who(ALICE, ENGINEERS), "prod", "AdministratorAccess", timedelta(hours=2))
    assert rule.name == "prod-admin"


def test_account_by_id_and_permission_set_case_insensitively():
    rule = decide_eligibility(
        policy(), who(ALICE, ENGINEERS), "111111111111", "administratoraccess", timedelta(hours=1)
    )
    assert rule.name == "prod-admin"


def test_not_eligible_without_group():
    with pytest.raises(NotAuthorized, match="not eligible"):
        decide_eligibility(policy(), who(MALLORY, frozenset()), "prod", "AdministratorAccess", timedelta(hours=1))


def test_duration_over_the_maximum_names_the_maximum():
    with pytest.raises(InvalidRequest, match="at most 4h; you asked for 5h"):
        decide_eligibility(policy(), who(ALICE, ENGINEERS), "prod", "AdministratorAccess", timedelta(hours=5))


def test_unknown_account_lists_the_known_ones():
    with pytest.raises(InvalidRequest, match="known accounts: prod, staging"):
        decide_eligibility(policy(), who(ALICE, ENGINEERS), "dev", "AdministratorAccess", timedelta(hours=1))


def test_auto_approval_rule_is_preferred():
    rule = decide_eligibility(policy(), who(ALICE, ENGINEERS), "staging", "AdministratorAccess", timedelta(hours=1))
    assert rule.auto_approve


def test_approvers_by_user_and_by_group():
    decide_can_approve(policy(), pending(), who(BOB, frozenset()))
    ro = pending(rule_name="readonly", permission_set_name="ReadOnlyAccess")
    decide_can_approve(policy(), ro, who(CAROL, APPROVERS))
    with pytest.raises(NotAuthorized, match="not an approver"):
        decide_can_approve(policy(), ro, who(CAROL, frozenset()))


def test_self_approval_never_counts_even_for_an_approver():
    own = pending(requester=BOB)
    with pytest.raises(NotAuthorized, match="your own request"):
        decide_can_approve(policy(), own, who(BOB, APPROVERS))


def test_catalog_lists_only_what_the_person_may_request():
    entries = decide_catalog(policy(), who(ALICE, ENGINEERS))
    assert {(e.account.name, e.permission_set) for e in entries} == {
        ("prod", "AdministratorAccess"),
        ("prod", "PowerUserAccess"),
        ("prod", "ReadOnlyAccess"),
        ("staging", "ReadOnlyAccess"),
        ("staging", "AdministratorAccess"),
    }
    assert decide_catalog(policy(), who(MALLORY, frozenset())) == []


def test_early_revoke_by_requester_approver_or_admin():
    request = pending()
    assert may_end_early(policy(), request, who(ALICE, ENGINEERS))
    assert may_end_early(policy(), request, who(BOB, APPROVERS))
    assert may_end_early(policy(), request, who(DAVE, ENGINEERS))  # admin
    assert not may_end_early(policy(), request, who(MALLORY, frozenset()))


def test_policy_references_must_resolve():
    document = policy().model_dump(mode="json")
    document["rules"][0]["accounts"] = ["nowhere"]
    with pytest.raises(ValidationError, match="unknown accounts"):
        Policy.model_validate(document)


def test_rule_without_approvers_must_auto_approve():
    document = policy().model_dump(mode="json")
    document["rules"][0]["approvers"] = {"users": [], "groups": []}
    with pytest.raises(ValidationError, match="needs approvers"):
        Policy.model_validate(document)


def test_policy_round_trips_through_json():
    assert Policy.model_validate_json(policy().model_dump_json()) == policy()


def test_grants_longer_than_the_workflow_timeout_are_refused():
    document = policy().model_dump(mode="json")
    document["rules"][0]["max_duration"] = "8d"
    with pytest.raises(ValidationError, match="at most 7d"):
        Policy.model_validate(document)


def test_notify_approvers_defaults_to_channel_and_takes_only_its_three_values():
    document = policy().model_dump(mode="json")
    assert {r["notify_approvers"] for r in document["rules"]} == {"channel"}
    document["rules"][0]["notify_approvers"] = "both"
    assert Policy.model_validate(document).rules[0].notify_approvers == "both"
    document["rules"][0]["notify_approvers"] = "sms"
    with pytest.raises(ValidationError, match="'channel', 'dm' or 'both'"):
        Policy.model_validate(document)
