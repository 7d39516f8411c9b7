"""IAM Identity Center adapter: users, groups, permission sets and account assignments.

Translates between the domain (:class:`AssignmentTarget`, domain errors) and the ``sso-admin`` and
``identitystore`` APIs. Every AWS call goes through the call budget first (shared by every
instance, see ``shared_budget``), so the backend never exceeds its self-imposed rate (Identity
Center allows 20 calls per second shared by the whole account; we take at most half). Revokes
are urgent: when the budget is short they go before grants and lookups.

Retries live here, not in botocore: ``ThrottlingException``, ``TooManyRequestsException`` and
``ConflictException`` (overlapping operations on the same assignment) are retried (tenacity) with jittered
exponential backoff, then surface as :class:`IdentityCenterThrottled`, which the state machine
retries again. The wiring must therefore build both clients with
``botocore.config.Config(retries={"total_max_attempts": 1})``; otherwise botocore's own retries
multiply ours and every hidden attempt bypasses the limiter.

Assignment creation and deletion are asynchronous: the adapter polls the request status with
exponential backoff inside a bounded budget. ``FAILED`` becomes :class:`AssignmentFailed`; still
``IN_PROGRESS`` when the budget is spent becomes :class:`AssignmentTimedOut`.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from botocore.exceptions import ClientError
from botocore.paginate import TokenEncoder
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from backend.domain.assignment import AssignmentTarget
from backend.domain.errors import (
    AssignmentFailed,
    AssignmentTimedOut,
    IdentityCenterError,
    IdentityCenterThrottled,
    PermissionSetNotFound,
    PrincipalNotFound,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_identitystore.client import IdentityStoreClient
    from mypy_boto3_identitystore.type_defs import (
        AlternateIdentifierTypeDef,
        ListGroupMembershipsForMemberResponseTypeDef,
    )
    from mypy_boto3_sso_admin.client import SSOAdminClient
    from mypy_boto3_sso_admin.type_defs import (
        AccountAssignmentOperationStatusTypeDef,
        CreateAccountAssignmentRequestTypeDef,
        ListAccountAssignmentsResponseTypeDef,
        ListPermissionSetsResponseTypeDef,
        PaginatorConfigTypeDef,
    )

    from backend.adapters.rate_limit import CallBudget

log = logging.getLogger(__name__)

RETRYABLE_CODES: Final = frozenset({"ThrottlingException", "TooManyRequestsException", "ConflictException"})
# Taking access away goes first when the budget is short (grants and lookups wait).
URGENT_OPERATIONS: Final = frozenset({"DeleteAccountAssignment", "DescribeAccountAssignmentDeletionStatus"})
NOT_FOUND: Final = "ResourceNotFoundException"
# Paginators take their StartingToken in botocore's own encoding, not the service's raw NextToken.
_TOKENS: Final = TokenEncoder()

T = TypeVar("T")
Page = TypeVar("Page", bound=Mapping[str, Any])


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and _error_code(exc) in RETRYABLE_CODES


def _failure(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None else None


def _unexpected(operation: str, exc: ClientError) -> IdentityCenterError:
    return IdentityCenterError(f"Identity Center {operation} failed with {_error_code(exc)}")


def _first_page(paginate: Callable[[PaginatorConfigTypeDef], Iterable[Page]], config: PaginatorConfigTypeDef) -> Page:
    return next(iter(paginate(config)))


def _describe(target: AssignmentTarget) -> str:
    return f"user {target.principal_id} in account {target.account_id} with permission set {target.permission_set_arn}"


class IdentityCenterGateway:
    """The backend's only door to Identity Center. Thread-safe if the clients are."""

    def __init__(
        self,
        sso_admin_client: SSOAdminClient,
        identitystore_client: IdentityStoreClient,
        instance_arn: str,
        identity_store_id: str,
        limiter: CallBudget,
        *,
        sleep: Callable[[float], None] = time.sleep,
        poll_initial: float = 1.0,
        poll_max: float = 8.0,
        poll_budget_seconds: float = 60.0,
        max_throttle_retries: int = 5,
        throttle_base: float = 0.5,
        throttle_max: float = 8.0,
        jitter: Callable[[float, float], float] = random.uniform,
        page_size: int | None = None,
        group_name_ttl_seconds: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < poll_initial <= poll_max:
            raise ValueError("need 0 < poll_initial <= poll_max")
        if poll_budget_seconds <= 0 or max_throttle_retries < 0:
            raise ValueError("need poll_budget_seconds > 0 and max_throttle_retries >= 0")
        if not 0 < throttle_base <= throttle_max:
            raise ValueError("need 0 < throttle_base <= throttle_max")
        self._sso = sso_admin_client
        self._store = identitystore_client
        self._instance_arn = instance_arn
        self._identity_store_id = identity_store_id
        self._limiter = limiter
        self._sleep = sleep
        self._poll_initial = poll_initial
        self._poll_max = poll_max
        self._poll_budget = poll_budget_seconds
        self._max_throttle_retries = max_throttle_retries
        self._throttle_base = throttle_base
        self._throttle_max = throttle_max
        self._jitter = jitter
        self._page_size = page_size
        self._permission_sets: dict[str, str] = {}
        self._permission_sets_lock = threading.Lock()
        # Group id → display name: shared by every member, so one DescribeGroup serves them all.
        self._group_names: dict[str, tuple[float, str | None]] = {}
        self._group_name_ttl = group_name_ttl_seconds
        self._monotonic = monotonic
        self._group_names_lock = threading.Lock()

    # -- identity store ---------------------------------------------------------------------------

    def find_user_id(self, login: str) -> str:
        """The Identity Center user id for an email address (contains '@') or a user name."""
        login = login.strip()
        if not login:
            raise PrincipalNotFound("An empty login names no Identity Center user")
        path, label = ("emails.value", "email") if "@" in login else ("userName", "user name")
        # The stubs type the attribute value as a document mapping; the API takes the plain string.
        identifier = cast(
            "AlternateIdentifierTypeDef",
            {"UniqueAttribute": {"AttributePath": path, "AttributeValue": login}},
        )
        try:
            response = self._call(
                "GetUserId",
                lambda: self._store.get_user_id(
                    IdentityStoreId=self._identity_store_id, AlternateIdentifier=identifier
                ),
            )
        except ClientError as exc:
            if _error_code(exc) == NOT_FOUND:
                raise PrincipalNotFound(f"No Identity Center user has the {label} {login!r}") from exc
            raise _unexpected("GetUserId", exc) from exc
        return response["UserId"]

    def group_names_for_user(self, user_id: str) -> frozenset[str]:
        """Display names of the identity store groups the user is a direct member of."""

        paginator = self._store.get_paginator("list_group_memberships_for_member")

        def fetch(config: PaginatorConfigTypeDef) -> Iterable[ListGroupMembershipsForMemberResponseTypeDef]:
            return paginator.paginate(
                IdentityStoreId=self._identity_store_id, MemberId={"UserId": user_id}, PaginationConfig=config
            )

        try:
            group_ids = [
                membership["GroupId"]
                for page in self._pages("ListGroupMembershipsForMember", fetch)
                for membership in page["GroupMemberships"]
                if "GroupId" in membership
            ]
            return frozenset(name for group_id in group_ids if (name := self._group_name(group_id)))
        except ClientError as exc:
            if _error_code(exc) == NOT_FOUND:
                raise PrincipalNotFound(f"No Identity Center user has the id {user_id!r}") from exc
            raise _unexpected("group lookup", exc) from exc

    def _group_name(self, group_id: str) -> str | None:
        with self._group_names_lock:
            hit = self._group_names.get(group_id)
        if hit is not None and self._monotonic() - hit[0] < self._group_name_ttl:
            return hit[1]
        name = self._describe_group_name(group_id)
        with self._group_names_lock:
            self._group_names[group_id] = (self._monotonic(), name)
        return name

    def _describe_group_name(self, group_id: str) -> str | None:
        try:
            group = self._call(
                "DescribeGroup",
                lambda: self._store.describe_group(IdentityStoreId=self._identity_store_id, GroupId=group_id),
            )
        except ClientError as exc:
            if _error_code(exc) != NOT_FOUND:
                raise
            # Deleted between listing and describing: it no longer grants anything.
            log.info("identity store group vanished during lookup", extra={"group_id": group_id})
            return None
        return group.get("DisplayName")

    # -- permission sets --------------------------------------------------------------------------

    def permission_set_arn(self, name: str) -> str:
        """The ARN of the permission set called ``name``; the name→ARN map is cached per gateway."""
        with self._permission_sets_lock:
            if name not in self._permission_sets:
                # A miss refreshes the whole map: one listing serves every later name.
                self._permission_sets = self._load_permission_sets()
            arn = self._permission_sets.get(name)
        if arn is None:
            raise PermissionSetNotFound(f"Identity Center has no permission set named {name!r}")
        return arn

    def _load_permission_sets(self) -> dict[str, str]:
        paginator = self._sso.get_paginator("list_permission_sets")

        def fetch(config: PaginatorConfigTypeDef) -> Iterable[ListPermissionSetsResponseTypeDef]:
            return paginator.paginate(InstanceArn=self._instance_arn, PaginationConfig=config)

        try:
            arns = [arn for page in self._pages("ListPermissionSets", fetch) for arn in page["PermissionSets"]]
            by_name: dict[str, str] = {}
            for arn in arns:
                described = self._call(
                    "DescribePermissionSet",
                    functools.partial(
                        self._sso.describe_permission_set, InstanceArn=self._instance_arn, PermissionSetArn=arn
                    ),
                )
                permission_set = described["PermissionSet"]
                if "Name" in permission_set:
                    by_name[permission_set["Name"]] = arn
        except ClientError as exc:
            raise _unexpected("permission set lookup", exc) from exc
        return by_name

    # -- account assignments ----------------------------------------------------------------------

    def create_assignment(self, target: AssignmentTarget) -> None:
        """Assign the permission set to the user in the account and wait until it is in place."""
        request = self._assignment_request(target)
        try:
            response = self._call("CreateAccountAssignment", lambda: self._sso.create_account_assignment(**request))

            def describe(request_id: str) -> AccountAssignmentOperationStatusTypeDef:
                return self._sso.describe_account_assignment_creation_status(
                    InstanceArn=self._instance_arn, AccountAssignmentCreationRequestId=request_id
                )["AccountAssignmentCreationStatus"]

            self._await_completion(
                response["AccountAssignmentCreationStatus"],
                describe,
                operation="DescribeAccountAssignmentCreationStatus",
                goal=f"assign {_describe(target)}",
            )
        except ClientError as exc:
            raise _unexpected("assignment creation", exc) from exc
        log.info("assignment created", extra={"ledger_key": target.ledger_key})

    def delete_assignment(self, target: AssignmentTarget) -> None:
        """Remove the assignment and wait until it is gone; a missing assignment is already done."""
        request = self._assignment_request(target)
        try:
            try:
                response = self._call("DeleteAccountAssignment", lambda: self._sso.delete_account_assignment(**request))
            except ClientError as exc:
                if _error_code(exc) != NOT_FOUND:
                    raise
                log.info("assignment already absent", extra={"ledger_key": target.ledger_key})
                return

            def describe(request_id: str) -> AccountAssignmentOperationStatusTypeDef:
                return self._sso.describe_account_assignment_deletion_status(
                    InstanceArn=self._instance_arn, AccountAssignmentDeletionRequestId=request_id
                )["AccountAssignmentDeletionStatus"]

            self._await_completion(
                response["AccountAssignmentDeletionStatus"],
                describe,
                operation="DescribeAccountAssignmentDeletionStatus",
                goal=f"remove the assignment of {_describe(target)}",
            )
        except ClientError as exc:
            raise _unexpected("assignment deletion", exc) from exc
        log.info("assignment deleted", extra={"ledger_key": target.ledger_key})

    def has_assignment(self, target: AssignmentTarget) -> bool:
        """Whether the user holds this permission set in this account as a direct USER assignment."""
        return any(
            found.principal_id == target.principal_id
            for found in self._user_assignments(target.account_id, target.permission_set_arn)
        )

    def list_user_assignments(self, account_id: str, permission_set_arn: str) -> list[AssignmentTarget]:
        """Every USER assignment of the permission set in the account (group assignments skipped)."""
        return list(dict.fromkeys(self._user_assignments(account_id, permission_set_arn)))

    def _user_assignments(self, account_id: str, permission_set_arn: str) -> Iterator[AssignmentTarget]:
        paginator = self._sso.get_paginator("list_account_assignments")

        def fetch(config: PaginatorConfigTypeDef) -> Iterable[ListAccountAssignmentsResponseTypeDef]:
            return paginator.paginate(
                InstanceArn=self._instance_arn,
                AccountId=account_id,
                PermissionSetArn=permission_set_arn,
                PaginationConfig=config,
            )

        try:
            for page in self._pages("ListAccountAssignments", fetch):
                for assignment in page["AccountAssignments"]:
                    if assignment.get("PrincipalType") == "USER" and "PrincipalId" in assignment:
                        yield AssignmentTarget(
                            principal_id=assignment["PrincipalId"],
                            account_id=assignment.get("AccountId", account_id),
                            permission_set_arn=assignment.get("PermissionSetArn", permission_set_arn),
                        )
        except ClientError as exc:
            raise _unexpected("ListAccountAssignments", exc) from exc

    def _assignment_request(self, target: AssignmentTarget) -> CreateAccountAssignmentRequestTypeDef:
        # Create and delete take the same six fields.
        return {
            "InstanceArn": self._instance_arn,
            "TargetId": target.account_id,
            "TargetType": "AWS_ACCOUNT",
            "PermissionSetArn": target.permission_set_arn,
            "PrincipalType": "USER",
            "PrincipalId": target.principal_id,
        }

    def _await_completion(
        self,
        status: AccountAssignmentOperationStatusTypeDef,
        describe: Callable[[str], AccountAssignmentOperationStatusTypeDef],
        *,
        operation: str,
        goal: str,
    ) -> None:
        """Poll an asynchronous assignment request until it leaves IN_PROGRESS or the budget is spent.

        The budget counts the time slept between polls (deterministic under a fake sleep); the
        polls themselves and throttling pauses come on top, each bounded on its own.
        """
        request_id = status.get("RequestId")
        waited = 0.0
        delay = self._poll_initial
        while True:
            state = status.get("Status")
            if state == "SUCCEEDED":
                return
            if state == "FAILED":
                reason = status.get("FailureReason") or "no reason given"
                raise AssignmentFailed(f"Identity Center could not {goal}: {reason}")
            if state != "IN_PROGRESS" or not request_id:
                raise IdentityCenterError(f"Identity Center answered status {state!r} for request {request_id!r}")
            if waited >= self._poll_budget:
                raise AssignmentTimedOut(
                    f"Identity Center request {request_id} to {goal} was still IN_PROGRESS after {waited:g} s"
                )
            pause = min(delay, self._poll_budget - waited)
            self._sleep(pause)
            waited += pause
            delay = min(delay * 2, self._poll_max)
            status = self._call(operation, functools.partial(describe, request_id))

    # -- every AWS call ---------------------------------------------------------------------------

    def call(self, operation: str, send: Callable[[], T]) -> T:
        """One call by a sibling adapter, under this gateway's shared rate limit and retries."""
        return self._call(operation, send)

    def _pages(self, operation: str, paginate: Callable[[PaginatorConfigTypeDef], Iterable[Page]]) -> Iterator[Page]:
        """Every page of a botocore paginator, each page request one :meth:`_call` (budget and retries).

        A fresh paginator per page, resumed from the last token: a retried page is re-requested
        from its own token, and no page request escapes the budget.
        """
        token: str | None = None
        while True:
            config: PaginatorConfigTypeDef = {}
            if token:
                config["StartingToken"] = _TOKENS.encode({"NextToken": token})
            if self._page_size:
                config["PageSize"] = self._page_size
            page = self._call(operation, functools.partial(_first_page, paginate, config))
            yield page
            next_token = page.get("NextToken")
            if not next_token:
                return
            token = str(next_token)

    def _call(self, operation: str, send: Callable[[], T]) -> T:
        """One AWS call under the rate limit, retrying throttling and conflicts with backoff."""

        def wait(state: RetryCallState) -> float:
            # Tenacity asks for the wait before it checks the stop: the last attempt draws no jitter.
            retries = state.attempt_number - 1
            return self._throttle_pause(retries) if retries < self._max_throttle_retries else 0.0

        def before_sleep(state: RetryCallState) -> None:
            log.warning(
                "identity center call retried",
                extra={
                    "operation": operation,
                    "code": _error_code(cast("ClientError", _failure(state))),
                    "attempt": state.attempt_number,
                    "pause": state.upcoming_sleep,
                },
            )

        def give_up(state: RetryCallState) -> T:
            exc = cast("ClientError", _failure(state))
            raise IdentityCenterThrottled(
                f"Identity Center {operation} still answered {_error_code(exc)} after {state.attempt_number} attempts"
            ) from exc

        def attempt() -> T:
            permit = self._limiter.acquire(urgent=operation in URGENT_OPERATIONS)
            try:
                return send()
            finally:
                permit.done()

        retrying = Retrying(
            stop=stop_after_attempt(self._max_throttle_retries + 1),
            wait=wait,
            retry=retry_if_exception(_retryable),
            sleep=self._sleep,
            before_sleep=before_sleep,
            retry_error_callback=give_up,
        )
        return retrying(attempt)

    def _throttle_pause(self, attempt: int) -> float:
        # "Equal jitter": at least half the exponential step, so retries still spread out.
        step = min(self._throttle_max, self._throttle_base * 2**attempt)
        return self._jitter(step / 2, step)
