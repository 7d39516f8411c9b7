"""The request form: built from what this person may request, and its submission checked per field.

Mattermost checks nothing on submit (docs/architecture.md, "Dialogs"), so the form's ``state`` is
signed (who it was opened for, until when) and every field is validated here; errors go back keyed
by element name so they show under the field and the form stays open.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.access.action_context import ContextSigner
from bot.access.explain import explain
from bot.access.services import AccessServices, idempotency_key, submitted_text
from bot.commands.parsing import OpenRequestDialog
from bot.mattermost.payloads import DialogSubmission
from bot.signed_context import ContextRejected, Purpose, check_expiry, same_text
from jitwire.b64url import b64url_decode_lenient, b64url_encode
from jitwire.client import BackendError, BackendUnavailable
from jitwire.contract import Catalog, CatalogEntry, CreateRequestBody
from jitwire.timefmt import parse_duration

CALLBACK_ID: Final = "jitrequest"
_SEP: Final = "/"


class DialogState(BaseModel):
    """The dialog's ``state``: who it was opened for and where to answer (Mattermost echoes it back)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str = Field(min_length=1, max_length=64)
    response_url: str = Field(default="", max_length=1024)
    channel_id: str = Field(default="", max_length=64)
    exp: int = Field(gt=0)


def sign_state(signer: ContextSigner, state: DialogState) -> str:
    body = b64url_encode(state.model_dump_json().encode())
    return body + "." + signer.key.mac(Purpose.DIALOG_STATE, body)


def verify_state(signer: ContextSigner, text: str, *, user_id: str, now: datetime) -> DialogState:
    body, _, mac = text.partition(".")
    signer.key.check(Purpose.DIALOG_STATE, body, mac)
    try:
        state = DialogState.model_validate_json(b64url_decode_lenient(body))
    except (ValidationError, ValueError):
        raise ContextRejected("malformed_context") from None
    check_expiry(state.exp, now)
    if not same_text(state.user_id, user_id):
        raise ContextRejected("wrong_user")
    return state


def option_value(entry: CatalogEntry) -> str:
    return f"{entry.account_name}{_SEP}{entry.permission_set}"


def request_dialog(catalog: Catalog, prefill: OpenRequestDialog, state: str) -> dict[str, Any]:
    options = [
        {
            "text": f"{e.permission_set} on {e.account_name} (max {e.max_duration}"
            + (", auto-approved)" if e.auto_approve else ")"),
            "value": option_value(e),
        }
        for e in catalog.entries
    ]
    wanted = f"{prefill.account}{_SEP}{prefill.permission_set}"
    default = wanted if any(o["value"] == wanted for o in options) else ""
    return {
        "callback_id": CALLBACK_ID,
        "title": "Request AWS access",
        "submit_label": "Request",
        "notify_on_cancel": False,
        "state": state,
        "elements": [
            {"name": "target", "display_name": "Access", "type": "select", "options": options, "default": default},
            {
                "name": "duration",
                "display_name": "Duration",
                "type": "text",
                "default": prefill.duration,
                "placeholder": "30m, 2h, 1h30m",
                "max_length": 16,
            },
            {
                "name": "reason",
                "display_name": "Reason",
                "type": "textarea",
                "min_length": 3,
                "max_length": 500,
                "placeholder": "What you will do, with the ticket",
            },
        ],
    }


async def submit(services: AccessServices, submission: DialogSubmission) -> dict[str, Any]:
    """The reply Mattermost relays to the form: ``{}`` closes it, ``errors``/``error`` keep it open."""
    if submission.cancelled or submission.callback_id != CALLBACK_ID:
        return {}
    try:
        state = verify_state(services.signer, submission.state, user_id=submission.user_id, now=services.clock())
    except ContextRejected:
        return {"error": "This form is no longer valid; run /jit request again."}
    values = {k: "" if v is None else str(v).strip() for k, v in submission.submission.items()}
    actor = await services.mm.person(submission.user_id)
    try:
        catalog = await services.backend.run(lambda c: c.catalog(actor))
    except (BackendError, BackendUnavailable) as error:
        return {"error": explain(error)}
    chosen = next((e for e in catalog.entries if option_value(e) == values.get("target", "")), None)
    errors = field_errors(values, chosen)
    if errors or chosen is None:
        return {"errors": errors}
    try:
        body = CreateRequestBody(
            actor=actor,
            account=chosen.account_name,
            permission_set=chosen.permission_set,
            duration=values["duration"],
            reason=values["reason"],
            idempotency_key=idempotency_key("dialog", submission.state),
        )
        view = await services.submit_request(body)
    except ValidationError:
        return {"errors": {"reason": "Between 3 and 500 characters, please."}}
    except BackendError as error:
        mapped = {k: v for k, v in error.fields.items() if k in ("duration", "reason")}
        return {"errors": mapped} if mapped else {"error": explain(error)}
    except BackendUnavailable as error:
        return {"error": explain(error)}
    if state.response_url:
        await services.mm.respond(
            state.response_url, {"response_type": "ephemeral", "text": submitted_text(services, view)}
        )
    return {}


def field_errors(values: dict[str, str], chosen: CatalogEntry | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if chosen is None:
        errors["target"] = "Choose one of the listed options."
    duration = values.get("duration", "")
    try:
        length = parse_duration(duration)
    except ValueError:
        errors["duration"] = "Use forms like 30m, 2h or 1h30m."
    else:
        if chosen is not None and length > parse_duration(chosen.max_duration):
            errors["duration"] = f"At most {chosen.max_duration} for this access."
    reason = values.get("reason", "")
    if not 3 <= len(reason) <= 500:
        errors["reason"] = "Between 3 and 500 characters, please."
    return errors
