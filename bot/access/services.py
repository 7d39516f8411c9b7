"""What the access-request handlers share, wired once by the composition root (``bot.runtime``).

The collaborators (Mattermost, the backend's API, the cards, the button signer, the clock, the
approvals channel) and the two operations several handlers need: submit a request, and give a
pending request its one card.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from bot.access import posts
from bot.access.action_context import ContextSigner
from bot.access.cards import Cards
from bot.mattermost.client import MattermostUnavailable
from bot.ports import AccessApiPort, ChatPort
from jitwire.chattext import neutralise
from jitwire.client import BackendError
from jitwire.contract import CreateRequestBody, RequestView
from jitwire.models import RequestStatus

log = logging.getLogger("bot")

Reply = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class AccessServices:
    mm: ChatPort
    backend: AccessApiPort
    cards: Cards
    signer: ContextSigner
    clock: Callable[[], datetime]
    public_url: str
    approvals_channel_id: str
    approvals_channel_name: str

    @property
    def dialog_url(self) -> str:
        return self.public_url + "/mattermost/dialog"

    async def submit_request(self, body: CreateRequestBody) -> RequestView:
        """Create the request, then post its card and record where it is (any replica edits it later)."""
        view = await self.backend.run(lambda c: c.create_request(body))
        try:
            return await self.ensure_card(view)
        except MattermostUnavailable:
            # The request.created event (or SNS redelivering it) posts the card later.
            log.exception("could not post the card for %s", view.request_id)
            return view

    async def ensure_card(self, view: RequestView) -> RequestView:
        """A PENDING request without a card gets one: post it, then place it with the backend.

        Placement is conditional (the first card placed stays), so when replicas or a slash command
        and an event race, one card wins and every loser deletes its own post.
        """
        if view.card is not None or view.status is not RequestStatus.PENDING:
            return view
        # The event is a snapshot from before placement: the slash command that created the request
        # has usually placed its card by now, so look again rather than post a duplicate to delete.
        try:
            fresh = await self.backend.run(lambda c: c.get_request(view.requester, view.request_id))
        except BackendError:
            fresh = view  # cannot tell: post; conditional placement keeps one card
        if fresh.card is not None or fresh.status is not RequestStatus.PENDING:
            return fresh
        channel_id = self.approvals_channel_id
        post_id = await self.cards.place(view, channel_id)
        try:
            placed = await self.backend.run(
                lambda c: c.place_card(view.requester, view.request_id, channel_id, post_id)
            )
        except BackendError:
            await self.mm.delete_post(post_id)  # the backend said no: the post is recorded nowhere
            raise
        if placed.card is None or placed.card.post_id != post_id:
            log.info("card for %s placed by another replica; deleting post %s", view.request_id, post_id)
            await self.mm.delete_post(post_id)
            return placed
        await self.cards.render(placed)
        await self.cards.opened(placed)
        return placed


def idempotency_key(*parts: str) -> str:
    """A stable key from where a request came from (a post id, a trigger id)."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:40]


def submitted_text(services: AccessServices, view: RequestView) -> str:
    what = f"**{neutralise(view.permission_set, 64)}** on **{neutralise(view.account_name, 64)}** for {view.duration}"
    if view.status is RequestStatus.PENDING:
        return (
            f"Request `{view.request_id}` for {what} is waiting for approval in "
            f"~{services.approvals_channel_name} ({posts.tally(view)})."
        )
    return f"Request `{view.request_id}` for {what}: {posts.status_line(view)}."
