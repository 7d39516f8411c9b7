"""The approval card and the requester's DMs as idempotent renders of a ``RequestView``.

No local state: the card's post props record which request version it shows, so every replica
(and every redelivered event) converges on the newest render and never goes back to an older
one; DMs and history lines carry their event id and are posted once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from backend.api.contract import LifecycleEvent, RequestView
from backend.domain.models import RequestStatus
from bot import posts
from bot.action_context import Action, ContextSigner
from bot.mattermost.client import MattermostClient

log = logging.getLogger("bot.cards")

FINAL = frozenset(
    {RequestStatus.REVOKED, RequestStatus.DENIED, RequestStatus.EXPIRED, RequestStatus.CANCELLED, RequestStatus.ERROR}
)


class Cards:
    def __init__(
        self,
        mm: MattermostClient,
        signer: ContextSigner,
        actions_url: str,
        portal_url: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._mm = mm
        self._signer = signer
        self._actions_url = actions_url
        self._portal_url = portal_url
        self._clock = clock

    def _buttons(
        self, request_id: str, post_id: str, channel_id: str, labels: list[tuple[Action, str, str]]
    ) -> list[dict[str, Any]]:
        now = self._clock()
        return [
            posts.button(
                action, label, style, self._actions_url, self._signer.sign(request_id, action, post_id, channel_id, now)
            )
            for action, label, style in labels
        ]

    async def place(self, view: RequestView, channel_id: str) -> str:
        """Post a new card (buttons come with the first render, once the post id is known)."""
        message, props = posts.card(view, [])
        props[posts.PROP_VERSION] = -1
        created = await self._mm.create_post(channel_id, message, props)
        return str(created["id"])

    async def render(self, view: RequestView) -> bool:
        """Bring the card up to ``view``; False when it already shows this version or a newer one."""
        if view.card is None:
            return False
        post = await self._mm.get_post(view.card.post_id)
        mine = posts.own_posts([post], self._mm.bot_user_id)  # a version on anyone else's post means nothing
        shown = (mine[0].get("props") or {}).get(posts.PROP_VERSION) if mine else None
        if isinstance(shown, int) and shown >= view.version:
            return False
        actions: list[dict[str, Any]] = []
        if view.status is RequestStatus.PENDING:
            actions = self._buttons(
                view.request_id,
                view.card.post_id,
                view.card.channel_id,
                [("approve", "Approve", "success"), ("deny", "Deny", "danger")],
            )
        message, props = posts.card(view, actions)
        await self._mm.patch_post(view.card.post_id, message, props)
        return True

    async def opened(self, view: RequestView) -> None:
        """The thread's first line (the ``request.created`` event came before the card existed)."""
        if view.card is not None:
            props = {posts.PROP_OPENED: view.request_id}
            await self._mm.create_post(view.card.channel_id, posts.opened_line(view), props, root_id=view.card.post_id)

    async def add_history(self, event: LifecycleEvent) -> None:
        view = event.request
        line = posts.history_line(event)
        if view is None or view.card is None or line is None:
            return
        thread = posts.own_posts(await self._mm.thread_posts(view.card.post_id), self._mm.bot_user_id)
        if any((p.get("props") or {}).get(posts.PROP_EVENT) == event.event_id for p in thread):
            return
        if event.type == "request.created" and any(posts.PROP_OPENED in (p.get("props") or {}) for p in thread):
            return  # the thread's opening line already says it
        await self._mm.create_post(
            view.card.channel_id, line, {posts.PROP_EVENT: event.event_id}, root_id=view.card.post_id
        )

    async def tell_requester(self, event: LifecycleEvent) -> None:
        view = event.request
        text = posts.requester_dm(event, self._portal_url)
        if view is None or text is None:
            return
        channel_id = await self._mm.direct_channel(view.requester.user_id)
        recent = posts.own_posts(await self._mm.recent_posts(channel_id), self._mm.bot_user_id)
        if any((p.get("props") or {}).get(posts.PROP_EVENT) == event.event_id for p in recent):
            return  # another replica or an earlier delivery already said it
        props: dict[str, Any] = {posts.PROP_EVENT: event.event_id, posts.PROP_REQUEST: view.request_id}
        created = await self._mm.create_post(channel_id, text, props)
        if event.type == "request.expiring_soon":
            buttons = self._buttons(
                view.request_id,
                str(created["id"]),
                channel_id,
                [("extend", "Extend", "primary"), ("done", "I'm done", "default")],
            )
            props["attachments"] = [{"fallback": "Extend or end your access", "text": "", "actions": buttons}]
            await self._mm.patch_post(str(created["id"]), text, props)

    async def retire_dm_buttons(self, view: RequestView) -> None:
        """Once a request is final its DM buttons (Extend / I'm done) can do nothing: remove them.

        Idempotent: a DM without attachments is left alone, so redelivery and replicas are harmless.
        """
        if view.status not in FINAL:
            return
        channel_id = await self._mm.direct_channel(view.requester.user_id)
        for post in await self._mm.recent_posts(channel_id):
            props = post.get("props") or {}
            if props.get(posts.PROP_REQUEST) != view.request_id or not props.get("attachments"):
                continue
            if post.get("user_id") != self._mm.bot_user_id:
                continue
            kept = {k: v for k, v in props.items() if k != "attachments"}
            await self._mm.patch_post(str(post["id"]), str(post.get("message", "")), kept)
