"""A small world for pure tests: people, a policy and an Identity Center that knows them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from backend.domain.models import AccessRequest, Identity
from backend.domain.policy import Policy
from backend.service.policy_apply import resolve_users
from jitwire.models import Person, RequestStatus
from tests.fakes.ports import FakeIdentityCenter

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)

SSO = "sso:saml"  # how the bot vouched for these e-mails
ALICE = Person(user_id="ualice", username="alice", email="alice@example.com", vouched_by=SSO)
BOB = Person(user_id="ubob", username="bob", email="bob@example.com", vouched_by=SSO)
CAROL = Person(user_id="ucarol", username="carol", email="carol@example.com", vouched_by=SSO)
DAVE = Person(user_id="udave", username="dave", email="dave@example.com", vouched_by=SSO)
MALLORY = Person(user_id="umallory", username="mallory", email="mallory@example.com", vouched_by=SSO)
PEOPLE = (ALICE, BOB, CAROL, DAVE, MALLORY)

PS_ARNS = {
    "AdministratorAccess": "arn:aws:sso:::permissionSet/ssoins-1/ps-admin",
    "PowerUserAccess": "arn:aws:sso:::permissionSet/ssoins-1/ps-power",
    "ReadOnlyAccess": "arn:aws:sso:::permissionSet/ssoins-1/ps-ro",
}


def policy() -> Policy:
    """config/policy.yaml as applied: every user it names resolved in ``identity_center()``."""
    document = Policy.model_validate(yaml.safe_load((ROOT / "config" / "policy.yaml").read_text()))
    return resolve_users(document, identity_center())


def who(person: Person, groups: frozenset[str] = frozenset()) -> Identity:
    """``person`` as bound to their Identity Center user ``ic-<username>``."""
    return Identity(person=person, principal_id=f"ic-{person.username}", groups=groups)


def identity_center() -> FakeIdentityCenter:
    users = {p.email: f"ic-{p.username}" for p in (ALICE, BOB, CAROL, DAVE)}
    groups = {
        "ic-alice": frozenset({"Engineers"}),
        "ic-bob": frozenset({"Approvers"}),
        "ic-carol": frozenset({"Approvers"}),
        "ic-dave": frozenset({"Engineers"}),
    }
    return FakeIdentityCenter(users=users, groups=groups, permission_sets=dict(PS_ARNS))


def pending(**changes: object) -> AccessRequest:
    base = AccessRequest(
        request_id="r1",
        requester=ALICE,
        principal_id="ic-alice",
        account_id="111111111111",
        account_name="prod",
        permission_set_name="AdministratorAccess",
        permission_set_arn=PS_ARNS["AdministratorAccess"],
        duration=timedelta(hours=2),
        reason="INC-1",
        rule_name="prod-admin",
        approvals_required=1,
        status=RequestStatus.PENDING,
        version=1,
        created_at=T0,
        approval_deadline=T0 + timedelta(hours=1),
    )
    return base.model_copy(update=changes)
