"""When the DM handler catches up: a fresh hello (new connection id) or a sequence gap; and each
post is taken once, with a bounded memory of handled ids."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from types import SimpleNamespace
from typing import Any

from bot.commands.direct_messages import DirectMessages

BOT = "botuserid"


def event(name: str, seq: int, **data: Any) -> str:
    return json.dumps({"event": name, "data": data, "broadcast": {}, "seq": seq})


def dm(seq: int, post_id: str, user: str = "alice") -> str:
    post = {"id": post_id, "user_id": user, "channel_id": "c1", "message": "help", "create_at": 1000 + seq}
    return event("posted", seq, channel_type="D", post=json.dumps(post))


class Spawned:
    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, work: Coroutine[Any, Any, None]) -> None:
        self.names.append(work.cr_code.co_name)
        work.close()  # only which work was scheduled matters here

    def take(self) -> list[str]:
        taken, self.names = self.names, []
        return taken


def handler(spawned: Spawned, memory: int = 100) -> DirectMessages:
    core: Any = SimpleNamespace(mm=SimpleNamespace(bot_user_id=BOT))
    return DirectMessages(core, "jit", 0, 1, spawned, now_ms=lambda: 500, handled_memory=memory)


async def feed(dms: DirectMessages, *messages: str) -> None:
    for message in messages:
        await dms.on_message(message)


def test_a_new_connection_id_or_a_sequence_gap_starts_a_catch_up_and_a_post_is_taken_once() -> None:
    spawned = Spawned()
    dms = handler(spawned)
    asyncio.run(feed(dms, event("hello", 0, connection_id="one"), dm(1, "p1")))
    assert spawned.take() == ["answer"]  # the first hello has nothing to catch up on
    asyncio.run(feed(dms, dm(3, "p3")))  # seq 2 never arrived
    assert spawned.take() == ["catch_up", "answer"]
    asyncio.run(feed(dms, dm(4, "p1"), dm(5, "p3")))  # the same posts again (a catch-up found them too)
    assert spawned.take() == []
    asyncio.run(feed(dms, event("hello", 0, connection_id="one")))  # a resumed session: nothing missed
    assert spawned.take() == []
    asyncio.run(feed(dms, event("hello", 0, connection_id="two"), dm(1, "p4")))
    assert spawned.take() == ["catch_up", "answer"]


def test_own_posts_are_not_taken_and_the_memory_of_handled_posts_is_bounded() -> None:
    spawned = Spawned()
    dms = handler(spawned, memory=2)
    asyncio.run(feed(dms, event("hello", 0, connection_id="one"), dm(1, "mine", user=BOT)))
    assert spawned.take() == []
    asyncio.run(feed(dms, dm(2, "a"), dm(3, "b"), dm(4, "c")))
    assert spawned.take() == ["answer"] * 3
    assert len(dms._handled) == 2


class MissedPosts:
    """Mattermost as the catch-up reads it: one DM channel holding what was posted while away."""

    def __init__(self, posts: list[dict[str, Any]]) -> None:
        self.bot_user_id = BOT
        self.posts = posts
        self.since: list[int] = []

    async def direct_channel_ids(self) -> list[str]:
        return ["c1"]

    async def posts_since(self, channel_id: str, since: int) -> list[dict[str, Any]]:
        self.since.append(since)
        return self.posts


def test_a_catch_up_counts_the_dms_it_recovers_once() -> None:
    missed = [
        {"id": "m1", "user_id": "alice", "channel_id": "c1", "message": "help", "create_at": 2000},
        {"id": "m2", "user_id": "bob", "channel_id": "c1", "message": "list", "create_at": 2001},
        {"id": "r1", "user_id": BOT, "channel_id": "c1", "message": "the bot's own answer", "create_at": 2002},
    ]
    mm = MissedPosts(missed)
    counted: list[int] = []
    spawned = Spawned()
    core: Any = SimpleNamespace(mm=mm)
    dms = DirectMessages(core, "jit", 0, 1, spawned, now_ms=lambda: 500, recovered=counted.append)
    asyncio.run(dms.catch_up())
    assert counted == [2]  # alice's and bob's DMs, not the bot's own post
    assert spawned.take() == ["answer", "answer"]
    asyncio.run(dms.catch_up())  # the same posts found again: already handled, nothing counted
    assert counted == [2]
    assert spawned.take() == []
