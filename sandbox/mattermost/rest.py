"""REST handlers keyed by the spec's operationId; each returns (status, JSON payload)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.mattermost import posts as rules
from sandbox.mattermost.errors import AppError
from sandbox.mattermost.service import Mattermost
from sandbox.mattermost.store import User, new_id

# Operations the server serves without a session (dialogs/open: docs/architecture.md, "Dialogs").
UNAUTHENTICATED = {"GetPing", "Login", "OpenInteractiveDialog"}


@dataclass(frozen=True)
class Call:
    user: User | None
    params: dict[str, str]
    query: dict[str, str]
    body: Any

    @property
    def me(self) -> User:
        assert self.user is not None, "authenticated operation"
        return self.user


Reply = tuple[int, Any]
MAX_POSTS_SINCE = 1000  # the server caps the answer to a `since` query
Handler = Callable[[Mattermost, Call], Reply]


def _user_json(mm: Mattermost, user: User) -> dict[str, Any]:
    """The caller's own record (login)."""
    return user.to_json(mm.store.created_ms)


def _profile(mm: Mattermost, call: Call, user: User) -> dict[str, Any]:
    """A profile as `call`'s user may see it (sanitised unless it is their own)."""
    return user.profile_json(mm.store.created_ms, call.me, mm.store.client_config)


def get_user(mm: Mattermost, call: Call) -> Reply:
    user_id = call.params["user_id"]
    with mm.store.lock:
        user = call.me if user_id == "me" else mm.store.user(user_id)
        return 200, _profile(mm, call, user)


def get_users_by_ids(mm: Mattermost, call: Call) -> Reply:
    with mm.store.lock:
        found = [mm.store.users[i] for i in call.body if i in mm.store.users]
        return 200, [_profile(mm, call, u) for u in found]


def get_user_by_email(mm: Mattermost, call: Call) -> Reply:
    with mm.store.lock:
        if not call.me.may_see_emails(mm.store.client_config):
            raise AppError(403, "api.context.permissions.app_error", "You do not have the appropriate permissions.")
        return 200, _profile(mm, call, mm.store.user_by_email(call.params["email"]))


def get_user_by_username(mm: Mattermost, call: Call) -> Reply:
    with mm.store.lock:
        return 200, _profile(mm, call, mm.store.user_named(call.params["username"]))


def get_client_config(mm: Mattermost, _call: Call) -> Reply:
    """Any logged-in account may read it; `format=old` is ignored by current servers."""
    with mm.store.lock:
        return 200, dict(mm.store.client_config)


def login(mm: Mattermost, call: Call) -> Reply:
    login_id = str(call.body.get("login_id", ""))
    password = str(call.body.get("password", ""))
    with mm.store.lock:
        user = next(
            (u for u in mm.store.users.values() if login_id in {u.username, u.email}),
            None,
        )
        if user is not None and user.is_bot:
            raise AppError(401, "api.user.login.bot_login_forbidden", "Bot login is forbidden.")
        if user is None or user.password is None or not secrets.compare_digest(user.password, password):
            raise AppError(401, "api.user.login.invalid_credentials_email_username", "Invalid credentials.")
        return 201, _user_json(mm, user)


def get_team_by_name(mm: Mattermost, call: Call) -> Reply:
    with mm.store.lock:
        mm.store.team_named(call.params["team_name"])
        return 200, mm.store.team_json()


def create_direct_channel(mm: Mattermost, call: Call) -> Reply:
    user_a, user_b = (str(i) for i in call.body)
    with mm.store.lock:
        mm.store.user(user_a)
        mm.store.user(user_b)
        if call.me.id not in {user_a, user_b} and not call.me.system_admin:
            raise AppError(403, "api.context.permissions.app_error", "You do not have permission.")
        return 201, mm.store.channel_json(mm.store.direct_channel(user_a, user_b))


def _visible_channel(mm: Mattermost, call: Call, channel_id: str) -> dict[str, Any]:
    channel = mm.store.channel(channel_id)
    if channel.type != "O" and call.me.id not in channel.members and not call.me.system_admin:
        raise AppError(403, "api.context.permissions.app_error", "You do not have permission.")
    return mm.store.channel_json(channel)


def get_channel_by_name(mm: Mattermost, call: Call) -> Reply:
    with mm.store.lock:
        channel = mm.store.channel_named(call.params["team_id"], call.params["channel_name"])
        return 200, _visible_channel(mm, call, channel.id)


def get_channel_by_name_for_team_name(mm: Mattermost, call: Call) -> Reply:
    with mm.store.lock:
        team = mm.store.team_named(call.params["team_name"])
        channel = mm.store.channel_named(team.id, call.params["channel_name"])
        return 200, _visible_channel(mm, call, channel.id)


def get_channel(mm: Mattermost, call: Call) -> Reply:
    with mm.store.lock:
        return 200, _visible_channel(mm, call, call.params["channel_id"])


def create_post(mm: Mattermost, call: Call) -> Reply:
    return 201, mm.create_post(call.me, call.body)


def _readable_post(mm: Mattermost, call: Call, post_id: str) -> dict[str, Any]:
    post = mm.store.post(post_id)
    channel = mm.store.channel(post["channel_id"])
    if call.me.id not in channel.members and channel.type != "O" and not call.me.system_admin:
        raise AppError(403, "api.context.permissions.app_error", "You do not have permission.")
    return rules.strip_integrations(post)


def get_post(mm: Mattermost, call: Call) -> Reply:
    with mm.store.lock:
        return 200, _readable_post(mm, call, call.params["post_id"])


def update_post(mm: Mattermost, call: Call) -> Reply:
    return 200, mm.edit_post(call.me, call.params["post_id"], call.body, patch=False)


def patch_post(mm: Mattermost, call: Call) -> Reply:
    return 200, mm.edit_post(call.me, call.params["post_id"], call.body, patch=True)


def delete_post(mm: Mattermost, call: Call) -> Reply:
    mm.delete_post(call.me, call.params["post_id"])
    return 200, {"status": "OK"}


def pin_post(mm: Mattermost, call: Call) -> Reply:
    mm.set_pinned(call.me, call.params["post_id"], pinned=True)
    return 200, {"status": "OK"}


def unpin_post(mm: Mattermost, call: Call) -> Reply:
    mm.set_pinned(call.me, call.params["post_id"], pinned=False)
    return 200, {"status": "OK"}


def create_post_ephemeral(mm: Mattermost, call: Call) -> Reply:
    if not call.me.system_admin:  # create_post_ephemeral: system admins only by default
        raise AppError(403, "api.context.permissions.app_error", "You do not have permission.")
    post = call.body["post"]
    with mm.store.lock:
        mm.store.user(str(call.body["user_id"]))
        mm.store.channel(str(post["channel_id"]))
    rules.check_content(str(post["message"]), {})
    sent = mm.send_ephemeral(str(call.body["user_id"]), str(post["channel_id"]), str(post["message"]))
    return 201, sent


def _post_list(found: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(found, key=lambda p: p["create_at"], reverse=True)
    return {
        "order": [p["id"] for p in ordered],
        "posts": {p["id"]: rules.strip_integrations(p) for p in ordered},
        "next_post_id": "",
        "prev_post_id": "",
        "has_next": False,
    }


def get_posts_for_channel(mm: Mattermost, call: Call) -> Reply:
    page = int(call.query.get("page", "0"))
    per_page = int(call.query.get("per_page", "60"))
    since = int(call.query.get("since", "0"))
    with mm.store.lock:
        _visible_channel(mm, call, call.params["channel_id"])
        found = [
            p
            for p in mm.store.posts.values()
            if p["channel_id"] == call.params["channel_id"] and p["update_at"] > since
        ]
    found.sort(key=lambda p: p["create_at"], reverse=True)
    if since:  # the server answers `since` with every post changed after it, ignoring page/per_page
        return 200, _post_list(found[:MAX_POSTS_SINCE])
    return 200, _post_list(found[page * per_page : (page + 1) * per_page])


def get_channels_for_user(mm: Mattermost, call: Call) -> Reply:
    """GET /users/{user_id}/channels: every channel of every team the user is a member of."""
    user_id = call.me.id if call.params["user_id"] == "me" else call.params["user_id"]
    if user_id != call.me.id and not call.me.system_admin:
        raise AppError(403, "api.context.permissions.app_error", "You do not have permission.")
    with mm.store.lock:
        mm.store.user(user_id)
        mine = [c for c in mm.store.channels.values() if user_id in c.members]
        return 200, [mm.store.channel_json(c) for c in mine]


def get_post_thread(mm: Mattermost, call: Call) -> Reply:
    with mm.store.lock:
        post = _readable_post(mm, call, call.params["post_id"])
        root = post["root_id"] or post["id"]
        found = [p for p in mm.store.posts.values() if root in {p["id"], p["root_id"]}]
    return 200, _post_list(found)


def _can_manage_commands(user: User) -> None:
    if not (user.team_admin or user.system_admin):
        raise AppError(403, "api.context.permissions.app_error", "manage_own_slash_commands required")


def _command_problems(body: dict[str, Any]) -> str:
    trigger = str(body.get("trigger", ""))
    url = str(body.get("url", ""))
    if not trigger or len(trigger) > 128 or trigger.startswith("/") or " " in trigger:
        return "Invalid trigger"
    if body.get("method") not in {"P", "G"}:
        return "Invalid method"
    if not url.startswith(("http://", "https://")) or len(url) > 1024:
        return "Invalid URL"
    if len(str(body.get("display_name", ""))) > 64 or len(str(body.get("description", ""))) > 128:
        return "Display name or description too long"
    return ""


def create_command(mm: Mattermost, call: Call) -> Reply:
    _can_manage_commands(call.me)
    problem = _command_problems(call.body)
    if problem:
        raise AppError(400, "model.command.is_valid.app_error", problem)
    trigger = str(call.body["trigger"]).lower()
    now = mm.now_ms()
    with mm.store.lock:
        if call.body["team_id"] != mm.store.team.id:
            raise AppError(404, "app.team.get.find.app_error", "Unable to find the team.")
        if any(c["trigger"] == trigger and not c["delete_at"] for c in mm.store.commands.values()):
            raise AppError(400, "api.command.duplicate_trigger.app_error", "This trigger word is already in use.")
        command = _command_fields(call.body) | {
            "id": new_id(),
            "token": new_id(),
            "create_at": now,
            "update_at": now,
            "delete_at": 0,
            "creator_id": call.me.id,
            "team_id": mm.store.team.id,
            "trigger": trigger,
        }
        mm.store.commands[command["id"]] = command
        return 201, dict(command)


def _command_fields(body: dict[str, Any]) -> dict[str, Any]:
    """Update is a full replacement: anything left out becomes blank."""
    return {
        "method": str(body.get("method", "")),
        "url": str(body.get("url", "")),
        "username": str(body.get("username", "")),
        "icon_url": str(body.get("icon_url", "")),
        "auto_complete": bool(body.get("auto_complete", False)),
        "auto_complete_desc": str(body.get("auto_complete_desc", "")),
        "auto_complete_hint": str(body.get("auto_complete_hint", "")),
        "display_name": str(body.get("display_name", "")),
        "description": str(body.get("description", "")),
    }


def list_commands(mm: Mattermost, call: Call) -> Reply:
    team_id = call.query.get("team_id", "")
    if call.query.get("custom_only") != "true":
        return 200, []  # the emulator has no built-in commands to list
    with mm.store.lock:
        mine = [
            dict(c)
            for c in mm.store.commands.values()
            if c["team_id"] == team_id
            and not c["delete_at"]
            and (c["creator_id"] == call.me.id or call.me.system_admin)
        ]
    return 200, mine


def update_command(mm: Mattermost, call: Call) -> Reply:
    _can_manage_commands(call.me)
    command_id = call.params["command_id"]
    with mm.store.lock:
        old = mm.store.commands.get(command_id)
        if old is None:
            raise AppError(404, "app.command.updatecommand.app_error", "Unable to find the command.")
        if call.body.get("id") != command_id or call.body.get("team_id", old["team_id"]) != old["team_id"]:
            raise AppError(400, "api.command.team_mismatch.app_error", "id or team_id mismatch")
        problem = _command_problems(call.body)
        if problem:
            raise AppError(400, "model.command.is_valid.app_error", problem)
        updated = (
            old
            | _command_fields(call.body)
            | {
                "trigger": str(call.body["trigger"]).lower(),
                "update_at": mm.now_ms(),
            }
        )
        mm.store.commands[command_id] = updated
        return 200, dict(updated)


def open_dialog(mm: Mattermost, call: Call) -> Reply:
    mm.open_dialog(call.body)
    return 200, {"status": "OK"}


def upload_file(mm: Mattermost, call: Call) -> Reply:
    """Multipart (``channel_id``, ``files``, ``client_ids``) or query ``channel_id`` + ``filename``
    with the raw content as the body; the app hands both in as ``{"channel_id", "files", "client_ids"}``."""
    body = call.body or {}
    channel_id = str(body.get("channel_id") or call.query.get("channel_id", ""))
    files: list[tuple[str, bytes]] = list(body.get("files") or [])
    if not channel_id or not files:
        raise AppError(400, "api.file.upload_file.incorrect_number_of_files.app_error", "channel_id and files needed.")
    infos = [mm.upload_file(call.me, channel_id, name, content) for name, content in files]
    return 201, {"file_infos": infos, "client_ids": list(body.get("client_ids") or [])}


def get_file_info(mm: Mattermost, call: Call) -> Reply:
    return 200, mm.file_info(call.me, call.params["file_id"])


def ping(_mm: Mattermost, _call: Call) -> Reply:
    return 200, {"status": "OK"}


# What a person's client calls (the sandbox's chat page uses these, as the webapp does) ------------
def get_teams_for_user(mm: Mattermost, call: Call) -> Reply:
    _self_or_admin(call, call.params["user_id"])
    with mm.store.lock:
        return 200, [mm.store.team_json()]


def get_channels_for_team_for_user(mm: Mattermost, call: Call) -> Reply:
    """The user's channels in the team, direct messages included, as the server returns them."""
    user_id = _self_or_admin(call, call.params["user_id"])
    with mm.store.lock:
        if call.params["team_id"] != mm.store.team.id:
            raise AppError(404, "app.team.get.find.app_error", "Unable to find the team.")
        mine = [
            c for c in mm.store.channels.values() if user_id in c.members and c.team_id in {call.params["team_id"], ""}
        ]
        return 200, [mm.store.channel_json(c) for c in sorted(mine, key=lambda c: (c.type, c.name))]


def _self_or_admin(call: Call, user_id: str) -> str:
    wanted = call.me.id if user_id == "me" else user_id
    if wanted != call.me.id and not call.me.system_admin:
        raise AppError(403, "api.context.permissions.app_error", "You do not have permission.")
    return wanted


def list_autocomplete_commands(mm: Mattermost, call: Call) -> Reply:
    """Commands with autocomplete on, sanitised as the server does (no token, URL or method)."""
    with mm.store.lock:
        if call.params["team_id"] != mm.store.team.id:
            raise AppError(404, "app.team.get.find.app_error", "Unable to find the team.")
        found = [
            dict(c) | {"token": "", "url": "", "method": "", "creator_id": ""}
            for c in mm.store.commands.values()
            if c["team_id"] == mm.store.team.id and c["auto_complete"] and not c["delete_at"]
        ]
    return 200, found


def execute_command(mm: Mattermost, call: Call) -> Reply:
    """Ephemeral replies reach the user over the websocket; the reply body is the command response."""
    with mm.store.lock:
        channel = mm.store.channel(str(call.body["channel_id"]))
        if call.me.id not in channel.members:
            raise AppError(403, "api.context.permissions.app_error", "You do not have permission.")
    result = mm.run_command(call.me, channel.id, str(call.body["command"]), str(call.body.get("root_id", "")))
    if result.error:
        raise AppError(500, "api.command.execute_command.failed.app_error", result.error)
    response_type = "in_channel" if result.posts else "ephemeral"
    return 200, {"response_type": response_type, "text": "", "goto_location": "", "trigger_id": ""}


def do_post_action(mm: Mattermost, call: Call) -> Reply:
    selected = str((call.body or {}).get("selected_option", "")) if isinstance(call.body, dict) else ""
    result = mm.click(call.me, call.params["post_id"], call.params["action_id"], selected)
    if result.status != 200:
        raise AppError(400, "api.post.do_action.action_integration.app_error", "The action failed.")
    return 200, {"status": "OK"}


def submit_interactive_dialog(mm: Mattermost, call: Call) -> Reply:
    """Relays the integration's `error`/`errors`; `{"status": "OK"}` when it closed the form."""
    submission = call.body.get("submission") or {}
    result = mm.submit_dialog(call.me, dict(submission), cancelled=bool(call.body.get("cancelled", False)))
    if result.status != 200:
        raise AppError(result.status, "api.dialog.submit.app_error", result.error or "Dialog submission failed.")
    if result.closed:
        return 200, {"status": "OK"}
    reply: dict[str, Any] = {}
    if result.error:
        reply["error"] = result.error
    if result.errors:
        reply["errors"] = result.errors
    return 200, reply


HANDLERS: dict[str, Handler] = {
    "GetUser": get_user,
    "GetUsersByIds": get_users_by_ids,
    "GetUserByEmail": get_user_by_email,
    "GetUserByUsername": get_user_by_username,
    "Login": login,
    "GetTeamByName": get_team_by_name,
    "CreateDirectChannel": create_direct_channel,
    "GetChannelByName": get_channel_by_name,
    "GetChannelByNameForTeamName": get_channel_by_name_for_team_name,
    "GetChannel": get_channel,
    "GetChannelsForUser": get_channels_for_user,
    "CreatePost": create_post,
    "GetPost": get_post,
    "UpdatePost": update_post,
    "PatchPost": patch_post,
    "PinPost": pin_post,
    "DeletePost": delete_post,
    "UnpinPost": unpin_post,
    "CreatePostEphemeral": create_post_ephemeral,
    "GetPostsForChannel": get_posts_for_channel,
    "GetPostThread": get_post_thread,
    "CreateCommand": create_command,
    "ListCommands": list_commands,
    "UpdateCommand": update_command,
    "OpenInteractiveDialog": open_dialog,
    "GetPing": ping,
    "GetClientConfig": get_client_config,
    "UploadFile": upload_file,
    "GetFileInfo": get_file_info,
    "GetTeamsForUser": get_teams_for_user,
    "GetChannelsForTeamForUser": get_channels_for_team_for_user,
    "ListAutocompleteCommands": list_autocomplete_commands,
    "ExecuteCommand": execute_command,
    "DoPostAction": do_post_action,
    "SubmitInteractiveDialog": submit_interactive_dialog,
}
