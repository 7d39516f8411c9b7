"""Websocket events: a direct message to the bot is a command (``request prod ReadOnly 1h why``).

The handler only schedules work, so reading the socket never waits on a REST call. With several
replicas every one of them receives each DM; a DM is handled by the replica its post id hashes
to (``replica_index`` of ``replica_count``), so each is answered once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from pydantic import ValidationError

from bot.commands import parsing
from bot.commands.run import execute
from bot.core import Core
from bot.mattermost.client import MattermostUnavailable
from bot.mattermost.payloads import WsEvent, WsPost

log = logging.getLogger("bot.direct")


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
        core: Core,
        trigger: str,
        replica_index: int,
        replica_count: int,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self._core = core
        self._trigger = trigger
        self._index = replica_index
        self._count = replica_count
        self._spawn = spawn  # the runtime tracks the tasks and awaits them on shutdown

    def direct_post(self, raw: str) -> WsPost | None:
        """The DM to act on in a raw websocket message, or None."""
        try:
            event = WsEvent.model_validate_json(raw)
            if event.event != "posted" or event.data.get("channel_type") != "D":
                return None
            post = WsPost.model_validate(json.loads(str(event.data.get("post", ""))))
        except (ValidationError, ValueError):
            return None
        if post.user_id == self._core.mm.bot_user_id or post.type or post.props.get("from_bot"):
            return None  # our own posts come back to us too; system posts are not commands
        if not owned_by(post.id, self._index, self._count):
            return None
        return post

    async def on_message(self, raw: str) -> None:
        post = self.direct_post(raw)
        if post is not None:
            self._spawn(self.answer(post))

    async def answer(self, post: WsPost) -> None:
        async def reply(text: str) -> None:
            await self._core.mm.create_post(post.channel_id, text, {"jit_reply_to": post.id})

        try:
            try:
                command = parsing.parse(command_text(post.message, self._trigger))
            except parsing.UsageError as error:
                await reply(error.reply)
                return
            actor = await self._core.mm.person(post.user_id)
            await execute(self._core, command, actor, reply, source_id="dm:" + post.id)
        except MattermostUnavailable:
            log.exception("could not answer the direct message %s", post.id)
