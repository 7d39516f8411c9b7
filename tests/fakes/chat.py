"""Mattermost in memory, at the bot's ``ChatPort`` (bot/ports.py): posts kept and served back as
Mattermost would, every write recorded for the in-process handler tests to assert on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.mattermost.client import MattermostUnavailable
from jitwire.models import Person

Json = dict[str, Any]
BOT = "botuser"


@dataclass
class FakeChat:
    bot_user_id: str = BOT
    users: dict[str, Person] = field(default_factory=dict)
    posts: dict[str, Json] = field(default_factory=dict)  # every post by id, in creation order
    created: list[Json] = field(default_factory=list)  # what create_post / create_post_with_files sent
    patches: list[tuple[str, str, Json]] = field(default_factory=list)  # (post_id, message, props)
    deleted: list[str] = field(default_factory=list)
    dialogs: list[tuple[str, str, Json]] = field(default_factory=list)  # (trigger_id, url, dialog)
    responses: list[tuple[str, Json]] = field(default_factory=list)  # (response_url, payload): ephemerals
    uploads: list[tuple[str, str, str]] = field(default_factory=list)  # (channel_id, name, mime type)
    failing: set[str] = field(default_factory=set)  # method names that raise MattermostUnavailable
    _clock_ms: int = 1_000

    def _check(self, method: str) -> None:
        if method in self.failing:
            raise MattermostUnavailable(f"injected: {method} failed")

    def add_post(self, channel_id: str, message: str = "", props: Json | None = None, **fields: Any) -> Json:
        """A post already in the channel (by the bot unless ``user_id`` says otherwise)."""
        self._clock_ms += 1
        post: Json = {
            "id": f"post{len(self.posts) + 1}",
            "channel_id": channel_id,
            "user_id": self.bot_user_id,
            "message": message,
            "props": dict(props or {}),
            "root_id": "",
            "create_at": self._clock_ms,
        } | fields
        self.posts[post["id"]] = post
        return post

    @property
    def ephemerals(self) -> list[str]:
        """The texts of the delayed slash-command replies, in order."""
        return [str(payload.get("text", "")) for _, payload in self.responses]

    def in_channel(self, channel_id: str) -> list[Json]:
        return [p for p in self.posts.values() if p["channel_id"] == channel_id]

    async def person(self, user_id: str) -> Person:
        self._check("person")
        if user_id not in self.users:
            raise MattermostUnavailable("Mattermost did not disclose the user's e-mail address to the bot")
        return self.users[user_id]

    async def direct_channel(self, user_id: str) -> str:
        self._check("direct_channel")
        return f"dm-{user_id}"

    async def direct_channel_ids(self) -> list[str]:
        self._check("direct_channel_ids")
        return sorted({p["channel_id"] for p in self.posts.values() if str(p["channel_id"]).startswith("dm-")})

    async def create_post(self, channel_id: str, message: str, props: Json | None = None, root_id: str = "") -> Json:
        self._check("create_post")
        post = self.add_post(channel_id, message, props, root_id=root_id)
        self.created.append(post)
        return dict(post)

    async def upload_file(self, channel_id: str, name: str, content: bytes, mime_type: str) -> str:
        self._check("upload_file")
        self.uploads.append((channel_id, name, mime_type))
        return f"file{len(self.uploads)}"

    async def create_post_with_files(self, channel_id: str, message: str, file_ids: list[str]) -> Json:
        self._check("create_post_with_files")
        post = self.add_post(channel_id, message, file_ids=list(file_ids))
        self.created.append(post)
        return dict(post)

    async def get_post(self, post_id: str) -> Json:
        self._check("get_post")
        if post_id not in self.posts:
            raise MattermostUnavailable("Mattermost call failed: ResourceNotFound")
        return dict(self.posts[post_id])

    async def patch_post(self, post_id: str, message: str, props: Json) -> Json:
        """Message and props replaced, every other field kept (PUT /posts/{id}/patch)."""
        self._check("patch_post")
        if post_id not in self.posts:
            raise MattermostUnavailable("Mattermost call failed: ResourceNotFound")
        self.patches.append((post_id, message, props))
        self.posts[post_id] |= {"message": message, "props": dict(props)}
        return dict(self.posts[post_id])

    async def delete_post(self, post_id: str) -> None:
        self._check("delete_post")
        self.deleted.append(post_id)
        self.posts.pop(post_id, None)

    async def thread_posts(self, post_id: str) -> list[Json]:
        self._check("thread_posts")
        return [dict(p) for p in self.posts.values() if post_id in (p["id"], p["root_id"])]

    async def recent_posts(self, channel_id: str, per_page: int = 60) -> list[Json]:
        """Newest first, as Mattermost orders a channel's posts."""
        self._check("recent_posts")
        return [dict(p) for p in reversed(self.in_channel(channel_id))][:per_page]

    async def posts_since(self, channel_id: str, since_ms: int) -> list[Json]:
        self._check("posts_since")
        return [dict(p) for p in self.in_channel(channel_id) if int(p["create_at"]) > since_ms]

    async def open_dialog(self, trigger_id: str, url: str, dialog: Json) -> None:
        self._check("open_dialog")
        self.dialogs.append((trigger_id, url, dialog))

    async def respond(self, response_url: str, payload: Json) -> None:
        self._check("respond")
        self.responses.append((response_url, payload))
