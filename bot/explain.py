"""Backend failures → one plain sentence for the person who clicked or typed."""

from __future__ import annotations

from jitwire.chattext import neutralise
from jitwire.client import BackendError, BackendUnavailable, OutcomeUnknown

UNREACHABLE = (
    "The access service is unreachable right now, so nothing was changed. Please try again in a minute; "
    "if it keeps failing, tell the platform on-call."
)

UNCONFIRMED = (
    "The access service did not confirm this in time, so it may or may not have been done. "
    "Check with `/jit list` before trying again; if it keeps happening, tell the platform on-call."
)

_LEADS = {
    "not_authorized": "You are not allowed to do that",
    "self_approval": "You cannot approve your own request",
    "not_found": "There is no such request",
    "invalid_transition": "That is no longer possible",
    "concurrent_update": "Someone else changed this request at the same moment; please try again",
    "request_expired": "This request has expired",
    "standing_access": "You already hold this access outside JIT",
    "invalid_request": "That request is not valid",
    "already_exists": "That request already exists",
    "principal_not_found": "Your chat account has no matching AWS Identity Center user",
    "revoke_requested": "This access is being revoked",
    "identity_not_vouched": "Your chat account cannot be linked to AWS",
    "identity_mismatch": "Your chat account no longer matches its AWS link",
    "identity_taken": "Your chat account cannot be linked to AWS",
}


def explain(error: Exception) -> str:
    if isinstance(error, OutcomeUnknown):
        return UNCONFIRMED
    if isinstance(error, BackendUnavailable):
        return UNREACHABLE
    if isinstance(error, BackendError):
        if error.status == 401:
            return "The bot could not authenticate to the access service; an administrator must check its key."
        if error.status >= 500:
            return "The access service failed while handling this; nothing may have changed. Please try again."
        lead = _LEADS.get(error.code, "The access service refused this")
        detail = neutralise(error.message, 300, single_line=True)
        return f"{lead}: {detail}." if detail and not detail.endswith(".") else f"{lead}: {detail}"
    raise TypeError(f"not a backend error: {type(error).__name__}")
