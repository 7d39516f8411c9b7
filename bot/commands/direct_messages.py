"""Websocket events: a direct message to the bot is a command (``request prod ReadOnly 1h why``).

The handler only schedules work, so reading the socket never waits on a REST call. With several
replicas every one of them receives each DM; a DM is handled by the replica its post id hashes
to (``replica_index`` of ``replica_count``), so each is answered once.

Nothing sent while the socket was down is lost: after a fresh ``hello`` (a new connection id) or
a gap in the event sequence, the bot reads its DM channels' posts since the last DM it saw
(``GET /channels/{id}/posts?since=``) and answers what it missed. Handled post ids are
remembered (bounded) across reconnects, and a post the bot already replied to (``jit_reply_to``)
is skipped, so each DM is answered exactly once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from pydantic import ValidationError

from alarms.sns import SeenMessages
from bot.access.services import AccessServices
from bot.commands import parsing
from bot.commands.run import execute
from bot.mattermost.client import MattermostUnavailable
from bot.mattermost.payloads import WsEvent, WsPost

log = logging.getLogger("bot.direct")

PROP_REPLY_TO = "jit_reply_to"
# Read back a little before the last DM seen: clocks and in-flight posts; the handled ids dedupe.
CATCH_UP_OVERLAP_MS = 60_000
# A catch-up that fails (Mattermost still starting) is tried again after these pauses.
CATCH_UP_RETRY_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0)


def owned_by(post_id: str, replica_index: int, replica_count: int) -> bool:
    digest = hashlib.sha256(post_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % replica_count == replica_index


def command_text(message: str, trigger: str) -> str:
    """``/jit request ...`` and ``jit request ...`` in a DM mean the same as ``request ...``."""
    words = message.strip().split(maxsplit=1)
    if words and words[0].lower().lstrip("/") == trigger:
        return words[1] if len(words) > 1 else ""
    return message.strip()


class DirectMessages:
    def __init__(
        self,
        services: AccessServices,
        trigger: str,
        replica_index: int,
        replica_count: int,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        *,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        handled_memory: int = 10_000,
        sleep: Callable[[float], Coroutine[Any, Any, None]] = asyncio.sleep,
        recovered: Callable[[int], None] = lambda _count: None,
    ) -> None:
        self._services = services
        self._trigger = trigger
        self._index = replica_index
        self._count = replica_count
        self._spawn = spawn  # the runtime tracks the tasks and awaits them on shutdown
        self._now_ms = now_ms
        self._sleep = sleep
        self._recovered = recovered  # counts DMs answered only thanks to a catch-up (jit_bot_dms_recovered)
        self._handled = SeenMessages(handled_memory)
        self._connection_id: str | None = None
        self._next_seq: int | None = None
        self._seen_until_ms = 0  # the newest DM (or first hello) seen: where a catch-up starts
        self.catch_ups = 0

    def direct_post(self, raw: str) -> WsPost | None:
        """The DM to act on in a raw websocket message, or None."""
        try:
            event = WsEvent.model_validate_json(raw)
        except ValidationError:
            return None
        return self._direct_post(event)

    def _direct_post(self, event: WsEvent) -> WsPost | None:
        try:
            if event.event != "posted" or event.data.get("channel_type") != "D":
                return None
            post = WsPost.model_validate(json.loads(str(event.data.get("post", ""))))
        except (ValidationError, ValueError):
            return None
        self._seen_until_ms = max(self._seen_until_ms, post.create_at)
        return post if self._is_command(post) else None

    def _is_command(self, post: WsPost) -> bool:
        if post.user_id == self._services.mm.bot_user_id or post.type or post.props.get("from_bot"):
            return False  # our own posts come back to us too; system posts are not commands
        return owned_by(post.id, self._index, self._count)

    async def on_message(self, raw: str) -> None:
        try:
            event = WsEvent.model_validate_json(raw)
        except ValidationError:
            return
        if event.event == "hello":
            self._on_hello(str(event.data.get("connection_id") or ""))
            return
        if event.seq is not None and self._next_seq is not None:
            if event.seq != self._next_seq:
                log.warning("websocket sequence gap: expected %d, got %d", self._next_seq, event.seq)
                self._spawn(self.catch_up())
            self._next_seq = event.seq + 1
        post = self._direct_post(event)
        if post is not None:
            self._take(post)

    def _on_hello(self, connection_id: str) -> None:
        first = self._connection_id is None
        fresh = first or connection_id != self._connection_id
        self._connection_id, self._next_seq = connection_id, 1
        if first:
            self._seen_until_ms = max(self._seen_until_ms, self._now_ms())
        elif fresh:
            self._spawn(self.catch_up())

    def _take(self, post: WsPost) -> bool:
        """Answer ``post`` unless it was answered already (live and catch-up may both see it)."""
        if self._handled.is_seen(post.id):
            return False
        self._handled.mark(post.id)
        self._spawn(self.answer(post))
        return True

    async def catch_up(self) -> None:
        """Answer the DMs posted while the websocket was down (or lost in a sequence gap)."""
        self.catch_ups += 1
        for pause in (0.0, *CATCH_UP_RETRY_SECONDS):
            await self._sleep(pause)
            if await self._catch_up_once():
                return
        log.error("gave up catching up on direct messages; the next reconnect tries again")

    async def _catch_up_once(self) -> bool:
        since = max(0, self._seen_until_ms - CATCH_UP_OVERLAP_MS)
        taken = 0
        try:
            channels = await self._services.mm.direct_channel_ids()
            for channel_id in channels:
                found = await self._services.mm.posts_since(channel_id, since)
                replied = {str((p.get("props") or {}).get(PROP_REPLY_TO, "")) for p in found}
                for raw in found:
                    post = WsPost.model_validate(raw)
                    self._seen_until_ms = max(self._seen_until_ms, post.create_at)
                    if not self._is_command(post):
                        continue
                    if post.id in replied:
                        self._handled.mark(post.id)  # answered before a restart of this bot
                        continue
                    taken += self._take(post)
        except (MattermostUnavailable, ValidationError) as error:
            log.warning("could not catch up on direct messages missed while disconnected: %s", error)
            return False
        log.info("caught up on %d DM channels since %d: %d missed DMs to answer", len(channels), since, taken)
        if taken:
            self._recovered(taken)
        return True

    async def answer(self, post: WsPost) -> None:
        async def reply(text: str) -> None:
            await self._services.mm.create_post(post.channel_id, text, {PROP_REPLY_TO: post.id})

        try:
            try:
                command = parsing.parse(command_text(post.message, self._trigger))
            except parsing.UsageError as error:
                await reply(error.reply)
                return
            actor = await self._services.mm.person(post.user_id)
            await execute(self._services, command, actor, reply, source_id="dm:" + post.id)
        except MattermostUnavailable:
            log.exception("could not answer the direct message %s", post.id)
