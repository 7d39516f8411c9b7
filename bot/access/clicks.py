"""Button clicks: approve/deny on the card (or an approver's DM copy of it), extend/"I'm done" in
the requester's DM.

Mattermost signs nothing on clicks (docs/architecture.md, "Buttons and clicks"), so: the
context's HMAC (constant time), its expiry, that the click came from the post and channel the
context was made for, and for card buttons that this post is the request's recorded card or the
bot's DM copy of it. The clicker is whoever Mattermost's session says (``user_id``), looked up
through the API, never a display name.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.access import posts
from bot.access.action_context import ActionContext
from bot.access.explain import explain
from bot.access.services import AccessServices
from bot.logsafe import shown
from bot.mattermost.client import MattermostUnavailable
from bot.mattermost.payloads import ActionClick
from bot.signed_context import BUTTON_REFUSALS, ContextRejected
from jitwire.client import BackendError, BackendUnavailable
from jitwire.contract import RequestView
from jitwire.models import Person

log = logging.getLogger("bot.clicks")


async def handle_click(services: AccessServices, click: ActionClick) -> dict[str, Any]:
    """The click reply: always 200 with an ``ephemeral_text`` for the clicker."""
    try:
        ctx = services.signer.verify(
            click.context, post_id=click.post_id, channel_id=click.channel_id, now=services.clock()
        )
    except ContextRejected as rejected:
        log.warning(
            "button click refused reason=%s post_id=%s user_id=%s",
            rejected.reason,
            shown(click.post_id),
            shown(click.user_id),
        )
        return {"ephemeral_text": rejected.told}
    try:
        actor = await services.mm.person(click.user_id)
        if ctx.action in ("approve", "deny"):
            return await _decide(services, ctx, actor)
        return await _requester_button(services, ctx, actor)
    except (BackendError, BackendUnavailable) as error:
        return {"ephemeral_text": explain(error)}
    except MattermostUnavailable:
        log.exception("Mattermost failed during a click on %s", shown(click.post_id))
        return {"ephemeral_text": "Mattermost failed while handling this click; please try again."}


async def _decide(services: AccessServices, ctx: ActionContext, actor: Person) -> dict[str, Any]:
    view = await services.backend.run(lambda c: c.get_request(actor, ctx.request_id))
    on_card = view.card is not None and (view.card.post_id, view.card.channel_id) == (ctx.post_id, ctx.channel_id)
    if not on_card and not await services.cards.is_copy(ctx.request_id, ctx.post_id, ctx.channel_id):
        log.warning("button click refused reason=not_the_card request_id=%s post_id=%s", ctx.request_id, ctx.post_id)
        return {"ephemeral_text": BUTTON_REFUSALS["wrong_post"]}
    decision = ctx.action
    after = await services.backend.run(lambda c: c.decide(actor, ctx.request_id, decision))
    await services.cards.render(after)
    return {"ephemeral_text": _decided_text(decision, after)}


def _decided_text(decision: str, view: RequestView) -> str:
    if decision == "deny":
        return f"You denied `{view.request_id}`."
    return f"You approved `{view.request_id}`: {posts.status_line(view)}."


async def _requester_button(services: AccessServices, ctx: ActionContext, actor: Person) -> dict[str, Any]:
    if ctx.action == "extend":
        current = await services.backend.run(lambda c: c.get_request(actor, ctx.request_id))
        after = await services.backend.run(lambda c: c.extend(actor, ctx.request_id, current.duration))
        await services.cards.render(after)
        text = f"Extended: access now lasts until {posts.when(after.end_time)}."
    else:
        after = await services.backend.run(lambda c: c.revoke(actor, ctx.request_id, "ended by the requester"))
        text = "Ending your access now; you will get a message when it is revoked."
    # The buttons have done their job: replace the DM's props without them.
    post = await services.mm.get_post(ctx.post_id)
    props = {k: v for k, v in (post.get("props") or {}).items() if k in (posts.PROP_EVENT, posts.PROP_REQUEST)}
    return {"update": {"message": str(post.get("message", "")), "props": props}, "ephemeral_text": text}
