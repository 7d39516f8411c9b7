"""Domain errors.

The class names are contract: Step Functions Retry/Catch match on a Lambda's ``errorType``, which is
the exception class name, and the API maps each class to a status code. Do not rename casually.

DomainError
 ├── InvalidRequest            400: input that cannot be understood
 ├── NotAuthorized             403: the actor may not do this (incl. self-approval)
 ├── RequestNotFound           404
 ├── InvalidTransition         409: the request is not in a state that allows this
 ├── ConcurrentUpdate          409: someone else changed the request first
 ├── RequestExpired            410: the approval window has passed
 ├── StandingAccessExists      409: the user already holds this access outside JIT
 ├── RevokeAlreadyRequested    409: someone ended the access early; it can no longer be extended
 ├── IdentityNotVouched        403: the bot could not vouch for the e-mail of an unbound user
 ├── IdentityMismatch          409: the Mattermost e-mail no longer matches the stored binding
 ├── IdentityTaken             409: the Identity Center user is bound to another Mattermost account
 ├── BindingNotFound           404
 └── IdentityCenterError       AWS Identity Center failures
      ├── PrincipalNotFound
      ├── PermissionSetNotFound
      ├── IdentityCenterThrottled   (retried by the state machine)
      ├── AssignmentFailed          (Identity Center reported FAILED)
      └── AssignmentTimedOut        (status still IN_PROGRESS after the polling budget)
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    status_code = 400
    code = "domain_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(DomainError):
    status_code = 400
    code = "invalid_request"


class NotAuthorized(DomainError):
    status_code = 403
    code = "not_authorized"


class RequestNotFound(DomainError):
    status_code = 404
    code = "not_found"


class InvalidTransition(DomainError):
    status_code = 409
    code = "invalid_transition"


class ConcurrentUpdate(DomainError):
    status_code = 409
    code = "concurrent_update"


class RequestExpired(DomainError):
    status_code = 410
    code = "request_expired"


class StandingAccessExists(DomainError):
    status_code = 409
    code = "standing_access"


class RevokeAlreadyRequested(InvalidTransition):
    code = "revoke_requested"


class IdentityNotVouched(NotAuthorized):
    code = "identity_not_vouched"


class IdentityMismatch(DomainError):
    status_code = 409
    code = "identity_mismatch"


class IdentityTaken(DomainError):
    status_code = 409
    code = "identity_taken"


class BindingExists(DomainError):
    """Raised by a binding store when the Mattermost account is already bound (a lost race)."""

    status_code = 409
    code = "binding_exists"


class BindingNotFound(DomainError):
    status_code = 404
    code = "binding_not_found"


class IdentityCenterError(DomainError):
    status_code = 502
    code = "identity_center_error"


class PrincipalNotFound(IdentityCenterError):
    status_code = 400
    code = "principal_not_found"


class PermissionSetNotFound(IdentityCenterError):
    status_code = 400
    code = "permission_set_not_found"


class IdentityCenterThrottled(IdentityCenterError):
    status_code = 503
    code = "identity_center_throttled"


class AssignmentFailed(IdentityCenterError):
    code = "assignment_failed"


class AssignmentTimedOut(IdentityCenterError):
    status_code = 504
    code = "assignment_timed_out"


class SessionsNotEnded(IdentityCenterError):
    """The Deny statement that ends live sessions could not be written or provisioned."""

    code = "sessions_not_ended"


class RequestAlreadyExists(DomainError):
    """Raised by a store when the request id (derived from the idempotency key) is taken."""

    status_code = 409
    code = "already_exists"


class ReconcileFailed(DomainError):
    """Raised by the reconciler after it processed everything it could (the alarm counts it)."""

    status_code = 500
    code = "reconcile_failed"


class WorkflowUnavailable(DomainError):
    status_code = 503
    code = "workflow_unavailable"
