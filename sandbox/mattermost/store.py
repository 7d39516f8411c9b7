"""In-memory Mattermost state: users, team, channels, posts, commands and short-lived ids.

Kept across `restart()`; every access goes through one lock because REST handlers, websocket
tasks and the test thread's act-as calls touch it concurrently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.mattermost.files import StoredFile

import hashlib
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from sandbox.mattermost.errors import AppError
from sandbox.mattermost.posts import Post
from sandbox.mattermost.seed import DEFAULT_CLIENT_CONFIG, SandboxSeed


def new_id() -> str:
    """26 lower-case alphanumerics, the shape of a Mattermost id."""
    return secrets.token_hex(13)


def seeded_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:26]


@dataclass
class User:
    id: str
    username: str
    email: str
    token: str
    first_name: str = ""
    last_name: str = ""
    password: str | None = None
    is_bot: bool = False
    system_admin: bool = False
    team_admin: bool = False
    auth_service: str = ""
    email_verified: bool = True

    def to_json(self, created_ms: int) -> dict[str, Any]:
        """The user as they see themselves (GET /users/me, login); others get `profile_json`."""
        roles = "system_user system_admin" if self.system_admin else "system_user"
        body: dict[str, Any] = {
            "id": self.id,
            "create_at": created_ms,
            "update_at": created_ms,
            "delete_at": 0,
            "username": self.username,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "nickname": "",
            "email": self.email,
            "email_verified": self.email_verified,
            "auth_service": self.auth_service,
            "roles": roles,
            "locale": "en",
            "props": {},
            "mfa_active": False,
            "timezone": {"useAutomaticTimezone": "true", "manualTimezone": "", "automaticTimezone": ""},
        }
        if self.is_bot:
            body["is_bot"] = True
        return body

    def profile_json(self, created_ms: int, viewer: User, client_config: dict[str, str]) -> dict[str, Any]:
        """Another user's profile as Mattermost sanitises it (model.User Sanitize, ClearNonProfileFields).

        `email_verified` is cleared for every caller, the caller's own record excepted; `auth_service`
        only shows to `manage_system` (system admins); e-mail and names follow ShowEmailAddress and
        ShowFullName unless the caller is a system admin.
        """
        body = self.to_json(created_ms)
        if viewer.id == self.id:
            return body
        del body["email_verified"]
        if not viewer.system_admin:
            body["auth_service"] = ""
            if client_config.get("ShowEmailAddress") != "true":
                body["email"] = ""
            if client_config.get("ShowFullName") != "true":
                body["first_name"] = body["last_name"] = ""
        return body

    def may_see_emails(self, client_config: dict[str, str]) -> bool:
        return self.system_admin or client_config.get("ShowEmailAddress") == "true"


@dataclass
class Team:
    id: str
    name: str
    display_name: str


@dataclass
class Channel:
    id: str
    team_id: str
    type: str  # "O" public, "D" direct
    name: str
    display_name: str
    members: set[str] = field(default_factory=set)


@dataclass
class Trigger:
    user_id: str
    channel_id: str
    team_id: str
    created: float


@dataclass
class ResponseUrl:
    command_id: str
    user_id: str
    channel_id: str
    root_id: str
    created: float
    uses: int = 0


@dataclass
class OpenDialog:
    url: str
    dialog: dict[str, Any]
    channel_id: str
    team_id: str


class Store:
    def __init__(self, seed: SandboxSeed, created_ms: int) -> None:
        self.lock = threading.RLock()
        self.created_ms = created_ms
        self.team = Team(seeded_id("team:" + seed.team.name), seed.team.name, seed.team.display_name)
        self.users: dict[str, User] = {}
        for user in seed.users:
            self._add_user(
                User(
                    seeded_id("user:" + user.username),
                    user.username,
                    f"{user.username}@{seed.email_domain}",
                    user.token,
                    user.first_name,
                    user.last_name,
                    user.password,
                    system_admin=user.system_admin,
                    team_admin=user.team_admin,
                    auth_service=user.auth_service,
                    email_verified=user.email_verified,
                )
            )
        for bot in seed.bots:
            self._add_user(
                User(
                    seeded_id("user:" + bot.username),
                    bot.username,
                    f"{bot.username}@{seed.email_domain}",
                    bot.token,
                    first_name=bot.display_name,
                    is_bot=True,
                    system_admin=bot.system_admin,
                    team_admin=bot.team_admin,
                )
            )
        self.client_config: dict[str, str] = DEFAULT_CLIENT_CONFIG | seed.client_config
        self.channels: dict[str, Channel] = {}
        for channel in seed.channels:
            self.channels_add(
                Channel(
                    seeded_id("channel:" + channel.name),
                    self.team.id,
                    "O",
                    channel.name,
                    channel.display_name,
                    set(self.users),
                )
            )
        self.posts: dict[str, Post] = {}
        self.files: dict[str, StoredFile] = {}  # uploads (sandbox.mattermost.files)
        self.commands: dict[str, dict[str, Any]] = {}
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.dialogs: dict[str, list[OpenDialog]] = {}
        self.ephemerals: dict[str, list[Post]] = {}

    def _add_user(self, user: User) -> None:
        self.users[user.id] = user

    def add_user(self, user: User) -> None:
        """A new account (a sign-up), member of every public channel."""
        if any(u.username == user.username for u in self.users.values()):
            raise ValueError(f"username {user.username!r} is taken")
        self._add_user(user)
        for channel in self.channels.values():
            if channel.type == "O":
                channel.members.add(user.id)

    def channels_add(self, channel: Channel) -> None:
        self.channels[channel.id] = channel

    # lookups -------------------------------------------------------------------------------------
    def user_by_token(self, token: str) -> User | None:
        return next((u for u in self.users.values() if secrets.compare_digest(u.token, token)), None)

    def user(self, user_id: str) -> User:
        if user_id not in self.users:
            raise AppError(404, "app.user.missing_account.const", "Unable to find the user.")
        return self.users[user_id]

    def user_named(self, username: str) -> User:
        found = next((u for u in self.users.values() if u.username == username), None)
        if found is None:
            raise AppError(404, "app.user.missing_account.const", f"Unable to find the user {username!r}.")
        return found

    def user_by_email(self, email: str) -> User:
        found = next((u for u in self.users.values() if u.email.lower() == email.lower()), None)
        if found is None:
            raise AppError(404, "app.user.missing_account.const", "Unable to find the user.")
        return found

    def channel(self, channel_id: str) -> Channel:
        if channel_id not in self.channels:
            raise AppError(404, "app.channel.get.existing.app_error", "Unable to find the existing channel.")
        return self.channels[channel_id]

    def channel_named(self, team_id: str, name: str) -> Channel:
        found = next(
            (c for c in self.channels.values() if c.team_id == team_id and c.name == name),
            None,
        )
        if found is None:
            raise AppError(404, "app.channel.get_by_name.missing.app_error", "Channel does not exist.")
        return found

    def team_named(self, name: str) -> Team:
        if name != self.team.name:
            raise AppError(404, "app.team.get_by_name.missing.app_error", "Unable to find the team.")
        return self.team

    def post(self, post_id: str) -> Post:
        if post_id not in self.posts:
            raise AppError(404, "app.post.get.app_error", "Unable to get the post.")
        return self.posts[post_id]

    def direct_channel(self, user_a: str, user_b: str) -> Channel:
        name = "__".join(sorted((user_a, user_b)))
        found = next((c for c in self.channels.values() if c.type == "D" and c.name == name), None)
        if found is None:
            found = Channel(new_id(), "", "D", name, "", {user_a, user_b})
            self.channels_add(found)
        return found

    def channel_json(self, channel: Channel) -> dict[str, Any]:
        last = max((p["create_at"] for p in self.posts.values() if p["channel_id"] == channel.id), default=0)
        return {
            "id": channel.id,
            "create_at": self.created_ms,
            "update_at": self.created_ms,
            "delete_at": 0,
            "team_id": channel.team_id,
            "type": channel.type,
            "display_name": channel.display_name,
            "name": channel.name,
            "header": "",
            "purpose": "",
            "last_post_at": last,
            "total_msg_count": sum(1 for p in self.posts.values() if p["channel_id"] == channel.id),
            "extra_update_at": 0,
            "creator_id": "",
        }

    def team_json(self) -> dict[str, Any]:
        return {
            "id": self.team.id,
            "create_at": self.created_ms,
            "update_at": self.created_ms,
            "delete_at": 0,
            "display_name": self.team.display_name,
            "name": self.team.name,
            "description": "",
            "email": "",
            "type": "O",
            "allowed_domains": "",
            "invite_id": "",
            "allow_open_invite": True,
        }
