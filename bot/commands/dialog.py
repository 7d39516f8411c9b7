"""The request form: built from what this person may request, and its submission checked per field.

Mattermost checks nothing on submit (docs/architecture.md, "Dialogs"), so every field is validated here; errors go
back keyed by element name so they show under the field and the form stays open.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import ValidationError

from bot.action_context import ContextRejected, verify_state
from bot.commands.parsing import OpenRequestDialog
from bot.core import Core, idempotency_key, submitted_text
from bot.explain import explain
from bot.mattermost.payloads import DialogSubmission
from jitwire.client import BackendError, BackendUnavailable
from jitwire.contract import Catalog, CatalogEntry, CreateRequestBody
from jitwire.timefmt import parse_duration

CALLBACK_ID: Final = "jitrequest"
_SEP: Final = "/"


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


async def submit(core: Core, submission: DialogSubmission) -> dict[str, Any]:
    """The reply Mattermost relays to the form: ``{}`` closes it, ``errors``/``error`` keep it open."""
    if submission.cancelled or submission.callback_id != CALLBACK_ID:
        return {}
    try:
        state = verify_state(core.signer, submission.state, user_id=submission.user_id, now=core.clock())
    except ContextRejected:
        return {"error": "This form is no longer valid; run /jit request again."}
    values = {k: "" if v is None else str(v).strip() for k, v in submission.submission.items()}
    actor = await core.mm.person(submission.user_id)
    try:
        catalog = await core.backend.run(lambda c: c.catalog(actor))
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
        view = await core.submit_request(body)
    except ValidationError:
        return {"errors": {"reason": "Between 3 and 500 characters, please."}}
    except BackendError as error:
        mapped = {k: v for k, v in error.fields.items() if k in ("duration", "reason")}
        return {"errors": mapped} if mapped else {"error": explain(error)}
    except BackendUnavailable as error:
        return {"error": explain(error)}
    if state.response_url:
        await core.mm.respond(state.response_url, {"response_type": "ephemeral", "text": submitted_text(core, view)})
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
