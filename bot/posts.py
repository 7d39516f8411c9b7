"""Post layouts: the approval card, its thread's history lines and the requester's DMs. Pure.

Every user-typed string goes through ``neutralise``; every message through ``bound_post``.
A post's props carry ``jit_request_id`` and ``jit_version`` (the card) or ``jit_event_id`` (a
DM or history line) so any replica can tell what a post already shows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

from jitwire.chattext import bound_post, neutralise, username
from jitwire.contract import LifecycleEvent, RequestView
from jitwire.models import RequestStatus

Props = dict[str, Any]
PROP_REQUEST: Final = "jit_request_id"
PROP_VERSION: Final = "jit_version"
PROP_EVENT: Final = "jit_event_id"
PROP_OPENED: Final = "jit_opened"  # the card thread's first line (says what request.created would)
PROP_SYSTEM: Final = "jit_system_event"  # type and detail of a drift or break-glass event
PROP_COPY: Final = "jit_approver_copy"  # an approver's DM copy of the card (value: the request id)

_COLOURS: Final = {
    RequestStatus.PENDING: "#1c58d9",
    RequestStatus.APPROVED: "#3db887",
    RequestStatus.GRANTED: "#3db887",
    RequestStatus.REVOKED: "#8a8a8a",
    RequestStatus.DENIED: "#d24b4e",
    RequestStatus.CANCELLED: "#8a8a8a",
    RequestStatus.EXPIRED: "#8a8a8a",
    RequestStatus.ERROR: "#d24b4e",
}


def when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def _target(view: RequestView) -> str:
    permission_set = neutralise(view.permission_set, 64, single_line=True)
    return f"{permission_set} on {neutralise(view.account_name, 64, single_line=True)}"


def status_line(view: RequestView) -> str:
    """One sentence saying where the request stands."""
    decider = username(view.decided_by.username) if view.decided_by else ""
    by = f" by {decider}" if decider else ""
    match view.status:
        case RequestStatus.PENDING:
            return f"Waiting for approval ({tally(view)})"
        case RequestStatus.APPROVED:
            return "Approved, access is being granted"
        case RequestStatus.GRANTED:
            return f"Granted until {when(view.end_time)}"
        case RequestStatus.REVOKED:
            return f"Revoked at {when(view.end_time)}" if view.end_time else "Revoked"
        case RequestStatus.DENIED:
            return f"Denied{by}"
        case RequestStatus.CANCELLED:
            return "Cancelled by the requester"
        case RequestStatus.EXPIRED:
            return "Expired: nobody decided in time"
        case RequestStatus.ERROR:
            return "Error: access could not be granted" + (
                f" ({neutralise(view.last_error, 200, single_line=True)})" if view.last_error else ""
            )


def tally(view: RequestView) -> str:
    names = ", ".join(username(a.approver.username) for a in view.approvals)
    text = f"{len(view.approvals)} of {view.approvals_required} approvals"
    return f"{text}: {names}" if names else text


def card(view: RequestView, actions: list[dict[str, Any]]) -> tuple[str, Props]:
    """The approval card as (message, props); ``actions`` are the buttons (empty once decided)."""
    fields = [
        {"title": "Requester", "value": username(view.requester.username), "short": True},
        {"title": "Access", "value": _target(view), "short": True},
        {"title": "Duration", "value": neutralise(view.duration, 16, single_line=True), "short": True},
        {"title": "Status", "value": status_line(view), "short": True},
        {"title": "Reason", "value": neutralise(view.reason, 500), "short": False},
    ]
    if view.approvals_required > 1 or view.approvals:
        fields.append({"title": "Approvals", "value": tally(view), "short": False})
    if view.decided_by and view.status is not RequestStatus.PENDING:
        fields.append({"title": "Decided by", "value": username(view.decided_by.username), "short": True})
    if view.decision_note:
        fields.append({"title": "Note", "value": neutralise(view.decision_note, 300), "short": False})
    attachment: dict[str, Any] = {
        "fallback": f"Access request {view.request_id}: {view.status.value}",
        "color": _COLOURS[view.status],
        "title": f"Access request {view.request_id}",
        "fields": fields,
        "footer": f"{view.status.value} · version {view.version}",
    }
    if actions:
        attachment["actions"] = actions
    message = bound_post(f"{username(view.requester.username)} asks for **{_target(view)}** for {view.duration}.")
    return message, {"attachments": [attachment], PROP_REQUEST: view.request_id, PROP_VERSION: view.version}


def button(action_id: str, name: str, style: str, url: str, context: dict[str, Any]) -> dict[str, Any]:
    if not action_id.isalnum() or not action_id.isascii():
        raise ValueError("Mattermost action ids must be alphanumeric")
    return {
        "id": action_id,
        "type": "button",
        "name": name,
        "style": style,
        "integration": {"url": url, "context": context},
    }


def history_line(event: LifecycleEvent) -> str | None:
    """The card thread's line for an event, or None when the event adds nothing to say."""
    view = event.request
    actor = username(event.actor.username) if event.actor else "the system"
    note = f": {neutralise(event.detail, 300)}" if event.detail else ""
    if view is None:
        return None
    lines = {
        "request.created": f"{actor} requested {_target(view)} for {view.duration}",
        "request.approval_recorded": f"{actor} approved ({tally(view)})",
        "request.approval_reminder": "Reminder: nobody has decided yet; "
        f"the request expires at {when(view.approval_deadline)}",
        "request.approved": f"{actor} approved; access is being granted"
        if event.actor
        else "Auto-approved by policy; access is being granted",
        "request.denied": f"{actor} denied the request{note}",
        "request.cancelled": f"{actor} cancelled the request",
        "request.expired": "Expired: nobody decided in time",
        "request.granted": f"Access granted until {when(view.end_time)}",
        "request.expiring_soon": f"Access ends at {when(view.end_time)}",
        "request.extended": f"{actor} extended access until {when(view.end_time)}",
        "request.revoke_requested": f"{actor} asked to end access now{note}",
        "request.revoked": "Access revoked"
        + (f"; live AWS sessions ended at {when(view.sessions_ended_at)}" if view.sessions_ended_at else ""),
        "request.revoke_failed": f"Revoking failed{note}; the reconciler will retry",
        "request.error": f"Error: {neutralise(view.last_error or 'the grant failed', 300)}",
        "access.break_glass": f"{actor} revoked access with break-glass{note}",
    }
    line = lines.get(event.type)
    return bound_post(line) if line else None


def approver_reminder(view: RequestView, channel_name: str) -> str:
    """The half-timeout reminder to one approver, by DM."""
    return bound_post(
        f"Reminder: {username(view.requester.username)}'s request `{view.request_id}` for {_target(view)} "
        f"waits for a decision until **{when(view.approval_deadline)}**. Decide on the card in ~{channel_name} "
        "or with `/jit approvals`."
    )


def opened_line(view: RequestView) -> str:
    return bound_post(f"{username(view.requester.username)} requested {_target(view)} for {view.duration}")


def requester_dm(event: LifecycleEvent, portal_url: str) -> str | None:
    """The requester's direct message for an event, or None when they need not hear about it."""
    view = event.request
    if view is None:
        return None
    what = f"**{_target(view)}** (request `{view.request_id}`)"
    by = f" by {username(event.actor.username)}" if event.actor else ""
    portal = f" Sign in through the AWS access portal: {portal_url}" if portal_url else ""
    messages = {
        "request.approved": f"Your request for {what} was approved{by}. Access is being granted.",
        "request.granted": f"You now have {what} until **{when(view.end_time)}**.{portal}",
        "request.expiring_soon": f"Your access to {what} ends at **{when(view.end_time)}**.",
        "request.extended": f"Your access to {what} now lasts until **{when(view.end_time)}**.",
        "request.revoked": f"Your access to {what} has been revoked."
        + (" Your live AWS sessions have been ended too." if view.sessions_ended_at else ""),
        "request.denied": f"Your request for {what} was denied{by}."
        + (f" Note: {neutralise(view.decision_note, 300)}" if view.decision_note else ""),
        "request.expired": f"Your request for {what} expired: nobody decided in time.",
        "request.error": f"Your request for {what} failed: "
        f"{neutralise(view.last_error or 'the grant did not succeed', 300)}. You can request again.",
    }
    text = messages.get(event.type)
    return bound_post(text) if text else None


def request_summary(view: RequestView) -> str:
    """One list line: id, target, status."""
    return f"- `{view.request_id}` {_target(view)} for {view.duration}: {status_line(view)}"


_SYSTEM_TITLES: Final = {
    "access.drift_detected": ":warning: **Access drift** (a managed permission set held by no JIT request)",
    "access.break_glass": ":rotating_light: **Break-glass revoke**",
    "access.sessions_ended_wide": ":warning: **Live sessions ended for everyone** (inline policy near its size limit)",
}


def system_event_line(event: LifecycleEvent) -> str:
    """An event about access rather than one request (drift, a break-glass sweep), for on-call;
    also the one line naming a request whose approval expired with no decision."""
    if event.type == "request.expired" and event.request is not None:
        view = event.request
        return bound_post(
            f":hourglass: **Approval expired**: request `{view.request_id}` by {username(view.requester.username)} "
            f"for {_target(view)} had no decision within the approval timeout; the requester was told."
        )
    title = _SYSTEM_TITLES.get(event.type, f"**{event.type}**")
    detail = neutralise(event.detail or "", 1000, single_line=True)
    who = f" by {username(event.actor.username)}" if event.actor else ""
    return bound_post(f"{title}{who}: {detail} ({when(event.occurred_at)})")


REPEAT_SYSTEM_EVENTS_AFTER: Final = timedelta(hours=24)


def system_key(event: LifecycleEvent) -> str:
    return f"{event.type}|{event.detail or ''}"


def own_posts(found: list[dict[str, Any]], author: str) -> list[dict[str, Any]]:
    """Only the posts ``author`` (the bot) wrote: anyone in a channel can put any props on their posts."""
    return [post for post in found if author and post.get("user_id") == author]


def already_told(recent: list[dict[str, Any]], event: LifecycleEvent, now: datetime, *, author: str) -> bool:
    """This event, or the same drift within the last day, is already in the channel (in a post by ``author``)."""
    since_ms = (now - REPEAT_SYSTEM_EVENTS_AFTER).timestamp() * 1000
    for post in own_posts(recent, author):
        props = post.get("props") or {}
        if props.get(PROP_EVENT) == event.event_id:
            return True
        if props.get(PROP_SYSTEM) == system_key(event) and post.get("create_at", 0) >= since_ms:
            return True
    return False
