"""When the DM handler catches up: a fresh hello (new connection id) or a sequence gap; and each
post is taken once, with a bounded memory of handled ids."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from types import SimpleNamespace
from typing import Any

from bot.direct import DirectMessages

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
