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

from bot import posts
from bot.action_context import ActionContext, ContextRejected
from bot.core import Core
from bot.explain import explain
from bot.logsafe import shown
from bot.mattermost.client import MattermostUnavailable
from bot.mattermost.payloads import ActionClick
from jitwire.client import BackendError, BackendUnavailable
from jitwire.contract import RequestView
from jitwire.models import Person

log = logging.getLogger("bot.clicks")

_REFUSED = {
    "malformed_context": "This button is not one of ours.",
    "bad_signature": "This button is not one of ours.",
    "expired": "This button has expired.",
    "wrong_post": "This button does not belong to this message.",
}


async def handle_click(core: Core, click: ActionClick) -> dict[str, Any]:
    """The click reply: always 200 with an ``ephemeral_text`` for the clicker."""
    try:
        ctx = core.signer.verify(click.context, post_id=click.post_id, channel_id=click.channel_id, now=core.clock())
    except ContextRejected as rejected:
        log.warning(
            "button click refused reason=%s post_id=%s user_id=%s",
            rejected.reason,
            shown(click.post_id),
            shown(click.user_id),
        )
        return {"ephemeral_text": _REFUSED.get(rejected.reason, "This button cannot be used.")}
    try:
        actor = await core.mm.person(click.user_id)
        if ctx.action in ("approve", "deny"):
            return await _decide(core, ctx, actor)
        return await _requester_button(core, ctx, actor)
    except (BackendError, BackendUnavailable) as error:
        return {"ephemeral_text": explain(error)}
    except MattermostUnavailable:
        log.exception("Mattermost failed during a click on %s", shown(click.post_id))
        return {"ephemeral_text": "Mattermost failed while handling this click; please try again."}


async def _decide(core: Core, ctx: ActionContext, actor: Person) -> dict[str, Any]:
    view = await core.backend.run(lambda c: c.get_request(actor, ctx.request_id))
    on_card = view.card is not None and (view.card.post_id, view.card.channel_id) == (ctx.post_id, ctx.channel_id)
    if not on_card and not await core.cards.is_copy(ctx.request_id, ctx.post_id, ctx.channel_id):
        log.warning("button click refused reason=not_the_card request_id=%s post_id=%s", ctx.request_id, ctx.post_id)
        return {"ephemeral_text": _REFUSED["wrong_post"]}
    decision = ctx.action
    after = await core.backend.run(lambda c: c.decide(actor, ctx.request_id, decision))
    await core.cards.render(after)
    return {"ephemeral_text": _decided_text(decision, after)}


def _decided_text(decision: str, view: RequestView) -> str:
    if decision == "deny":
        return f"You denied `{view.request_id}`."
    return f"You approved `{view.request_id}`: {posts.status_line(view)}."


async def _requester_button(core: Core, ctx: ActionContext, actor: Person) -> dict[str, Any]:
    if ctx.action == "extend":
        current = await core.backend.run(lambda c: c.get_request(actor, ctx.request_id))
        after = await core.backend.run(lambda c: c.extend(actor, ctx.request_id, current.duration))
        await core.cards.render(after)
        text = f"Extended: access now lasts until {posts.when(after.end_time)}."
    else:
        after = await core.backend.run(lambda c: c.revoke(actor, ctx.request_id, "ended by the requester"))
        text = "Ending your access now; you will get a message when it is revoked."
    # The buttons have done their job: replace the DM's props without them.
    post = await core.mm.get_post(ctx.post_id)
    props = {k: v for k, v in (post.get("props") or {}).items() if k in (posts.PROP_EVENT, posts.PROP_REQUEST)}
    return {"update": {"message": str(post.get("message", "")), "props": props}, "ephemeral_text": text}
