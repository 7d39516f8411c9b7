"""Bot-side alarm post pieces that ``alarms.format`` leaves to the bot: the change key that makes
posting idempotent, acknowledge and mute edits of the root, and the quiet reply while muted. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from alarms.catalogue import AlarmDefinition
from alarms.cloudwatch import AlarmNotification, describe_reason
from alarms.format import (
    PROP_EPISODE,
    PROP_NAME,
    PROP_ROLE,
    PROP_STATUS,
    RootInfo,
    by_author,
    episode_key,
)
from bot.alarm_context import AlarmAction, AlarmContext
from jitwire.chattext import MAX_POST_CHARS, neutralise_alarm_text, username

Post = Mapping[str, Any]
Sign = Callable[[dict[str, Any]], str]

# Which state change a post shows; any replica (or a restarted bot) finds it again before posting.
PROP_CHANGE = "jit_alarm_change"
PROP_MESSAGE_ID = "jit_alarm_message_id"
PROP_ACKED_BY = "jit_alarm_acked_by"
PROP_ACKED_AT = "jit_alarm_acked_at"
PROP_MUTED_UNTIL = "jit_alarm_muted_until"
PROP_MUTED_BY = "jit_alarm_muted_by"

BUTTON_LABELS: dict[AlarmAction, tuple[str, str]] = {
    "ack": ("Acknowledge", "primary"),
    "mute": ("Mute 1 hour", "default"),
}


def change_key(notification: AlarmNotification) -> str:
    """One state change of one alarm: CloudWatch sends it once per action, SNS may redeliver it."""
    return f"{notification.alarm_name}|{notification.new_state}|{episode_key(notification.state_change_time)}"


def tag(post: dict[str, Any], notification: AlarmNotification, message_id: str) -> dict[str, Any]:
    props = dict(post.get("props") or {})
    props |= {PROP_CHANGE: change_key(notification), PROP_MESSAGE_ID: message_id}
    return post | {"props": props}


def already_posted(posts: Iterable[Post], notification: AlarmNotification, message_id: str, *, author: str) -> bool:
    """A post by ``author`` (the bot) already shows this change; nobody else's props count."""
    key = change_key(notification)
    for post in by_author(posts, author):
        props = post.get("props") or {}
        if props.get(PROP_CHANGE) == key or props.get(PROP_MESSAGE_ID) == message_id:
            return True
    return False


def hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M UTC")


def muted_until(root_post: Post) -> datetime | None:
    value = (root_post.get("props") or {}).get(PROP_MUTED_UNTIL)
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def is_muted(root_post: Post, now: datetime) -> bool:
    until = muted_until(root_post)
    return until is not None and now < until


def muted_reply(
    notification: AlarmNotification, definition: AlarmDefinition | None, root: RootInfo, until: datetime
) -> dict[str, Any]:
    """A new ALARM while muted: a line in the last episode's thread, no new root and no mention."""
    reason = neutralise_alarm_text(describe_reason(notification, definition), 500)
    message = (
        f":mute: **{neutralise_alarm_text(root.alarm_name, 255)}** went {notification.new_state} again while muted "
        f"(until {hhmm(until)}): {reason}"
    )
    props = {PROP_NAME: root.alarm_name, PROP_EPISODE: episode_key(root.episode), PROP_ROLE: "reply"}
    return {"root_id": root.post_id, "message": message[:MAX_POST_CHARS], "props": props}


def root_matches(post: Post, ctx: AlarmContext, *, author: str) -> bool:
    """The clicked post is the root, written by ``author`` (the bot), of the episode the button was made for."""
    props = post.get("props") or {}
    return (
        bool(by_author([post], author))
        and not post.get("root_id")
        and props.get(PROP_ROLE) == "root"
        and props.get(PROP_NAME) == ctx.alarm_name
        and props.get(PROP_EPISODE) == ctx.episode
    )


def buttons(ctx: AlarmContext, actions: Iterable[AlarmAction], action_url: str, sign: Sign) -> list[dict[str, Any]]:
    """Working buttons again: Mattermost strips integrations from posts it returns, so an edit built
    from a fetched post must put them back (same context shape as ``alarms.format``)."""
    out: list[dict[str, Any]] = []
    for action in actions:
        context: dict[str, Any] = {
            "alarm_name": ctx.alarm_name,
            "action": action,
            "state": ctx.state,
            "episode": ctx.episode,
            "exp": ctx.exp,
        }
        if action == "mute":
            context["mute_seconds"] = ctx.mute_seconds or 3600
        context["sig"] = sign(dict(context))
        label, style = BUTTON_LABELS[action]
        out.append(
            {
                "id": action,
                "type": "button",
                "name": label,
                "style": style,
                "integration": {"url": action_url, "context": context},
            }
        )
    return out


def remaining_actions(props: Mapping[str, Any]) -> list[AlarmAction]:
    if props.get(PROP_STATUS) == "resolved":
        return []
    left: list[AlarmAction] = []
    if not props.get(PROP_ACKED_BY):
        left.append("ack")
    if not props.get(PROP_MUTED_UNTIL):
        left.append("mute")
    return left


def _with_buttons(props: dict[str, Any], actions: list[dict[str, Any]]) -> dict[str, Any]:
    attachments = []
    for attachment in props.get("attachments") or []:
        updated = {k: v for k, v in dict(attachment).items() if k != "actions"}
        if actions:
            updated["actions"] = actions
        attachments.append(updated)
    return props | {"attachments": attachments}


def acknowledged(
    root_post: Post, ctx: AlarmContext, who: str, at: datetime, action_url: str, sign: Sign
) -> tuple[str, dict[str, Any]]:
    """(message, props) of the root after an acknowledgement."""
    props = dict(root_post.get("props") or {}) | {PROP_ACKED_BY: who, PROP_ACKED_AT: at.isoformat()}
    line = f":eyes: Acknowledged by {username(who)} at {hhmm(at)}"
    message = (str(root_post.get("message", "")) + "\n" + line)[:MAX_POST_CHARS]
    return message, _with_buttons(props, buttons(ctx, remaining_actions(props), action_url, sign))


def muted(
    root_post: Post, ctx: AlarmContext, who: str, at: datetime, action_url: str, sign: Sign
) -> tuple[str, dict[str, Any], datetime]:
    """(message, props, until) of the root after Mute."""
    until = at + timedelta(seconds=ctx.mute_seconds or 3600)
    props = dict(root_post.get("props") or {}) | {PROP_MUTED_UNTIL: until.isoformat(), PROP_MUTED_BY: who}
    line = f":mute: Muted by {username(who)} until {hhmm(until)}: new alarms go to this thread without a mention"
    message = (str(root_post.get("message", "")) + "\n" + line)[:MAX_POST_CHARS]
    return message, _with_buttons(props, buttons(ctx, remaining_actions(props), action_url, sign)), until
