"""Carry out a parsed command for one person and tell them the outcome through ``reply``."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from pydantic import ValidationError

from bot.access import posts
from bot.access.explain import explain
from bot.access.report import send_report
from bot.access.services import AccessServices, Reply, idempotency_key, submitted_text
from bot.commands import parsing as p
from bot.commands.dialog import DialogState, request_dialog, sign_state
from bot.mattermost.client import MattermostUnavailable
from jitwire.chattext import bound_post, neutralise, username
from jitwire.client import BackendError, BackendUnavailable
from jitwire.contract import CreateRequestBody, RequestView
from jitwire.models import Person

log = logging.getLogger("bot.commands")


async def execute(
    services: AccessServices,
    command: p.Command,
    actor: Person,
    reply: Reply,
    *,
    source_id: str,
    trigger_id: str = "",
    response_url: str = "",
) -> None:
    """Never raises for expected failures: the person is told in one sentence."""
    answer_failed = False

    async def answer(text: str) -> None:
        nonlocal answer_failed
        try:
            await reply(text)
        except MattermostUnavailable:
            answer_failed = True
            raise

    try:
        await _dispatch(services, command, actor, answer, source_id, trigger_id, response_url)
    except (BackendError, BackendUnavailable) as error:
        await reply(explain(error))
    except ValidationError as error:
        await reply(f"That is not valid: {error.error_count()} field(s) out of bounds. See `/jit help`.")
    except MattermostUnavailable:
        log.exception("Mattermost failed while running %s", type(command).__name__)
        # A failed answer may still have been posted (the response lost as Mattermost went down):
        # a second answer would then be a duplicate, so only a failure elsewhere is explained.
        if not answer_failed:
            await reply("Mattermost refused part of this; please try again.")


async def _dispatch(
    services: AccessServices,
    command: p.Command,
    actor: Person,
    reply: Reply,
    source_id: str,
    trigger_id: str,
    response_url: str,
) -> None:
    match command:
        case p.Help():
            await reply(p.USAGE)
        case p.Request():
            await _request(services, command, actor, reply, source_id)
        case p.OpenRequestDialog():
            await _open_dialog(services, command, actor, reply, trigger_id, response_url)
        case p.ListMine():
            found = await services.backend.run(lambda c: c.list_requests(actor, "mine", limit=20))
            await reply(_listing("Your requests", found.requests, "You have no requests yet."))
        case p.Approvals():
            found = await services.backend.run(lambda c: c.list_requests(actor, "pending_approval", limit=50))
            await reply(await _approvals(services, actor, found.requests))
        case p.Status(request_id=request_id):
            view = await services.backend.run(lambda c: c.get_request(actor, request_id))
            await reply(_detail(view))
        case p.Cancel(request_id=request_id):
            view = await services.backend.run(lambda c: c.cancel(actor, request_id))
            await services.cards.render(view)
            await reply(f"Request `{view.request_id}` is cancelled.")
        case p.Revoke(request_id=request_id):
            view = await services.backend.run(lambda c: c.revoke(actor, request_id, "ended early from chat"))
            await reply(f"Revoking `{view.request_id}` now; you will get a message when it is done.")
        case p.Extend(request_id=request_id, duration=duration):
            view = await services.backend.run(lambda c: c.extend(actor, request_id, duration))
            await services.cards.render(view)
            await reply(f"`{view.request_id}` now lasts until {posts.when(view.end_time)}.")
        case p.ShowPolicy() | p.Report():
            await _admin_view(services, command, actor, reply)
        case p.BreakGlass(request_id=request_id, reason=reason):
            note = "break-glass: " + reason
            view = await services.backend.run(lambda c: c.revoke(actor, request_id, note[:500]))
            await reply(f"Break-glass revoke of `{view.request_id}` started; the card will say when it is done.")


async def _admin_view(services: AccessServices, command: p.ShowPolicy | p.Report, actor: Person, reply: Reply) -> None:
    if isinstance(command, p.Report):
        await send_report(services, actor, command.window, reply)
        return
    policy = await services.backend.run(lambda c: c.get_policy(actor))
    await reply(_policy(policy))


async def _request(services: AccessServices, command: p.Request, actor: Person, reply: Reply, source_id: str) -> None:
    body = CreateRequestBody(
        actor=actor,
        account=command.account,
        permission_set=command.permission_set,
        duration=command.duration,
        reason=command.reason,
        idempotency_key=idempotency_key("command", source_id),
    )
    view = await services.submit_request(body)
    await reply(submitted_text(services, view))


async def _open_dialog(
    services: AccessServices,
    command: p.OpenRequestDialog,
    actor: Person,
    reply: Reply,
    trigger_id: str,
    response_url: str,
) -> None:
    if not trigger_id:
        await reply("Give all the details in one line: `request <account> <permission set> <duration> <reason>`.")
        return
    catalog = await services.backend.run(lambda c: c.catalog(actor))
    if not catalog.entries:
        await reply("There is no access you may request. Ask an admin if that is wrong.")
        return
    state = DialogState(
        user_id=actor.user_id,
        response_url=response_url,
        exp=int((services.clock() + timedelta(minutes=30)).timestamp()),
    )
    dialog = request_dialog(catalog, command, sign_state(services.signer, state))
    await services.mm.open_dialog(trigger_id, services.dialog_url, dialog)


async def _approvals(services: AccessServices, actor: Person, found: tuple[RequestView, ...]) -> str:
    """The list, and a DM copy of each card with Approve / Deny for the caller.

    DM, not ephemeral: a button's signed context names its post, which an ephemeral reply does not
    have before it is shown, and a DM copy stays in sync with the card (it is found again by its
    props whenever the request changes) where an ephemeral one would go stale with live buttons.
    Only a caller whose binding existed when the request was made is among the request's notified
    approvers (the copies kept in sync); anyone else decides on the card.
    """
    if not found:
        return "Nothing is waiting for you."
    lines = ["**Waiting for your approval**"]
    copied = 0
    for view in found:
        line = posts.request_summary(view)
        if actor.user_id in view.approver_user_ids and await services.cards.copy_to(view, actor.user_id):
            copied += 1
        else:
            line += f" (decide on the card in ~{services.approvals_channel_name})"
        lines.append(line)
    if copied:
        lines.append(f"Approve / Deny buttons for {copied} of them are in your direct messages with me.")
    return bound_post("\n".join(lines))


def _listing(title: str, found: tuple[RequestView, ...], empty: str) -> str:
    if not found:
        return empty
    lines = [f"**{title}**", *(posts.request_summary(v) for v in found)]
    return bound_post("\n".join(lines))


def _detail(view: RequestView) -> str:
    lines = [
        f"**Request `{view.request_id}`**",
        f"- Access: {neutralise(view.permission_set, 64)} on {neutralise(view.account_name, 64)} for {view.duration}",
        f"- Requester: {username(view.requester.username)}",
        f"- Status: {posts.status_line(view)}",
        f"- Reason: {neutralise(view.reason, 500)}",
    ]
    if view.start_time:
        lines.append(f"- Granted: {posts.when(view.start_time)} until {posts.when(view.end_time)}")
    return bound_post("\n".join(lines))


def _policy(policy: dict[str, object]) -> str:
    # A code block never notifies anyone; backticks are broken so nothing escapes the fence.
    text = json.dumps(policy, indent=2, ensure_ascii=False, default=str).replace("`", "'")
    return bound_post("**The access policy in force**\n```json\n" + text[:15000] + "\n```")
