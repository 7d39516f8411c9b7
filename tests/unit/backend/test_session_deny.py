"""The session-ending Deny statement (pure): its conditions evaluated against sample sessions, and
the splice that must leave every statement we did not write byte-identical."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from backend.domain.session_deny import (
    ROLE_INLINE_POLICY_LIMIT,
    SID_PREFIX,
    NotAPolicy,
    PolicyTooLarge,
    SessionDeny,
    merge_deny,
    parse_session_duration,
    policy_size,
    project_denies,
    remove_denies,
)

T = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
USER = "906752c1c7-5b7e0e4c-aaaa-bbbb-cccc-000000000001"
OTHER_USER = "906752c1c7-5b7e0e4c-aaaa-bbbb-cccc-000000000002"
ACCOUNT = "111111111111"
OTHER_ACCOUNT = "222222222222"


# -- a tiny evaluator for exactly the condition operators we write ---------------------------------


def _iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


OPERATORS = {
    # IAM: StringEquals is exact and case-sensitive; a key missing from the context does not match.
    "StringEquals": lambda actual, expected: actual is not None and actual == expected,
    # IAM: DateLessThan compares instants; a missing key does not match.
    "DateLessThan": lambda actual, expected: actual is not None and _iso(actual) < _iso(expected),
}


def denies(statement: dict, context: dict[str, str]) -> bool:
    """IAM's rule for one statement: every operator block, every key in it, must match (AND)."""
    assert statement["Effect"] == "Deny" and statement["Action"] == "*" and statement["Resource"] == "*"
    for operator, block in statement["Condition"].items():
        check = OPERATORS[operator]  # an operator we did not pin here fails the test
        for key, expected in block.items():
            assert isinstance(expected, str), "single values only: IAM ORs lists, which we never write"
            if not check(context.get(key), expected):
                return False
    return True


def session(user=USER, account=ACCOUNT, issued=T - timedelta(minutes=5)) -> dict[str, str]:
    return {
        "identitystore:userId": user,
        "aws:PrincipalAccount": account,
        "aws:TokenIssueTime": issued.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


NARROW = SessionDeny(account_id=ACCOUNT, issued_before=T, user_id=USER).statement()
WIDE = SessionDeny(account_id=ACCOUNT, issued_before=T).statement()


@pytest.mark.parametrize(
    ("context", "denied"),
    [
        (session(), True),
        (session(issued=T - timedelta(hours=11, minutes=59)), True),
        (session(issued=T - timedelta(seconds=1)), True),
        (session(issued=T), False),  # issued at the revoke instant: a new sign-in, not a live session
        (session(issued=T + timedelta(minutes=1)), False),
        (session(user=OTHER_USER), False),
        (session(account=OTHER_ACCOUNT), False),
        ({k: v for k, v in session().items() if k != "identitystore:userId"}, False),  # not an IC session
    ],
    ids=["before", "long-before", "second-before", "at-T", "after", "other-user", "other-account", "no-user-key"],
)
def test_narrow_statement_denies_exactly_the_users_older_sessions_in_the_account(context, denied):
    assert denies(NARROW, context) is denied


@pytest.mark.parametrize(
    ("context", "denied"),
    [
        (session(), True),
        (session(user=OTHER_USER), True),  # the documented price of the fallback
        (session(issued=T + timedelta(minutes=1)), False),
        (session(account=OTHER_ACCOUNT), False),
    ],
    ids=["before", "other-user-before", "after", "other-account"],
)
def test_wide_statement_denies_every_older_session_in_the_account_only(context, denied):
    assert denies(WIDE, context) is denied


def test_statement_shape_uses_the_identity_store_user_id_and_a_recognisable_sid():
    assert NARROW["Sid"].startswith(SID_PREFIX) and NARROW["Sid"].isalnum()
    assert NARROW["Condition"] == {
        "StringEquals": {"identitystore:userId": USER, "aws:PrincipalAccount": ACCOUNT},
        "DateLessThan": {"aws:TokenIssueTime": "2026-12-02T12:00:00Z"},
    }
    assert "identitystore:userId" not in WIDE["Condition"]["StringEquals"]


# -- splicing ------------------------------------------------------------------------------------

FOREIGN_A = '{ "Sid" : "AllowS3",\n    "Effect": "Allow", "Action": ["s3:Get*"], "Resource": "*" }'
FOREIGN_B = '{"Effect":"Deny","Action":"iam:*","Resource":"*"}'
DOCUMENT = '{\n  "Version": "2012-10-17",\n  "Statement": [\n    ' + FOREIGN_A + ",\n    " + FOREIGN_B + "\n  ]\n}\n"


def test_merge_leaves_foreign_statements_byte_identical_and_removal_restores_the_document():
    deny = SessionDeny(ACCOUNT, T, USER)
    merged = merge_deny(DOCUMENT, deny)
    assert merged.changed and not merged.wide
    assert FOREIGN_A in merged.text and FOREIGN_B in merged.text
    assert json.loads(merged.text)["Statement"][-1] == deny.statement()
    assert project_denies(merged.text) == [deny]
    assert remove_denies(merged.text, {deny}) == DOCUMENT


def test_merge_into_an_empty_policy_creates_one_and_removal_deletes_it():
    deny = SessionDeny(ACCOUNT, T, USER)
    merged = merge_deny("", deny)
    assert json.loads(merged.text) == {"Version": "2012-10-17", "Statement": [deny.statement()]}
    assert remove_denies(merged.text, {deny}) == ""


def test_single_object_statement_is_kept_verbatim_inside_a_new_array():
    document = '{"Version":"2012-10-17","Statement":' + FOREIGN_A + "}"
    merged = merge_deny(document, SessionDeny(ACCOUNT, T, USER))
    assert FOREIGN_A in merged.text
    assert len(json.loads(merged.text)["Statement"]) == 2


def test_a_covering_statement_means_no_change_and_a_newer_one_supersedes_older_ones():
    older = SessionDeny(ACCOUNT, T, USER)
    newer = SessionDeny(ACCOUNT, T + timedelta(minutes=10), USER)
    first = merge_deny(DOCUMENT, newer).text
    again = merge_deny(first, older)
    assert not again.changed and again.applied == newer
    replaced = merge_deny(merge_deny(DOCUMENT, older).text, newer)
    assert project_denies(replaced.text) == [newer]
    other_account = merge_deny(first, SessionDeny(OTHER_ACCOUNT, T, USER))
    assert len(project_denies(other_account.text)) == 2


def test_overflow_falls_back_to_the_wide_statement_which_replaces_narrow_ones_of_the_account():
    padding = '{"Sid":"Big","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::' + "x" * 9_600 + '"}'
    document = '{"Version":"2012-10-17","Statement":[' + padding + "]}"
    first = merge_deny(document, SessionDeny(ACCOUNT, T, USER))
    assert not first.wide
    second = merge_deny(first.text, SessionDeny(ACCOUNT, T + timedelta(minutes=1), OTHER_USER))
    assert second.wide
    assert project_denies(second.text) == [SessionDeny(ACCOUNT, T + timedelta(minutes=1))]
    assert padding in second.text
    assert policy_size(second.text) <= ROLE_INLINE_POLICY_LIMIT


def test_no_room_even_for_the_wide_statement_raises():
    padding = '{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::' + "x" * 10_150 + '"}'
    with pytest.raises(PolicyTooLarge):
        merge_deny('{"Version":"2012-10-17","Statement":[' + padding + "]}", SessionDeny(ACCOUNT, T, USER))


def test_size_does_not_count_whitespace():
    assert policy_size('{ "a" :\n\t"b" }') == len('{"a":"b"}')


def test_statements_edited_by_others_are_not_read_as_ours_and_invalid_json_is_refused():
    edited = {"Sid": SID_PREFIX + "Broken", "Effect": "Deny", "Action": "*", "Resource": "*"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [edited]})
    assert project_denies(document) == []
    with pytest.raises(NotAPolicy):
        project_denies('{"Version": "2012-10-17", "Statement": [')
    with pytest.raises(NotAPolicy):
        project_denies('{"Version": "2012-10-17"}')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, timedelta(hours=1)),
        ("PT1H", timedelta(hours=1)),
        ("PT12H", timedelta(hours=12)),
        ("PT1H30M", timedelta(minutes=90)),
    ],
)
def test_session_duration_parses_identity_center_values(text, expected):
    assert parse_session_duration(text) == expected


def test_expiry_is_t_plus_the_session_duration():
    assert SessionDeny(ACCOUNT, T, USER).expires_at(timedelta(hours=12)) == T + timedelta(hours=12)


def test_validate_warning_names_rules_whose_sessions_outlive_their_grants():
    from backend.domain.policy import Policy
    from backend.domain.session_deny import sessions_outlive_grants

    policy = Policy.model_validate(
        {
            "accounts": [{"id": ACCOUNT, "name": "prod"}],
            "permission_sets": [{"name": "Admin"}, {"name": "ReadOnly"}],
            "rules": [
                {
                    "name": "short",
                    "accounts": ["prod"],
                    "permission_sets": ["Admin", "ReadOnly"],
                    "requesters": {"users": ["a@x.io"]},
                    "max_duration": "1h",
                    "auto_approve": True,
                },
                {
                    "name": "ends",
                    "accounts": ["prod"],
                    "permission_sets": ["Admin"],
                    "requesters": {"users": ["a@x.io"]},
                    "max_duration": "1h",
                    "auto_approve": True,
                    "end_sessions": True,
                },
            ],
        }
    )
    warnings = sessions_outlive_grants(policy, {"Admin": timedelta(hours=12), "ReadOnly": timedelta(hours=1)})
    assert len(warnings) == 1
    assert warnings[0].startswith("rule 'short': Admin sessions last 12h, longer than the rule's max_duration 1h")
