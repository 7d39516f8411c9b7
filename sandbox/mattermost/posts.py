"""Post rules Mattermost applies on the server: limits, action ids, stripping, update semantics."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from sandbox.mattermost.errors import AppError

MAX_MESSAGE_RUNES = 16383
MAX_PROPS_RUNES = 800_000
_ALNUM = re.compile(r"[A-Za-z0-9]+")
# Carried over when an integration's `update` replaces the props (docs/architecture.md, "Buttons and clicks").
_KEPT_PROPS = ("from_webhook", "override_username", "override_icon_url")

Post = dict[str, Any]


def _actions(props: dict[str, Any]) -> Iterator[dict[str, Any]]:
    attachments = props.get("attachments")
    if not isinstance(attachments, list):
        return
    for attachment in attachments:
        if isinstance(attachment, dict) and isinstance(attachment.get("actions"), list):
            yield from (a for a in attachment["actions"] if isinstance(a, dict))


def check_content(message: str, props: dict[str, Any]) -> None:
    """Raise the 400 the server gives; strict about action ids (the server only logs those)."""
    if len(message) > MAX_MESSAGE_RUNES:  # str length counts code points, Go counts runes
        raise AppError(400, "model.post.is_valid.message_length.app_error", "Invalid Message")
    if len(json.dumps(props, ensure_ascii=False)) > MAX_PROPS_RUNES:
        raise AppError(400, "model.post.is_valid.props.app_error", "Invalid Props")
    for action in _actions(props):
        action_id = action.get("id") or ""
        if action_id and not _ALNUM.fullmatch(str(action_id)):
            raise AppError(
                400,
                "model.post.is_valid.action_id.app_error",
                f"Action id {action_id!r} must be alphanumeric: the click route is [A-Za-z0-9]+",
            )
        if not action.get("name"):
            raise AppError(400, "model.post.is_valid.action_name.app_error", "Action name is required")


def fill_action_ids(props: dict[str, Any], new_id: Callable[[], str]) -> None:
    for action in _actions(props):
        if not action.get("id"):
            action["id"] = new_id()


def find_action(post: Post, action_id: str) -> dict[str, Any] | None:
    return next((a for a in _actions(post.get("props") or {}) if a.get("id") == action_id), None)


def strip_integrations(post: Post) -> Post:
    """What clients see: every action without its `integration` (url and context)."""
    visible = copy.deepcopy(post)
    for action in _actions(visible.get("props") or {}):
        action.pop("integration", None)
    return visible


def apply_integration_update(original: Post, update: dict[str, Any], now_ms: int) -> Post:
    """`update` from a click reply, with the server's props retention rules."""
    result = copy.deepcopy(original)
    result["message"] = str(update.get("message", ""))
    if "props" in update and isinstance(update["props"], dict):
        props = copy.deepcopy(update["props"])
        for key in _KEPT_PROPS:
            if key in original.get("props", {}):
                props[key] = original["props"][key]
        result["props"] = props
    for key in ("type", "file_ids"):
        if key in update:
            result[key] = update[key]
    result["edit_at"] = now_ms
    result["update_at"] = now_ms
    return result


def apply_put(original: Post, body: dict[str, Any], now_ms: int) -> Post:
    """PUT /posts/{id}: a full replacement; fields left out become blank (``is_pinned`` included:
    the server copies it from the body, so an edit that omits it unpins the post)."""
    result = copy.deepcopy(original)
    result["message"] = str(body.get("message", ""))
    result["props"] = copy.deepcopy(body.get("props") or {})
    for key in _KEPT_PROPS:
        if key in original.get("props", {}):
            result["props"][key] = original["props"][key]
    result["file_ids"] = list(body.get("file_ids") or [])
    result["is_pinned"] = bool(body.get("is_pinned", False))
    result["edit_at"] = now_ms
    result["update_at"] = now_ms
    return result


def apply_patch(original: Post, body: dict[str, Any], now_ms: int) -> Post:
    """PUT /posts/{id}/patch: only the fields sent change; ``props``, when sent, is replaced whole."""
    result = copy.deepcopy(original)
    for key in ("message", "is_pinned", "file_ids", "has_reactions"):
        if key in body:
            result[key] = copy.deepcopy(body[key])
    if "props" in body:
        result["props"] = copy.deepcopy(body["props"])
    result["edit_at"] = now_ms
    result["update_at"] = now_ms
    return result
