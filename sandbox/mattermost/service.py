"""What the Mattermost server does: posting, editing, commands, clicks and dialogs.

Shared by the REST handlers (the bot's view) and the act-as API (a human's view). Outgoing calls
to integrations use the injected `requests.Session`; time comes from the injected clock.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
from pydantic import ValidationError

from sandbox.mattermost import posts as rules
from sandbox.mattermost.errors import AppError, Violation
from sandbox.mattermost.files import StoredFile, attach, new_file
from sandbox.mattermost.hub import Hub
from sandbox.mattermost.integrations import (
    MAX_REPLY_BYTES,
    ActionResponse,
    CommandResponse,
    DialogSubmitResponse,
)
from sandbox.mattermost.posts import Post
from sandbox.mattermost.store import OpenDialog, ResponseUrl, Store, Trigger, User, new_id

TRIGGER_TTL_S = 30.0
RESPONSE_URL_TTL_S = 30 * 60.0
RESPONSE_URL_USES = 5
DIALOG_ELEMENT_TYPES = {"text", "textarea", "select", "bool", "radio", "date", "datetime"}
_MENTION = re.compile(r"@([a-z0-9.\-_]+)")
_CHANNEL_MENTION = re.compile(r"~([a-z0-9\-_]+)")


@dataclass(frozen=True)
class CommandResult:
    """What the invoking user saw: ephemeral replies and real posts, or the error text."""

    ephemerals: list[Post]
    posts: list[Post]
    error: str = ""

    @property
    def texts(self) -> list[str]:
        return [p["message"] for p in [*self.ephemerals, *self.posts]]


@dataclass(frozen=True)
class ClickResult:
    status: int
    reply: dict[str, Any] | None
    ephemerals: list[Post] = field(default_factory=list)
    updated: Post | None = None


@dataclass(frozen=True)
class DialogResult:
    status: int
    closed: bool
    errors: dict[str, str] = field(default_factory=dict)
    error: str = ""
    reply: dict[str, Any] | None = None


class Mattermost:
    def __init__(
        self,
        store: Store,
        hub: Hub,
        http: requests.Session,
        clock: Callable[[], float],
        site_url: Callable[[], str],
        integration_timeout: float = 30.0,
    ) -> None:
        self.store = store
        self.hub = hub
        self.http = http
        self.clock = clock
        self.site_url = site_url
        self.timeout = integration_timeout
        self.violations: list[Violation] = []
        self._violations_lock = threading.Lock()

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def violate(self, kind: str, where: str, detail: str) -> None:
        with self._violations_lock:
            self.violations.append(Violation(kind, where, detail))

    # posts ---------------------------------------------------------------------------------------
    def upload_file(self, user: User, channel_id: str, name: str, content: bytes) -> dict[str, Any]:
        with self.store.lock:
            channel = self.store.channel(channel_id)
            if user.id not in channel.members and not user.system_admin:
                raise AppError(403, "api.context.permissions.app_error", "You do not have permission.")
            stored: StoredFile = new_file(user, channel.id, name, content, self.now_ms())
            self.store.files[stored.info["id"]] = stored
            return dict(stored.info)

    def file_info(self, user: User, file_id: str) -> dict[str, Any]:
        with self.store.lock:
            stored = self.store.files.get(file_id)
            if stored is None:
                raise AppError(404, "app.file_info.get.app_error", "Unable to find the file.")
            channel = self.store.channel(stored.channel_id)
            if user.id not in channel.members and not user.system_admin:
                raise AppError(403, "api.context.permissions.app_error", "You do not have permission.")
            return dict(stored.info)

    def create_post(self, author: User, body: dict[str, Any], *, from_webhook: bool = False) -> Post:
        with self.store.lock:
            channel = self.store.channel(str(body.get("channel_id", "")))
            if author.id not in channel.members and not author.system_admin:
                raise AppError(403, "api.context.permissions.app_error", "You do not have permission.")
            props = dict(body.get("props") or {})
            rules.check_content(str(body.get("message", "")), props)
            rules.fill_action_ids(props, new_id)
            if author.is_bot:
                props["from_bot"] = "true"
            if from_webhook:
                props["from_webhook"] = "true"
            now = self.now_ms()
            post: Post = {
                "id": new_id(),
                "create_at": now,
                "update_at": now,
                "edit_at": 0,
                "delete_at": 0,
                "is_pinned": False,
                "user_id": author.id,
                "channel_id": channel.id,
                "root_id": str(body.get("root_id", "")),
                "original_id": "",
                "message": str(body.get("message", "")),
                "type": str(body.get("type", "")),
                "props": props,
                "hashtags": "",
                "file_ids": list(body.get("file_ids") or []),
                "pending_post_id": str(body.get("pending_post_id", "")),
                "metadata": {},
            }
            if post["root_id"] and post["root_id"] not in self.store.posts:
                raise AppError(400, "api.post.create_post.root_id.app_error", "Invalid RootId parameter.")
            attach(self.store.files, post["file_ids"], author, channel.id, post["id"])
            if post["file_ids"]:
                post["metadata"] = {"files": [dict(self.store.files[i].info) for i in post["file_ids"]]}
            self.store.posts[post["id"]] = post
            self._broadcast("posted", post, author)
            return rules.strip_integrations(post)

    def edit_post(self, actor: User, post_id: str, body: dict[str, Any], *, patch: bool) -> Post:
        with self.store.lock:
            original = self.store.post(post_id)
            if original["user_id"] != actor.id and not actor.system_admin:
                raise AppError(403, "api.context.permissions.app_error", "You do not have permission.")
            if not patch and body.get("id") != post_id:
                raise AppError(400, "api.context.invalid_body_param.app_error", "Invalid or missing id.")
            apply = rules.apply_patch if patch else rules.apply_put
            updated = apply(original, body, self.now_ms())
            return self._replace(updated, actor)

    def delete_post(self, actor: User, post_id: str) -> None:
        """DELETE /posts/{id}: own posts, or with delete_others_posts (admins). Soft-deleted posts
        (and a root's replies) are never returned again, so the emulator drops them."""
        with self.store.lock:
            post = self.store.post(post_id)
            if post["user_id"] != actor.id and not actor.system_admin:
                raise AppError(403, "api.context.permissions.app_error", "You do not have permission.")
            gone = [p for p in self.store.posts.values() if post_id in {p["id"], p["root_id"]}]
            for doomed in gone:
                del self.store.posts[doomed["id"]]
            deleted = dict(post) | {"delete_at": self.now_ms()}
            self._broadcast("post_deleted", deleted, actor)

    def set_pinned(self, actor: User, post_id: str, pinned: bool) -> None:
        """POST /posts/{id}/pin and /unpin: anyone who can read the channel (read_channel)."""
        with self.store.lock:
            post = self.store.post(post_id)
            channel = self.store.channel(post["channel_id"])
            if actor.id not in channel.members and channel.type != "O" and not actor.system_admin:
                raise AppError(403, "api.context.permissions.app_error", "You do not have permission.")
            updated = dict(post) | {"is_pinned": pinned, "update_at": self.now_ms()}
            self.store.posts[post_id] = updated
            self._broadcast("post_edited", updated, actor)

    def _replace(self, updated: Post, actor: User) -> Post:
        rules.check_content(updated["message"], updated["props"])
        rules.fill_action_ids(updated["props"], new_id)
        self.store.posts[updated["id"]] = updated
        self._broadcast("post_edited", updated, actor)
        return rules.strip_integrations(updated)

    def _broadcast(self, event: str, post: Post, author: User) -> None:
        channel = self.store.channel(post["channel_id"])
        data: dict[str, Any] = {"post": json.dumps(rules.strip_integrations(post))}
        if event == "posted":
            data |= {
                "channel_type": channel.type,
                "channel_name": channel.name,
                "channel_display_name": channel.display_name,
                "sender_name": "@" + author.username,
                "team_id": channel.team_id,
                "set_online": True,
            }
        self.hub.publish(set(channel.members), event, data, channel_id=channel.id)

    def send_ephemeral(
        self,
        user_id: str,
        channel_id: str,
        message: str,
        root_id: str = "",
        *,
        props: dict[str, Any] | None = None,
        post_type: str = "system_ephemeral",
    ) -> Post:
        """Reaches only `user_id` (websocket and the act-as view); never stored as a post."""
        now = self.now_ms()
        post: Post = {
            "id": new_id(),
            "create_at": now,
            "update_at": now,
            "edit_at": 0,
            "delete_at": 0,
            "user_id": self._system_author(),
            "channel_id": channel_id,
            "root_id": root_id,
            "original_id": "",
            "message": message,
            "type": post_type,
            "props": dict(props or {}),
            "hashtags": "",
            "file_ids": [],
            "pending_post_id": "",
            "metadata": {},
        }
        with self.store.lock:
            self.store.ephemerals.setdefault(user_id, []).append(post)
        self.hub.publish({user_id}, "ephemeral_message", {"post": json.dumps(post)}, channel_id=channel_id)
        return post

    def _system_author(self) -> str:
        bot = next((u for u in self.store.users.values() if u.is_bot), None)
        return bot.id if bot else ""

    # triggers and dialogs --------------------------------------------------------------------------
    def new_trigger(self, user: User, channel_id: str, team_id: str) -> str:
        trigger_id = new_id()
        with self.store.lock:
            self.store.triggers[trigger_id] = Trigger(user.id, channel_id, team_id, self.clock())
        return trigger_id

    def open_dialog(self, body: dict[str, Any]) -> None:
        with self.store.lock:
            trigger = self.store.triggers.get(str(body.get("trigger_id", "")))
            if trigger is None:
                raise AppError(400, "interactive_message.decode_trigger_id.signature_decode_failed", "bad id")
            if self.clock() - trigger.created > TRIGGER_TTL_S:
                raise AppError(400, "interactive_message.decode_trigger_id.expired", "Trigger ID expired.")
            dialog = body.get("dialog") or {}
            problems = dialog_problems(dialog)
            if problems:
                self.violate("dialog", "POST /api/v4/actions/dialogs/open", "; ".join(problems))
                raise AppError(400, "api.dialog.open.invalid.app_error", "; ".join(problems))
            self.store.dialogs.setdefault(trigger.user_id, []).append(
                OpenDialog(str(body["url"]), dialog, trigger.channel_id, trigger.team_id)
            )
        data = {"dialog": json.dumps(body)}
        self.hub.publish({trigger.user_id}, "open_dialog", data, user_id=trigger.user_id)

    def submit_dialog(self, user: User, submission: dict[str, Any], *, cancelled: bool = False) -> DialogResult:
        with self.store.lock:
            opened = self.store.dialogs.get(user.id) or []
            if not opened:
                raise AppError(400, "api.dialog.submit.none_open", f"{user.username} has no open dialog")
            current = opened[-1]
        payload = {
            "type": "dialog_submission",
            "callback_id": current.dialog.get("callback_id", ""),
            "state": current.dialog.get("state", ""),
            "user_id": user.id,  # server-set from the session
            "channel_id": current.channel_id,
            "team_id": current.team_id,
            "submission": {} if cancelled else submission,
            "cancelled": cancelled,
        }
        try:
            reply = self.http.post(current.url, json=payload, timeout=self.timeout)
        except requests.RequestException as error:
            return DialogResult(500, closed=False, error=f"dialog submission failed: {type(error).__name__}")
        body = _json_body(reply)
        if reply.status_code != 200 or (reply.content and body is None):
            return DialogResult(400, closed=False, error=f"integration returned {reply.status_code}")
        try:
            parsed = DialogSubmitResponse.model_validate(body or {})
        except ValidationError as error:
            return DialogResult(400, closed=False, error=str(error), reply=body)
        names = {str(e.get("name")) for e in current.dialog.get("elements", [])}
        # The webapp ignores `errors` whose keys match no element and closes the dialog.
        stays_open = bool(parsed.error) or bool(set(parsed.errors) & names)
        if not stays_open:
            with self.store.lock:
                opened.remove(current)
        return DialogResult(200, closed=not stays_open, errors=parsed.errors, error=parsed.error, reply=body)

    # slash commands --------------------------------------------------------------------------------
    def run_command(self, user: User, channel_id: str, text: str, root_id: str = "") -> CommandResult:
        trigger_word = text.strip().lstrip("/").split(maxsplit=1)[0].lower()
        with self.store.lock:
            channel = self.store.channel(channel_id)
            command = next(
                (c for c in self.store.commands.values() if c["trigger"] == trigger_word and not c["delete_at"]),
                None,
            )
        if command is None:
            raise AppError(404, "api.command.execute_command.not_found.app_error", f"/{trigger_word} unknown")
        args = text.strip().split(maxsplit=1)
        hook_id = new_id()
        with self.store.lock:
            self.store.response_urls[hook_id] = ResponseUrl(command["id"], user.id, channel.id, root_id, self.clock())
        form = self._command_form(command, user, channel.id, args[1] if len(args) > 1 else "", root_id, hook_id)
        headers = {
            "Accept": "application/json",
            "Authorization": f"Token {command['token']}",
            "User-Agent": "Mattermost-Bot/1.1",
        }
        try:
            if command["method"] == "G":
                reply = self.http.get(command["url"], params=form, headers=headers, timeout=self.timeout)
            else:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                data = urlencode(form, doseq=True)
                reply = self.http.post(command["url"], data=data, headers=headers, timeout=self.timeout)
        except requests.RequestException:
            return self._command_error(user, channel.id, f"Command with a trigger of '{trigger_word}' failed.")
        if reply.status_code != 200:
            message = f"Command with a trigger of '{trigger_word}' returned response {reply.status_code}"
            return self._command_error(user, channel.id, message)
        return self.apply_command_reply(user, channel.id, root_id, reply.headers.get("Content-Type", ""), reply.content)

    def _command_form(
        self, command: dict[str, Any], user: User, channel_id: str, text: str, root_id: str, hook_id: str
    ) -> list[tuple[str, str]]:
        channel = self.store.channel(channel_id)
        form = [
            ("channel_id", channel.id),
            ("channel_name", channel.name),
            ("command", "/" + command["trigger"]),
            ("response_url", f"{self.site_url()}/hooks/commands/{hook_id}"),
            ("team_domain", self.store.team.name),
            ("team_id", self.store.team.id),
            ("text", text),
            ("token", command["token"]),
            ("trigger_id", self.new_trigger(user, channel.id, self.store.team.id)),
            ("user_id", user.id),
            ("user_name", user.username),
            ("root_id", root_id),
        ]
        named = set(_MENTION.findall(text))
        mentioned = [u for u in self.store.users.values() if u.username in named]
        form += [("user_mentions", u.username) for u in mentioned]
        form += [("user_mentions_ids", u.id) for u in mentioned]
        public = {c.name: c for c in self.store.channels.values() if c.type == "O"}
        channels = [public[name] for name in _CHANNEL_MENTION.findall(text) if name in public]
        form += [("channel_mentions", c.name) for c in channels]
        form += [("channel_mentions_ids", c.id) for c in channels]
        return form

    def _command_error(self, user: User, channel_id: str, message: str) -> CommandResult:
        return CommandResult([self.send_ephemeral(user.id, channel_id, message)], [], error=message)

    def apply_command_reply(
        self, user: User, channel_id: str, root_id: str, content_type: str, content: bytes
    ) -> CommandResult:
        content = content[:MAX_REPLY_BYTES]
        if content_type.split(";", maxsplit=1)[0].strip().lower() == "application/json":
            try:
                response = CommandResponse.model_validate_json(content or b"{}")
            except ValidationError:
                return self._command_error(user, channel_id, "Command response was not valid JSON.")
        else:
            response = CommandResponse(text=content.decode("utf-8", errors="replace"))
        ephemerals: list[Post] = []
        created: list[Post] = []
        for part in [response, *response.extra_responses]:
            self._post_command_part(user, channel_id, root_id, part, ephemerals, created)
        return CommandResult(ephemerals, created)

    def _post_command_part(
        self,
        user: User,
        channel_id: str,
        root_id: str,
        part: CommandResponse,
        ephemerals: list[Post],
        created: list[Post],
    ) -> None:
        text = part.text if part.skip_slack_parsing else slack_to_markdown(part.text, self.store)
        props = dict(part.props)
        if part.attachments:
            props["attachments"] = part.attachments
        post_type = part.type or ("slack_attachment" if part.attachments else "")
        if part.response_type == "in_channel":
            body = {
                "channel_id": part.channel_id or channel_id,
                "message": text,
                "props": props,
                "root_id": root_id,
                "type": post_type,
            }
            try:
                created.append(self.create_post(user, body, from_webhook=True))
            except AppError as error:
                self.violate("command-reply", "in_channel reply", error.message)
                ephemerals.append(self.send_ephemeral(user.id, channel_id, error.message))
        elif text or part.attachments:
            try:
                rules.check_content(text, props)
            except AppError as error:
                self.violate("command-reply", "ephemeral reply", error.message)
                ephemerals.append(self.send_ephemeral(user.id, channel_id, error.message))
                return
            # Props go in before publishing: the websocket event must carry the attachments.
            post = self.send_ephemeral(user.id, channel_id, text, root_id, props=props, post_type=post_type or "")
            ephemerals.append(rules.strip_integrations(post))

    def use_response_url(self, hook_id: str, content_type: str, content: bytes) -> CommandResult:
        with self.store.lock:
            hook = self.store.response_urls.get(hook_id)
            if hook is None or self.clock() - hook.created > RESPONSE_URL_TTL_S:
                raise AppError(400, "web.command_webhook.invalid.app_error", "Unable to find the webhook.")
            if hook.uses >= RESPONSE_URL_USES:
                raise AppError(400, "app.command_webhook.try_use.invalid", "Webhook used too many times.")
            hook.uses += 1
            user = self.store.user(hook.user_id)
        return self.apply_command_reply(user, hook.channel_id, hook.root_id, content_type, content)

    # buttons -----------------------------------------------------------------------------------------
    def click(self, user: User, post_id: str, action_id: str, selected_option: str = "") -> ClickResult:
        with self.store.lock:
            post = self.store.post(post_id)
            action = rules.find_action(post, action_id)
            if action is None:
                raise AppError(404, "api.post.do_action.action_id.app_error", "Unable to find the action.")
            integration = action.get("integration") or {}
            channel = self.store.channel(post["channel_id"])
            if user.id not in channel.members:
                raise AppError(403, "api.context.permissions.app_error", "You do not have permission.")
            is_team_channel = channel.type in {"O", "P"}
            context = dict(integration.get("context") or {})
            if selected_option:
                context["selected_option"] = selected_option
            request: dict[str, Any] = {
                "user_id": user.id,
                "user_name": user.username,
                "channel_id": channel.id,
                "channel_name": channel.name,
                "team_id": channel.team_id if is_team_channel else "",
                "team_domain": self.store.team.name if is_team_channel else "",
                "post_id": post_id,
                "trigger_id": self.new_trigger(user, channel.id, channel.team_id),
                "type": action.get("type") or "button",
                "context": context,
            }
            if selected_option and action.get("data_source"):
                request["data_source"] = action["data_source"]
        try:
            # No auth header and no signature, exactly like the server (docs/architecture.md, "Buttons and clicks").
            reply = self.http.post(str(integration.get("url", "")), json=request, timeout=self.timeout)
        except requests.RequestException:
            return ClickResult(400, None)
        body = _json_body(reply)
        if reply.status_code != 200 or (reply.content.strip() and body is None):
            return ClickResult(400, body)
        parsed = ActionResponse.model_validate(body or {})
        updated = None
        if parsed.update is not None:
            with self.store.lock:
                merged = rules.apply_integration_update(self.store.post(post_id), parsed.update, self.now_ms())
                updated = self._replace(merged, self.store.user(post["user_id"]))
        ephemerals = []
        if parsed.ephemeral_text:
            text = parsed.ephemeral_text
            if not parsed.skip_slack_parsing:
                text = slack_to_markdown(text, self.store)
            ephemerals.append(self.send_ephemeral(user.id, channel.id, text, post["root_id"] or post_id))
        return ClickResult(200, body, ephemerals, updated)


def _json_body(reply: requests.Response) -> dict[str, Any] | None:
    if not reply.content.strip():
        return None
    try:
        parsed = json.loads(reply.content[:MAX_REPLY_BYTES])
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def slack_to_markdown(text: str, store: Store) -> str:
    """The server's Slack conversions for command replies and click ephemerals."""
    text = re.sub(r"<!(channel|here|all)>", r"@\1", text)

    def user_ref(match: re.Match[str]) -> str:
        found = store.users.get(match.group(1))
        return "@" + found.username if found else match.group(0)

    text = re.sub(r"<@([a-z0-9]+)>", user_ref, text)
    return re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"[\2](\1)", text)


def dialog_problems(dialog: dict[str, Any]) -> list[str]:
    """Strict version of the server's (log-only) dialog checks (docs/architecture.md, "Dialogs")."""
    problems = []
    title = str(dialog.get("title", ""))
    if not title or len(title) > 24:
        problems.append("dialog title is required and at most 24 characters")
    names: set[str] = set()
    for element in dialog.get("elements") or []:
        name = str(element.get("name", ""))
        if not name or len(name) > 300 or name in names:
            problems.append(f"element name {name!r} must be non-empty, <= 300 chars and unique")
        names.add(name)
        display = str(element.get("display_name", ""))
        if not display or len(display) > 24:
            problems.append(f"element {name!r} display_name is required and at most 24 characters")
        if element.get("type") not in DIALOG_ELEMENT_TYPES:
            problems.append(f"element {name!r} has unknown type {element.get('type')!r}")
    return problems
