"""A permission set's inline policy and its provisioning, for ending live sessions.

Every call goes through the Identity Center gateway's shared rate limit and retry policy, so ending
sessions spends the same call budget as assignments. ``ProvisionPermissionSet`` is asynchronous:
the status is polled with exponential backoff within a bounded budget; ``FAILED`` becomes
:class:`SessionsNotEnded` (caught by the workflow, which records a revoke failure), still
``IN_PROGRESS`` at the end of the budget becomes :class:`AssignmentTimedOut` (retried).

Read-modify-write of one permission set's inline policy has no conditional put in the API, so the
caller holds a :class:`~backend.adapters.dynamodb_lease.DynamoLease` around it.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from backend.domain.errors import AssignmentTimedOut, IdentityCenterError, SessionsNotEnded
from backend.domain.session_deny import parse_session_duration

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from datetime import timedelta

    from mypy_boto3_sso_admin.client import SSOAdminClient

    from backend.adapters.dynamodb_lease import DynamoLease
    from backend.adapters.identity_center import IdentityCenterGateway

log = logging.getLogger(__name__)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


class PermissionSetPolicies:
    def __init__(
        self,
        sso_admin_client: SSOAdminClient,
        instance_arn: str,
        gateway: IdentityCenterGateway,
        lease: DynamoLease,
        *,
        sleep: Callable[[float], None] = time.sleep,
        poll_initial: float = 1.0,
        poll_max: float = 8.0,
        poll_budget_seconds: float = 120.0,
    ) -> None:
        self._sso = sso_admin_client
        self._instance_arn = instance_arn
        self._gateway = gateway
        self._lease = lease
        self._sleep = sleep
        self._poll_initial = poll_initial
        self._poll_max = poll_max
        self._poll_budget = poll_budget_seconds

    def locked(self, permission_set_arn: str, *, best_effort: bool = False) -> AbstractContextManager[None]:
        return self._lease.hold(f"inline-policy#{permission_set_arn}", best_effort=best_effort)

    def session_duration(self, permission_set_arn: str) -> timedelta:
        described = self._send(
            "DescribePermissionSet",
            functools.partial(
                self._sso.describe_permission_set, InstanceArn=self._instance_arn, PermissionSetArn=permission_set_arn
            ),
        )
        return parse_session_duration(described["PermissionSet"].get("SessionDuration"))

    def inline_policy(self, permission_set_arn: str) -> str:
        got = self._send(
            "GetInlinePolicyForPermissionSet",
            functools.partial(
                self._sso.get_inline_policy_for_permission_set,
                InstanceArn=self._instance_arn,
                PermissionSetArn=permission_set_arn,
            ),
        )
        return str(got.get("InlinePolicy") or "")

    def put_inline_policy(self, permission_set_arn: str, text: str) -> None:
        """Replace the inline policy; an empty text deletes it (IAM refuses an empty document)."""
        if text.strip():
            self._send(
                "PutInlinePolicyToPermissionSet",
                functools.partial(
                    self._sso.put_inline_policy_to_permission_set,
                    InstanceArn=self._instance_arn,
                    PermissionSetArn=permission_set_arn,
                    InlinePolicy=text,
                ),
            )
        else:
            self._send(
                "DeleteInlinePolicyFromPermissionSet",
                functools.partial(
                    self._sso.delete_inline_policy_from_permission_set,
                    InstanceArn=self._instance_arn,
                    PermissionSetArn=permission_set_arn,
                ),
            )

    def provision(self, permission_set_arn: str, account_id: str) -> None:
        """Push the permission set to one account and wait until Identity Center reports SUCCEEDED."""
        started = self._send(
            "ProvisionPermissionSet",
            functools.partial(
                self._sso.provision_permission_set,
                InstanceArn=self._instance_arn,
                PermissionSetArn=permission_set_arn,
                TargetType="AWS_ACCOUNT",
                TargetId=account_id,
            ),
        )
        status: dict[str, Any] = dict(started["PermissionSetProvisioningStatus"])
        goal = f"provision {permission_set_arn} to account {account_id}"
        waited, delay = 0.0, self._poll_initial
        while True:
            state, request_id = status.get("Status"), status.get("RequestId")
            if state == "SUCCEEDED":
                return
            if state == "FAILED":
                raise SessionsNotEnded(
                    f"Identity Center could not {goal}: {status.get('FailureReason') or 'no reason given'}"
                )
            if state != "IN_PROGRESS" or not request_id:
                raise IdentityCenterError(f"Identity Center answered status {state!r} for request {request_id!r}")
            if waited >= self._poll_budget:
                raise AssignmentTimedOut(f"Identity Center request {request_id} to {goal} was still IN_PROGRESS")
            pause = min(delay, self._poll_budget - waited)
            self._sleep(pause)
            waited += pause
            delay = min(delay * 2, self._poll_max)
            status = dict(
                self._send(
                    "DescribePermissionSetProvisioningStatus",
                    functools.partial(
                        self._sso.describe_permission_set_provisioning_status,
                        InstanceArn=self._instance_arn,
                        ProvisionPermissionSetRequestId=str(request_id),
                    ),
                )["PermissionSetProvisioningStatus"]
            )

    def _send(self, operation: str, send: Callable[[], Any]) -> Any:
        try:
            return self._gateway.call(operation, send)
        except ClientError as exc:
            raise IdentityCenterError(f"Identity Center {operation} failed with {_code(exc)}") from exc
