"""People and shortcuts for scenarios on the local stack."""

from __future__ import annotations

import uuid

from jitwire.contract import CreateRequestBody, RequestView
from jitwire.models import Person

ALICE = Person(user_id="mmalice", username="alice", email="alice@example.com", vouched_by="sso:saml")
BOB = Person(user_id="mmbob", username="bob", email="bob@example.com", vouched_by="sso:saml")
CAROL = Person(user_id="mmcarol", username="carol", email="carol@example.com", vouched_by="sso:saml")
DAVE = Person(user_id="mmdave", username="dave", email="dave@example.com", vouched_by="sso:saml")


def ask(
    stack, who=ALICE, account="prod", permission_set="AdministratorAccess", duration="2h", reason="INC-1"
) -> RequestView:
    body = CreateRequestBody(
        actor=who,
        account=account,
        permission_set=permission_set,
        duration=duration,
        reason=reason,
        idempotency_key=uuid.uuid4().hex,
    )
    return stack.client().create_request(body)


def item_count(stack, table: str) -> int:
    return int(stack.clients.dynamodb.scan(TableName=table, Select="COUNT")["Count"])


def assignments_of(stack, request) -> int:
    """How many copies of the request's assignment Identity Center (moto) holds."""
    found = stack.clients.sso_admin.list_account_assignments(
        InstanceArn=stack.provisioned.instance_arn,
        AccountId=request.account_id,
        PermissionSetArn=request.permission_set_arn,
    )["AccountAssignments"]
    return sum(1 for a in found if a["PrincipalId"] == request.principal_id)
