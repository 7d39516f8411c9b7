"""Permission-set provisioning in moto, as Identity Center documents it (moto 5 lacks it).

moto's ``ProvisionPermissionSet`` ignores ``TargetType``/``TargetId`` (it marks the permission set
provisioned to the caller's account), always answers ``SUCCEEDED``, keeps no request, and has no
``DescribePermissionSetProvisioningStatus``. Ending live sessions depends on exactly these, so this
seam adds them:

- ``ProvisionPermissionSet`` validates its target, snapshots the permission set's inline policy into
  each target account (what the ``AWSReservedSSO_*`` role there would now hold), and answers
  ``IN_PROGRESS`` with a request id, as AWS does;
- ``DescribePermissionSetProvisioningStatus`` answers ``SUCCEEDED`` for a known request id and
  ``ResourceNotFoundException`` otherwise;
- ``ListAccountsForProvisionedPermissionSet`` lists the accounts actually provisioned.

State lives on moto's backend object, so ``/moto-api/reset`` forgets it with everything else.
:func:`provisioned_inline_policy` lets tests read what an account received.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

_STATE_ATTRIBUTE = "_jit_provisioning"


@dataclass
class _Provisioning:
    # (permission set ARN, account id) → inline policy text as provisioned
    accounts: dict[tuple[str, str], str] = field(default_factory=dict)
    # request id → status body
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)


def _state(backend: Any) -> _Provisioning:
    state = getattr(backend, _STATE_ATTRIBUTE, None)
    if state is None:
        state = _Provisioning()
        setattr(backend, _STATE_ATTRIBUTE, state)
    return state


def _provisioned_accounts(backend: Any, instance_arn: str) -> set[str]:
    """Accounts that hold an assignment are provisioned implicitly (CreateAccountAssignment does it)."""
    accounts = {a for (_ps, a) in _state(backend).accounts}
    accounts.update(str(a.target_id) for a in backend.account_assignments if a.instance_arn == instance_arn)
    return accounts


def _validation_error(message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    error = JsonRESTError("ValidationException", message)
    error.code = 400
    return error


def _targets(backend: Any, instance_arn: str, target_type: str | None, target_id: str | None) -> list[str]:
    if target_type == "AWS_ACCOUNT":
        if not target_id:
            raise _validation_error("TargetId is required when TargetType is AWS_ACCOUNT")
        return [str(target_id)]
    if target_type == "ALL_PROVISIONED_ACCOUNTS":
        if target_id:
            raise _validation_error("TargetId must be absent when TargetType is ALL_PROVISIONED_ACCOUNTS")
        return sorted(_provisioned_accounts(backend, instance_arn))
    raise _validation_error(f"TargetType must be AWS_ACCOUNT or ALL_PROVISIONED_ACCOUNTS, not {target_type!r}")


def _provision_permission_set(self: Any) -> str:
    from moto.core.utils import unix_time

    params = json.loads(self.body)
    instance_arn, ps_arn = params.get("InstanceArn"), params.get("PermissionSetArn")
    target_type, target_id = params.get("TargetType"), params.get("TargetId")
    backend = self.ssoadmin_backend
    permission_set = backend._find_permission_set(instance_arn, ps_arn)  # raises ResourceNotFound
    state = _state(backend)
    for account in _targets(backend, instance_arn, target_type, target_id):
        state.accounts[(ps_arn, account)] = permission_set.inline_policy
    request_id = str(uuid.uuid4())
    status: dict[str, Any] = {
        "CreatedDate": unix_time(),
        "PermissionSetArn": ps_arn,
        "RequestId": request_id,
        "Status": "IN_PROGRESS",
    }
    if target_type == "AWS_ACCOUNT":
        status["AccountId"] = str(target_id)
    state.requests[request_id] = {**status, "Status": "SUCCEEDED"}
    return json.dumps({"PermissionSetProvisioningStatus": status})


def _describe_permission_set_provisioning_status(self: Any) -> str:
    from moto.ssoadmin.exceptions import ResourceNotFoundException

    request_id = json.loads(self.body).get("ProvisionPermissionSetRequestId")
    found = _state(self.ssoadmin_backend).requests.get(request_id)
    if found is None:
        raise ResourceNotFoundException(f"no provisioning request {request_id}")
    return json.dumps({"PermissionSetProvisioningStatus": found})


def _list_accounts_for_provisioned_permission_set(self: Any) -> str:
    ps_arn = json.loads(self.body).get("PermissionSetArn")
    accounts = sorted(a for (p, a) in _state(self.ssoadmin_backend).accounts if p == ps_arn)
    return json.dumps({"AccountIds": accounts})


def install_provisioning() -> None:
    from moto.ssoadmin.responses import SSOAdminResponse

    # moto dispatches an action to the response method of the same snake_case name.
    for name, method in (
        ("provision_permission_set", _provision_permission_set),
        ("describe_permission_set_provisioning_status", _describe_permission_set_provisioning_status),
        ("list_accounts_for_provisioned_permission_set", _list_accounts_for_provisioned_permission_set),
    ):
        setattr(SSOAdminResponse, name, method)


def provisioned_inline_policy(region: str, permission_set_arn: str, account_id: str) -> str | None:
    """What ProvisionPermissionSet last pushed to the account (None: never provisioned there).

    Reads moto's in-process backend: only for the embedded local stack and its tests.
    """
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.ssoadmin.models import ssoadmin_backends

    return _state(ssoadmin_backends[DEFAULT_ACCOUNT_ID][region]).accounts.get((permission_set_arn, account_id))
