"""Acknowledge and Mute on an alarm's root post.

Mattermost signs nothing on clicks, so: the context's HMAC and expiry, then that the clicked post is
the root of that alarm episode in the on-call channel. The clicker is Mattermost's session user,
looked up through the API. Mute lives in the root's props (the bot holds no AWS credentials);
docs/alarms-in-chat.md says how it relates to CloudWatch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from alarms.format import PROP_EPISODE, PROP_NAME, PROP_ROLE
from bot.logsafe import shown
from bot.mattermost.client import MattermostUnavailable
from bot.mattermost.payloads import ActionClick
from bot.oncall import alarm_posts
from bot.oncall.alarm_context import AlarmContext, AlarmContextSigner
from bot.ports import ChatPort
from bot.signed_context import ContextRejected
from jitwire.chattext import username

log = logging.getLogger("bot.alarms")


class AlarmButtons:
    def __init__(
        self,
        mm: ChatPort,
        channel_id: str,
        signer: AlarmContextSigner,
        action_url: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._mm = mm
        self._channel_id = channel_id
        self._signer = signer
        self._action_url = action_url
        self._clock = clock

    async def click(self, click: ActionClick) -> dict[str, Any]:
        """The click reply: always an ``ephemeral_text`` for the clicker."""
        now = self._clock()
        try:
            ctx = self._signer.verify(click.context, now=now)
            if click.channel_id != self._channel_id:
                raise ContextRejected("wrong_post")
            root_post = await self._mm.get_post(click.post_id)
            if root_post.get("channel_id") != self._channel_id or not alarm_posts.root_matches(
                root_post, ctx, author=self._mm.bot_user_id
            ):
                raise ContextRejected("wrong_post")
        except ContextRejected as rejected:
            log.warning(
                "alarm button refused reason=%s post_id=%s user_id=%s",
                rejected.reason,
                shown(click.post_id),
                shown(click.user_id),
            )
            return {"ephemeral_text": rejected.told}
        except MattermostUnavailable:
            log.exception("Mattermost failed during an alarm click on %s", shown(click.post_id))
            return {"ephemeral_text": "Mattermost failed while handling this click; please try again."}
        try:
            actor = await self._mm.person(click.user_id)
            if ctx.action == "ack":
                return await self._acknowledge(click.post_id, root_post, ctx, actor.username, now)
            return await self._mute(click.post_id, root_post, ctx, actor.username, now)
        except MattermostUnavailable:
            log.exception("Mattermost failed during an alarm click on %s", shown(click.post_id))
            return {"ephemeral_text": "Mattermost failed while handling this click; please try again."}

    async def _acknowledge(
        self, post_id: str, root_post: dict[str, Any], ctx: AlarmContext, who: str, now: datetime
    ) -> dict[str, Any]:
        props = root_post.get("props") or {}
        if props.get(alarm_posts.PROP_ACKED_BY):
            by = username(str(props[alarm_posts.PROP_ACKED_BY]))
            return {"ephemeral_text": f"Already acknowledged by {by}."}
        message, new_props = alarm_posts.acknowledged(root_post, ctx, who, now, self._action_url, self._signer.sign)
        await self._mm.patch_post(post_id, message, new_props)
        await self._reply(post_id, ctx, f":eyes: {username(who)} acknowledged at {alarm_posts.hhmm(now)}.")
        log.info("alarm %s acknowledged by %s", ctx.alarm_name, who)
        return {"ephemeral_text": f"You acknowledged {ctx.alarm_name}."}

    async def _mute(
        self, post_id: str, root_post: dict[str, Any], ctx: AlarmContext, who: str, now: datetime
    ) -> dict[str, Any]:
        until = alarm_posts.muted_until(root_post)
        if until is not None and now < until:
            return {"ephemeral_text": f"Already muted until {alarm_posts.hhmm(until)}."}
        message, new_props, until = alarm_posts.muted(root_post, ctx, who, now, self._action_url, self._signer.sign)
        await self._mm.patch_post(post_id, message, new_props)
        await self._reply(
            post_id,
            ctx,
            f":mute: {username(who)} muted this alarm in chat until {alarm_posts.hhmm(until)}. "
            "CloudWatch keeps evaluating and notifying; new alarms land in this thread without a mention.",
        )
        log.info("alarm %s muted by %s until %s", ctx.alarm_name, who, until.isoformat())
        return {"ephemeral_text": f"Muted {ctx.alarm_name} until {alarm_posts.hhmm(until)}."}

    async def _reply(self, root_id: str, ctx: AlarmContext, message: str) -> None:
        props = {PROP_NAME: ctx.alarm_name, PROP_EPISODE: ctx.episode, PROP_ROLE: "reply"}
        await self._mm.create_post(self._channel_id, message, props, root_id)
