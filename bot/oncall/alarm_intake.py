"""CloudWatch alarms arriving on ``/sns`` → posts in the on-call channel (one root per episode).

No local state: the open root, its flap count, mute and acknowledgement are read back from post
props, and every post carries the state change it shows, so SNS redelivery, a restart or a second
replica never posts the same change twice. The answer is 2xx only after Mattermost took the post;
anything else is answered 5xx so SNS delivers again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from alarms.catalogue import definition_for
from alarms.cloudwatch import AlarmNotification, parse_alarm_message
from alarms.format import (
    AlarmPostSettings,
    RootInfo,
    decide_thread_action,
    format_alarm_post,
    format_flap_reply,
    format_gap_reply,
    format_ok_reply,
    latest_root,
    mark_root_reopened,
    mark_root_resolved,
    root_info,
    severity_color,
)
from alarms.runbook import Runbook
from alarms.sns import SeenMessages, SnsMessage
from bot.mattermost.client import MattermostUnavailable
from bot.oncall import alarm_posts
from bot.ports import ChatPort

log = logging.getLogger("bot.alarms")

Json = dict[str, Any]
# Mattermost's largest page; an episode root older than the last 200 posts of the channel is not found.
RECENT_POSTS = 200


@dataclass(frozen=True)
class AlarmOutcome:
    handled: bool
    status_code: int
    detail: str


class AlarmIntake:
    def __init__(
        self,
        mm: ChatPort,
        channel_id: str,
        runbook: Runbook,
        post_settings: AlarmPostSettings,
        clock: Callable[[], datetime],
        seen: SeenMessages | None = None,
    ) -> None:
        self._mm = mm
        self._channel_id = channel_id
        self._runbook = runbook
        self._settings = post_settings
        self._clock = clock
        self._seen = seen or SeenMessages()
        self._locks: dict[str, asyncio.Lock] = {}

    async def handle(self, message: SnsMessage) -> AlarmOutcome:
        """Post one verified alarm notification; 503 when Mattermost fails (SNS retries)."""
        if self._seen.is_seen(message.message_id):
            return AlarmOutcome(handled=True, status_code=200, detail="duplicate")
        try:
            notification = parse_alarm_message(message.message)
        except ValidationError as exc:
            log.warning("alarm message refused: %d problems message_id=%s", exc.error_count(), message.message_id)
            return AlarmOutcome(handled=False, status_code=400, detail="not a CloudWatch alarm notification")
        # One alarm at a time in this process: concurrent deliveries of one change must not both post.
        lock = self._locks.setdefault(notification.alarm_name, asyncio.Lock())
        async with lock:
            if self._seen.is_seen(message.message_id):
                return AlarmOutcome(handled=True, status_code=200, detail="duplicate")
            try:
                detail = await self._deliver(message.message_id, notification)
            except MattermostUnavailable:
                log.exception("alarm %s not posted; SNS will retry", notification.alarm_name)
                return AlarmOutcome(handled=False, status_code=503, detail="mattermost unavailable")
            self._seen.mark(message.message_id)  # only after success: a failed post is retried by SNS
        log.info(
            "alarm %s %s: %s message_id=%s",
            notification.alarm_name,
            notification.new_state,
            detail,
            message.message_id,
        )
        return AlarmOutcome(handled=True, status_code=200, detail=detail)

    async def _deliver(self, message_id: str, notification: AlarmNotification) -> str:
        recent = await self._mm.recent_posts(self._channel_id, per_page=RECENT_POSTS)
        me = self._mm.bot_user_id
        found = latest_root(recent, notification.alarm_name, author=me)
        root_post: Json | None = None
        thread: list[Json] = []
        root: RootInfo | None = None
        if found is not None:
            thread = await self._mm.thread_posts(found.post_id)
            root_post = next((p for p in thread if p.get("id") == found.post_id), None)
            replies = [p for p in thread if p.get("root_id") == found.post_id]
            root = root_info(root_post, replies, author=me) if root_post is not None else None
        done = alarm_posts.already_posted([*recent, *thread], notification, message_id, author=me)
        definition = definition_for(notification.alarm_name)
        action = decide_thread_action(notification, root)
        if action == "ignore":
            return "nothing to post"
        if action == "new_root":
            until = alarm_posts.muted_until(root_post) if root_post is not None else None
            if root is not None and root_post is not None and until is not None and self._clock() < until:
                return await self._muted(message_id, notification, root_post, root, until, done=done)
            if done:
                return "already posted"
            section = self._runbook.sections.get(notification.alarm_name)
            post = format_alarm_post(notification, definition, section, self._runbook.escalation, self._settings)
            await self._post(post, notification, message_id)
            return "new root"
        if root is None or root_post is None:  # every other action needs an open episode
            return "nothing to post"
        if action == "flap_reply":
            if not done:
                await self._post(
                    format_flap_reply(root.flap_count + 1, notification, definition, root), notification, message_id
                )
            return "flap reply"
        if action == "gap_reply":
            if not done:
                await self._post(format_gap_reply(notification, definition, root), notification, message_id)
            return "gap reply"
        # resolve_reply: the reply may exist from an attempt that failed at the root edit; finish it.
        if not done:
            await self._post(format_ok_reply(notification, definition, root), notification, message_id)
        patch = mark_root_resolved(
            root_post, notification.state_change_time - root.firing_since, notification.state_change_time
        )
        await self._mm.patch_post(root.post_id, str(patch["message"]), dict(patch["props"]))
        return "resolved"

    async def _muted(
        self,
        message_id: str,
        notification: AlarmNotification,
        root_post: Json,
        root: RootInfo,
        until: datetime,
        *,
        done: bool,
    ) -> str:
        """Quiet: a reply in the last thread, and that resolved root is open again, so the
        INSUFFICIENT_DATA and OK that follow are shown there (docs/alarms-in-chat.md)."""
        definition = definition_for(notification.alarm_name)
        if not done:
            await self._post(alarm_posts.muted_reply(notification, definition, root, until), notification, message_id)
        reopened = mark_root_reopened(root_post, notification.state_change_time, severity_color(definition))
        await self._mm.patch_post(root.post_id, str(reopened["message"]), dict(reopened["props"]))
        return "muted: replied in the last thread, root open again"

    async def _post(self, post: Mapping[str, Any], notification: AlarmNotification, message_id: str) -> None:
        tagged = alarm_posts.tag(dict(post), notification, message_id)
        await self._mm.create_post(
            self._channel_id, str(tagged["message"]), dict(tagged["props"]), str(tagged.get("root_id") or "")
        )
