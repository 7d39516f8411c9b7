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

from bot.access import posts
from bot.access.action_context import Action, ContextSigner
from bot.ports import ChatPort
from jitwire.contract import LifecycleEvent, RequestView
from jitwire.models import RequestStatus

log = logging.getLogger("bot.cards")

FINAL = frozenset(
    {RequestStatus.REVOKED, RequestStatus.DENIED, RequestStatus.EXPIRED, RequestStatus.CANCELLED, RequestStatus.ERROR}
)


class Cards:
    def __init__(
        self,
        mm: ChatPort,
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

    async def render(self, view: RequestView, *, create_copies: bool = False) -> bool:
        """Bring the card and every approver's DM copy up to ``view``; False when the card already
        shows this version or a newer one (copies are brought up to date either way)."""
        await self.sync_copies(view, create=create_copies)
        return await self._render_card(view)

    async def _render_card(self, view: RequestView) -> bool:
        if view.card is None:
            return False
        post = await self._mm.get_post(view.card.post_id)
        mine = posts.own_posts([post], self._mm.bot_user_id)  # a version on anyone else's post means nothing
        shown = (mine[0].get("props") or {}).get(posts.PROP_VERSION) if mine else None
        if isinstance(shown, int) and shown >= view.version:
            return False
        actions = self._decision_buttons(view, view.card.post_id, view.card.channel_id)
        message, props = posts.card(view, actions)
        await self._mm.patch_post(view.card.post_id, message, props)
        return True

    def _decision_buttons(self, view: RequestView, post_id: str, channel_id: str) -> list[dict[str, Any]]:
        if view.status is not RequestStatus.PENDING:
            return []  # final or on its way: the buttons go everywhere at once
        return self._buttons(
            view.request_id, post_id, channel_id, [("approve", "Approve", "success"), ("deny", "Deny", "danger")]
        )

    async def _find_copy(self, view: RequestView, user_id: str) -> tuple[str, dict[str, Any] | None]:
        channel_id = await self._mm.direct_channel(user_id)
        for post in posts.own_posts(await self._mm.recent_posts(channel_id), self._mm.bot_user_id):
            if (post.get("props") or {}).get(posts.PROP_COPY) == view.request_id:
                return channel_id, post
        return channel_id, None

    async def copy_to(self, view: RequestView, user_id: str) -> str | None:
        """Make sure ``user_id`` has a DM copy of the card (with the same buttons while pending).

        Idempotent: an existing copy is brought up to date instead. Returns the copy's post id.
        """
        channel_id, copy = await self._find_copy(view, user_id)
        if copy is not None:
            await self._patch_copy(view, copy)
            return str(copy["id"])
        if view.status is not RequestStatus.PENDING:
            return None
        message, props = posts.card(view, [])
        props[posts.PROP_COPY] = view.request_id
        props[posts.PROP_VERSION] = -1  # buttons come with the first render, once the post id is known
        created = await self._mm.create_post(channel_id, message, props)
        post_id = str(created["id"])
        message, props = posts.card(view, self._decision_buttons(view, post_id, channel_id))
        props[posts.PROP_COPY] = view.request_id
        await self._mm.patch_post(post_id, message, props)
        return post_id

    async def _patch_copy(self, view: RequestView, copy: dict[str, Any]) -> None:
        props = copy.get("props") or {}
        shown = props.get(posts.PROP_VERSION)
        if isinstance(shown, int) and shown >= view.version:
            return
        post_id, channel_id = str(copy["id"]), str(copy.get("channel_id", ""))
        message, new_props = posts.card(view, self._decision_buttons(view, post_id, channel_id))
        new_props[posts.PROP_COPY] = view.request_id
        await self._mm.patch_post(post_id, message, new_props)

    async def sync_copies(self, view: RequestView, *, create: bool = False) -> None:
        """Every bound approver's DM copy shows ``view``: one decision updates every copy, and the
        buttons leave all of them once the request is no longer pending. With ``create`` (the
        request's events, when the rule says ``dm`` or ``both``) missing copies are posted."""
        for user_id in view.approver_user_ids:
            if create and view.notify_approvers != "channel":
                await self.copy_to(view, user_id)
                continue
            _, copy = await self._find_copy(view, user_id)
            if copy is not None:
                await self._patch_copy(view, copy)

    async def is_copy(self, request_id: str, post_id: str, channel_id: str) -> bool:
        """The post is the bot's DM copy of this request's card, in that channel."""
        post = await self._mm.get_post(post_id)
        if not posts.own_posts([post], self._mm.bot_user_id) or post.get("channel_id") != channel_id:
            return False
        return (post.get("props") or {}).get(posts.PROP_COPY) == request_id

    async def remind_approvers(self, event: LifecycleEvent, channel_name: str) -> None:
        """The half-timeout reminder by DM to every bound approver, once per approver."""
        view = event.request
        if view is None or event.type != "request.approval_reminder" or view.status is not RequestStatus.PENDING:
            return
        text = posts.approver_reminder(view, channel_name)
        for user_id in view.approver_user_ids:
            channel_id = await self._mm.direct_channel(user_id)
            recent = posts.own_posts(await self._mm.recent_posts(channel_id), self._mm.bot_user_id)
            if any((p.get("props") or {}).get(posts.PROP_EVENT) == event.event_id for p in recent):
                continue
            await self._mm.create_post(
                channel_id, text, {posts.PROP_EVENT: event.event_id, posts.PROP_REQUEST: view.request_id}
            )

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
