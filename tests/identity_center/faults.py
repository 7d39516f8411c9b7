"""Fault injection at moto's wire, for behaviour moto does not model.

moto answers every assignment request SUCCEEDED at once and never throttles. These helpers patch
moto itself (not our adapter), so the adapter's real boto3 calls travel the real HTTP-shaped path
and receive real error responses:

- ``fail``: a backend method raises a JSON error (e.g. ThrottlingException) for its first
  ``times`` calls (``None``: forever), then behaves normally. Returns a counter of the calls
  moto received, failed or not.
- ``script_status``: the response layer (which moto hard-codes to SUCCEEDED) reports the given
  statuses in order, then the real one.
- ``count``: record how many calls a backend method received.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from moto.core.exceptions import JsonRESTError
from moto.ssoadmin.responses import SSOAdminResponse

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pytest


class InjectedError(JsonRESTError):
    code = 400

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(error_type=error_type, message=message)


@dataclass
class Received:
    calls: int = 0


STATUS_KEYS = {
    "create_account_assignment": "AccountAssignmentCreationStatus",
    "describe_account_assignment_creation_status": "AccountAssignmentCreationStatus",
    "delete_account_assignment": "AccountAssignmentDeletionStatus",
    "describe_account_assignment_deletion_status": "AccountAssignmentDeletionStatus",
    "provision_permission_set": "PermissionSetProvisioningStatus",
    "describe_permission_set_provisioning_status": "PermissionSetProvisioningStatus",
}


class MotoFaults:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._monkeypatch = monkeypatch

    def fail(
        self,
        backend_class: type[Any],
        method: str,
        code: str,
        times: int | None,
        message: str = "Rate exceeded",
    ) -> Received:
        original = getattr(backend_class, method)
        received = Received()

        def failing(backend: Any, *args: Any, **kwargs: Any) -> Any:
            received.calls += 1
            if times is None or received.calls <= times:
                raise InjectedError(code, message)
            return original(backend, *args, **kwargs)

        self._monkeypatch.setattr(backend_class, method, failing)
        return received

    def count(self, backend_class: type[Any], method: str) -> Received:
        return self.fail(backend_class, method, "unused", times=0)

    def script_status(self, method: str, statuses: Iterable[str], failure_reason: str = "injected failure") -> Received:
        original = getattr(SSOAdminResponse, method)
        key = STATUS_KEYS[method]
        script = iter(statuses)
        received = Received()

        def scripted(response: SSOAdminResponse) -> str:
            received.calls += 1
            body = json.loads(original(response))
            status = next(script, None)
            if status is not None:
                body[key]["Status"] = status
                if status == "FAILED":
                    body[key]["FailureReason"] = failure_reason
            return json.dumps(body)

        self._monkeypatch.setattr(SSOAdminResponse, method, scripted)
        return received


def forever(status: str) -> Iterable[str]:
    return itertools.repeat(status)
