"""Act as a named sandbox user: what a person does in the Mattermost UI, by username."""

from __future__ import annotations

from sandbox.mattermost import posts as rules
from sandbox.mattermost.posts import Post
from sandbox.mattermost.service import ClickResult, CommandResult, DialogResult, Mattermost


def _channel_id(mm: Mattermost, channel: str) -> str:
    with mm.store.lock:
        if channel in mm.store.channels:
            return channel
        return mm.store.channel_named(mm.store.team.id, channel).id


def run_command(mm: Mattermost, user: str, channel: str, text: str, root_id: str = "") -> CommandResult:
    return mm.run_command(mm.store.user_named(user), _channel_id(mm, channel), text, root_id)


def click(mm: Mattermost, user: str, post_id: str, action_id: str, selected_option: str = "") -> ClickResult:
    return mm.click(mm.store.user_named(user), post_id, action_id, selected_option)


def submit_dialog(mm: Mattermost, user: str, values: dict[str, object], *, cancelled: bool = False) -> DialogResult:
    return mm.submit_dialog(mm.store.user_named(user), dict(values), cancelled=cancelled)


def post_as(mm: Mattermost, user: str, channel: str, message: str, root_id: str = "") -> Post:
    body = {"channel_id": _channel_id(mm, channel), "message": message, "root_id": root_id}
    return mm.create_post(mm.store.user_named(user), body)


def channel_posts(mm: Mattermost, channel: str) -> list[Post]:
    channel_id = _channel_id(mm, channel)
    with mm.store.lock:
        found = [rules.strip_integrations(p) for p in mm.store.posts.values() if p["channel_id"] == channel_id]
    return sorted(found, key=lambda p: p["create_at"])


def direct_posts(mm: Mattermost, user_a: str, user_b: str) -> list[Post]:
    with mm.store.lock:
        a, b = mm.store.user_named(user_a), mm.store.user_named(user_b)
        channel_id = mm.store.direct_channel(a.id, b.id).id
    return channel_posts(mm, channel_id)


def ephemerals(mm: Mattermost, user: str) -> list[Post]:
    with mm.store.lock:
        return [rules.strip_integrations(p) for p in mm.store.ephemerals.get(mm.store.user_named(user).id, [])]
