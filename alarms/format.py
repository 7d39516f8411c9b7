"""Pure rendering of alarm posts and the thread rules (one root per episode, replies for the rest).

The bot keeps no state: every fact needed later (alarm name, episode, open/resolved, flap number)
travels in post props, so any replica finds the thread again after a restart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from alarms.catalogue import AlarmDefinition, Severity
from alarms.cloudwatch import AlarmNotification, describe_reason
from alarms.runbook import AlarmSection, EscalationLevel
from jitwire.chattext import MAX_POST_CHARS, neutralise_alarm_text
from jitwire.timefmt import format_elapsed

ThreadAction = Literal["new_root", "flap_reply", "resolve_reply", "gap_reply", "ignore"]

SEVERITY_STYLE: dict[Severity, tuple[str, str]] = {
    "High": ("#d0021b", ":red_circle: HIGH"),
    "Medium": ("#f5a623", ":large_orange_diamond: MEDIUM"),
    "Low": ("#4a90e2", ":large_blue_circle: LOW"),
}
RESOLVED_COLOR = "#2e7d32"
MUTE_SECONDS = 3600

# Props keys; the bot reads them back from posts to rebuild thread state.
PROP_NAME = "jit_alarm_name"
PROP_EPISODE = "jit_alarm_episode"
PROP_ROLE = "jit_alarm_role"
PROP_STATUS = "jit_alarm_status"
PROP_FLAP = "jit_alarm_flap"
PROP_RESOLVED_AT = "jit_alarm_resolved_at"
# A resolved root that a muted ALARM opened again (the quiet reply went to its thread).
PROP_REOPENED_AT = "jit_alarm_reopened_at"


class AlarmPostSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    runbook_url: str
    oncall_group_mention: str
    action_url: str
    # Signs a button context (the bot's HMAC); the result is stored in the context as "sig".
    sign_context: Callable[[dict[str, Any]], str] | None = None
    button_ttl: timedelta = timedelta(hours=24)


class RootInfo(BaseModel):
    """What the thread rule needs to know about an alarm's latest root post."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    post_id: str
    alarm_name: str
    episode: datetime
    resolved: bool
    flap_count: int = 0
    reopened_at: datetime | None = None  # a muted ALARM re-opened this resolved episode

    @property
    def firing_since(self) -> datetime:
        """When the current firing began: the episode start, or the muted re-ALARM that re-opened it."""
        return self.reopened_at or self.episode


def episode_key(when: datetime) -> str:
    return when.isoformat()


def decide_thread_action(notification: AlarmNotification, existing_root: RootInfo | None) -> ThreadAction:
    """ALARM opens an episode (new root) or, while one is open, counts a flap in its thread.
    OK resolves an open episode; OK without an open episode posts nothing (a fresh alarm settling,
    or an OK that was already handled). INSUFFICIENT_DATA is a note in an open thread, else nothing:
    our alarms have no InsufficientDataActions and treat missing data as not breaching.
    Anything older than the open episode's start (or its re-opening by a muted ALARM) is a late
    duplicate and is ignored."""
    is_open = existing_root is not None and not existing_root.resolved
    if is_open and existing_root is not None and notification.state_change_time <= existing_root.firing_since:
        return "ignore"
    match notification.new_state:
        case "ALARM":
            return "flap_reply" if is_open else "new_root"
        case "OK":
            return "resolve_reply" if is_open else "ignore"
        case _:
            return "gap_reply" if is_open else "ignore"


def _prop_int(value: Any) -> int:
    return value if isinstance(value, int) else int(value) if isinstance(value, str) and value.isdigit() else 0


def by_author(posts: Iterable[Mapping[str, Any]], author: str) -> list[Mapping[str, Any]]:
    """Only the posts ``author`` wrote. Any channel member can put any props on their own posts,
    so state is read back only from the bot's posts (``author`` is the bot's user id)."""
    return [post for post in posts if author and post.get("user_id") == author]


def root_info(
    root_post: Mapping[str, Any], replies: Iterable[Mapping[str, Any]] = (), *, author: str
) -> RootInfo | None:
    """Rebuild RootInfo from a post (and its thread replies) as Mattermost returns them; posts by
    anyone but ``author`` (the bot) count for nothing."""
    props = root_post.get("props") or {}
    if not by_author([root_post], author):
        return None
    if props.get(PROP_ROLE) != "root" or not props.get(PROP_NAME) or not props.get(PROP_EPISODE):
        return None
    try:
        episode = datetime.fromisoformat(str(props[PROP_EPISODE]))
    except ValueError:
        return None
    flaps = [_prop_int((r.get("props") or {}).get(PROP_FLAP)) for r in by_author(replies, author)]
    try:
        reopened = datetime.fromisoformat(str(props[PROP_REOPENED_AT])) if props.get(PROP_REOPENED_AT) else None
    except ValueError:
        reopened = None
    return RootInfo(
        post_id=str(root_post.get("id", "")),
        alarm_name=str(props[PROP_NAME]),
        episode=episode,
        resolved=props.get(PROP_STATUS) == "resolved",
        flap_count=max(flaps, default=0),
        reopened_at=reopened,
    )


def latest_root(posts: Iterable[Mapping[str, Any]], alarm_name: str, *, author: str) -> RootInfo | None:
    """The newest root post for ``alarm_name`` that ``author`` (the bot) wrote, among channel posts
    (e.g. GET /channels/{id}/posts)."""
    roots = [
        info
        for post in posts
        if not post.get("root_id")
        and (info := root_info(post, author=author)) is not None
        and info.alarm_name == alarm_name
    ]
    return max(roots, key=lambda r: r.episode, default=None)


def known_names_from(notification: AlarmNotification) -> dict[str, str]:
    """Placeholders the bot can fill from the alarm itself."""
    dims = notification.trigger.all_dimensions()
    names: dict[str, str] = {}
    if "StateMachineArn" in dims:
        names["<sfn_arn>"] = dims["StateMachineArn"]
    return names


_RELATIVE_START = re.compile(r"\$\(date -d '(\d+) (minute|hour)s? ago' \+%s000\)")


def _fill(code: str, names: Mapping[str, str], alarm_time: datetime) -> str:
    """Replace known placeholders, and pin "N minutes ago" to the alarm time (read later, still right)."""
    for placeholder, value in names.items():
        code = code.replace(placeholder, value)

    def pinned(match: re.Match[str]) -> str:
        amount = int(match.group(1))
        delta = timedelta(minutes=amount) if match.group(2) == "minute" else timedelta(hours=amount)
        return str(int((alarm_time - delta).timestamp()) * 1000)

    return _RELATIVE_START.sub(pinned, code)


def _investigation(section: AlarmSection, names: Mapping[str, str], alarm_time: datetime) -> str:
    lines: list[str] = []
    for step in section.investigation:
        lines.append(f"- [ ] {step.text}")
        lines += [f"  - {detail}" for detail in step.details]
        for block in step.code_blocks:
            lines.append(f"  ```{block.language}")
            lines += [f"  {line}" if line else "" for line in _fill(block.code, names, alarm_time).splitlines()]
            lines.append("  ```")
    return "\n".join(lines)


def _escalation(escalation: Iterable[EscalationLevel], severity: Severity, settings: AlarmPostSettings) -> str:
    path = " → ".join(f"**{e.level}** {e.role}" for e in escalation)
    text = f"**Escalation:** {path}" if path else "**Escalation:** see the runbook"
    if severity == "High":
        text += f"\nPaging {settings.oncall_group_mention}"
    return text


def _context(notification: AlarmNotification, action: str, episode: str, settings: AlarmPostSettings) -> dict[str, Any]:
    context: dict[str, Any] = {
        "alarm_name": notification.alarm_name,
        "action": action,
        "state": notification.new_state,
        "episode": episode,
        "exp": int((notification.state_change_time + settings.button_ttl).timestamp()),
    }
    if action == "mute":
        context["mute_seconds"] = MUTE_SECONDS
    if settings.sign_context is not None:
        context["sig"] = settings.sign_context(dict(context))
    return context


def _buttons(notification: AlarmNotification, episode: str, settings: AlarmPostSettings) -> list[dict[str, Any]]:
    return [
        {
            "id": action_id,
            "type": "button",
            "name": label,
            "style": style,
            "integration": {
                "url": settings.action_url,
                "context": _context(notification, action_id, episode, settings),
            },
        }
        for action_id, label, style in (("ack", "Acknowledge", "primary"), ("mute", "Mute 1 hour", "default"))
    ]


def _fit(body: str, budget: int, runbook_url: str) -> str:
    if len(body) <= budget:
        return body
    note = f"\n\n… _truncated: read the [full runbook]({runbook_url})._"
    cut = body[: max(0, budget - len(note))]
    if cut.count("```") % 2:  # never leave a code block open
        cut = cut[: cut.rfind("```")]
    return cut.rstrip() + note


def _severity(definition: AlarmDefinition | None) -> Severity:
    return definition.severity if definition is not None else "High"


def post_chars(post: Mapping[str, Any]) -> int:
    """Characters a reader sees: message plus attachment text, title, fields and fallback."""
    total = len(str(post.get("message", "")))
    for attachment in (post.get("props") or {}).get("attachments", []):
        total += sum(len(str(attachment.get(k, ""))) for k in ("text", "title", "fallback", "pretext"))
        total += sum(len(str(f.get("title", ""))) + len(str(f.get("value", ""))) for f in attachment.get("fields", []))
    return total


def format_alarm_post(
    notification: AlarmNotification,
    definition: AlarmDefinition | None,
    runbook_section: AlarmSection | None,
    escalation: Iterable[EscalationLevel],
    settings: AlarmPostSettings,
    known_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Root post of an episode: header, reason, runbook sections, escalation and buttons."""
    severity = _severity(definition)
    color, marker = SEVERITY_STYLE[severity]
    name = neutralise_alarm_text(notification.alarm_name, 255)
    reason = neutralise_alarm_text(describe_reason(notification, definition), 500)
    anchor_url = (
        f"{settings.runbook_url}#{runbook_section.anchor}" if runbook_section is not None else settings.runbook_url
    )
    episode = episode_key(notification.state_change_time)
    message = f"{marker} **{name}** {notification.old_state} → **{notification.new_state}**: {reason}"
    if severity == "High":
        message += f"\n{settings.oncall_group_mention} please acknowledge."
    names = known_names_from(notification) | dict(known_names or {})
    parts: list[str] = []
    if runbook_section is not None:
        parts += [
            f"**What triggered:** {runbook_section.what_triggered}",
            f"**Impact:** {runbook_section.impact}",
            "**Investigation:**\n" + _investigation(runbook_section, names, notification.state_change_time),
            "**Resolution:**\n" + "\n".join(f"- {item}" for item in runbook_section.resolution),
        ]
    else:
        parts.append(
            f"No runbook section for this alarm. {neutralise_alarm_text(notification.alarm_description or '')}"
        )
    parts += [_escalation(escalation, severity, settings), f"[Full runbook]({anchor_url})"]
    fields = [
        {"title": "Severity", "value": severity, "short": True},
        {"title": "State", "value": f"{notification.old_state} → {notification.new_state}", "short": True},
        {"title": "Reason", "value": reason, "short": True},
        {
            "title": "Region",
            "value": notification.region or neutralise_alarm_text(notification.region_name, 64),
            "short": True,
        },
        {"title": "Since", "value": notification.state_change_time.strftime("%Y-%m-%d %H:%M:%S UTC"), "short": True},
        {"title": "CloudWatch says", "value": neutralise_alarm_text(notification.reason, 1000), "short": False},
    ]
    attachment: dict[str, Any] = {
        "fallback": f"{severity.upper()} {name} {notification.new_state}: {reason}",
        "color": color,
        "title": name,
        "title_link": anchor_url,
        "fields": fields,
        "actions": _buttons(notification, episode, settings),
    }
    post: dict[str, Any] = {
        "message": message,
        "props": {
            "attachments": [attachment],
            PROP_NAME: notification.alarm_name,
            PROP_EPISODE: episode,
            PROP_ROLE: "root",
            PROP_STATUS: "open",
        },
    }
    budget = MAX_POST_CHARS - post_chars(post)
    attachment["text"] = _fit("\n\n".join(parts), budget, anchor_url)
    return post


def _reply(root: RootInfo, message: str, extra_props: Mapping[str, Any]) -> dict[str, Any]:
    props = {PROP_NAME: root.alarm_name, PROP_EPISODE: episode_key(root.episode), PROP_ROLE: "reply"}
    return {"root_id": root.post_id, "message": message[:MAX_POST_CHARS], "props": props | dict(extra_props)}


def format_ok_reply(
    notification: AlarmNotification, definition: AlarmDefinition | None, root: RootInfo
) -> dict[str, Any]:
    duration = format_elapsed(notification.state_change_time - root.firing_since)
    reason = neutralise_alarm_text(describe_reason(notification, definition), 500)
    name = neutralise_alarm_text(root.alarm_name, 255)
    message = f":white_check_mark: **{name}** is OK again after {duration}: {reason}"
    return _reply(root, message, {PROP_STATUS: "resolved"})


def format_flap_reply(
    count: int, notification: AlarmNotification, definition: AlarmDefinition | None, root: RootInfo
) -> dict[str, Any]:
    """``count`` is the flap number to record, normally ``root.flap_count + 1``."""
    reason = neutralise_alarm_text(describe_reason(notification, definition), 500)
    name = neutralise_alarm_text(root.alarm_name, 255)
    message = f":repeat: **{name}** fired again ({count} flap{'s' if count != 1 else ''} in this episode): {reason}"
    return _reply(root, message, {PROP_FLAP: count})


def format_gap_reply(
    notification: AlarmNotification, definition: AlarmDefinition | None, root: RootInfo
) -> dict[str, Any]:
    message = (
        f":grey_question: **{neutralise_alarm_text(root.alarm_name, 255)}** has INSUFFICIENT_DATA; "
        f"the episode stays open: {neutralise_alarm_text(describe_reason(notification, definition), 500)}"
    )
    return _reply(root, message, {})


def mark_root_resolved(root_post: Mapping[str, Any], duration: timedelta, resolved_at: datetime) -> dict[str, Any]:
    """Patch for the root post (``PUT /posts/{id}/patch``): resolved header, green bar, buttons removed.
    Buttons go because Mattermost strips their integration from posts it returns, so props read back
    cannot carry working buttons anyway."""
    props = dict(root_post.get("props") or {})
    attachments = []
    for attachment in props.get("attachments") or []:
        updated = {k: v for k, v in dict(attachment).items() if k != "actions"}
        updated["color"] = RESOLVED_COLOR
        attachments.append(updated)
    props |= {
        "attachments": attachments,
        PROP_STATUS: "resolved",
        PROP_RESOLVED_AT: resolved_at.isoformat(),
    }
    message = _without_status_header(str(root_post.get("message", "")))
    header = f"{RESOLVED_HEADER} after {format_elapsed(duration)}\n"
    return {"message": (header + message)[:MAX_POST_CHARS], "props": props}


RESOLVED_HEADER = ":white_check_mark: **Resolved**"
REOPENED_HEADER = ":mute: **ALARM again while muted**"


def _without_status_header(message: str) -> str:
    first, newline, rest = message.partition("\n")
    return rest if newline and first.startswith((RESOLVED_HEADER, REOPENED_HEADER)) else message


def mark_root_reopened(root_post: Mapping[str, Any], since: datetime, severity_color: str) -> dict[str, Any]:
    """Patch for a resolved root whose alarm fired again while muted: open again (so the next
    INSUFFICIENT_DATA and OK are shown in its thread and on it), with a header instead of a mention."""
    props = dict(root_post.get("props") or {})
    attachments = [dict(a) | {"color": severity_color} for a in props.get("attachments") or []]
    props |= {"attachments": attachments, PROP_STATUS: "open", PROP_REOPENED_AT: since.isoformat()}
    props.pop(PROP_RESOLVED_AT, None)
    message = _without_status_header(str(root_post.get("message", "")))
    header = f"{REOPENED_HEADER} since {since.strftime('%H:%M UTC')}\n"
    return {"message": (header + message)[:MAX_POST_CHARS], "props": props}


def severity_color(definition: AlarmDefinition | None) -> str:
    return SEVERITY_STYLE[_severity(definition)][0]
