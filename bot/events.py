"""``jit-events`` lifecycle notifications → card edits, thread history and the requester's DMs.

Everything here is an idempotent render, so SNS redelivery and a second replica are harmless:
the card never goes back to an older version; DMs and history lines are posted once per event.
"""

from __future__ import annotations

import asyncio
import logging

from pydantic import ValidationError

from alarms.sns import SeenMessages
from bot import posts
from bot.core import Core
from jitwire.contract import LifecycleEvent

log = logging.getLogger("bot.events")


class EventRejected(Exception):
    """The notification is not a lifecycle event we understand (answered 400, not retried)."""


def parse_event(message: str) -> LifecycleEvent:
    try:
        return LifecycleEvent.model_validate_json(message)
    except ValidationError as exc:
        raise EventRejected(f"not a lifecycle event: {exc.error_count()} problems") from exc


class LifecycleHandler:
    def __init__(self, core: Core, oncall_channel_id: str, seen: SeenMessages | None = None) -> None:
        self._core = core
        self._oncall = oncall_channel_id
        self._seen = seen or SeenMessages()
        self._oncall_lock = asyncio.Lock()  # concurrent deliveries must not both miss the other's post

    async def handle(self, event: LifecycleEvent) -> None:
        """Raises ``MattermostUnavailable`` when Mattermost fails, so SNS delivers again."""
        if event.type == "system.heartbeat":  # the delivery itself is the signal (runbook 04)
            log.debug("heartbeat %s acknowledged", event.event_id)
            return
        if self._seen.is_seen(event.event_id):
            log.info("lifecycle event %s (%s) already handled", event.event_id, event.type)
            return
        if event.request is not None:
            # A request created without the bot (the signed API, jit-admin, a bot that died before
            # placing the card) gets its card from its first event while it is still pending.
            view = await self._core.ensure_card(event.request)
            event = event.model_copy(update={"request": view})
            await self._core.cards.render(view, create_copies=True)
            await self._core.cards.add_history(event)
            await self._core.cards.remind_approvers(event, self._core.approvals_channel_name)
            await self._core.cards.tell_requester(event)
            if event.type == "request.expired":  # a stuck approval chain must be visible
                await self._tell_oncall(event)
            await self._core.cards.retire_dm_buttons(view)
        else:
            await self._tell_oncall(event)
        self._seen.mark(event.event_id)  # only after success: a failed post is retried by SNS
        log.info("lifecycle event %s (%s) handled", event.event_id, event.type)

    async def _tell_oncall(self, event: LifecycleEvent) -> None:
        """Drift and break-glass sweeps concern no single request: on-call hears of them, once.

        The reconciler reports standing drift on every run; the same drift is posted once a day.
        """
        async with self._oncall_lock:  # concurrent deliveries must not both miss the other's post
            recent = await self._core.mm.recent_posts(self._oncall)
            if posts.already_told(recent, event, self._core.clock(), author=self._core.mm.bot_user_id):
                return
            props = {posts.PROP_EVENT: event.event_id, posts.PROP_SYSTEM: posts.system_key(event)}
            await self._core.mm.create_post(self._oncall, posts.system_event_line(event), props)
