"""Websocket protocol (docs/architecture.md, "Websocket") through a plain `websockets` client and mattermostdriver."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
import websockets
from mattermostdriver import Driver
from mattermostdriver.websocket import Websocket

from sandbox.mattermost import MattermostEmulator


async def _recv(ws: Any) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout=5)))


async def _login(mm: MattermostEmulator, user: str) -> Any:
    ws = await websockets.connect(f"ws://127.0.0.1:{mm.port}/api/v4/websocket")
    await ws.send(json.dumps({"seq": 1, "action": "authentication_challenge", "data": {"token": mm.token(user)}}))
    assert await _recv(ws) == {"status": "OK", "seq_reply": 1}
    hello = await _recv(ws)
    assert (hello["event"], hello["seq"]) == ("hello", 0)
    assert hello["data"]["server_version"]
    return ws


def test_posted_events_are_numbered_and_echo_own_posts(mm: MattermostEmulator) -> None:
    async def scenario() -> None:
        bot_ws = await _login(mm, "jit-bot")
        alice_ws = await _login(mm, "alice")
        await asyncio.to_thread(mm.post_as, user="alice", channel="jit-approvals", message="first")
        await asyncio.to_thread(mm.post_as, user="jit-bot", channel="jit-approvals", message="second")
        events = [await _recv(bot_ws), await _recv(bot_ws)]
        assert [e["seq"] for e in events] == [1, 2]
        assert all(e["event"] == "posted" for e in events)
        posts = [json.loads(e["data"]["post"]) for e in events]  # a JSON string, decoded twice
        assert [p["message"] for p in posts] == ["first", "second"]
        assert posts[1]["user_id"] == mm.user("jit-bot").id
        assert events[0]["data"]["sender_name"] == "@alice"
        assert (await _recv(alice_ws))["seq"] == 1
        await bot_ws.close()
        await alice_ws.close()

    asyncio.run(scenario())


def test_bad_token_is_closed_without_reply(mm: MattermostEmulator) -> None:
    async def scenario() -> None:
        async with websockets.connect(f"ws://127.0.0.1:{mm.port}/api/v4/websocket") as ws:
            await ws.send(json.dumps({"seq": 1, "action": "authentication_challenge", "data": {"token": "x"}}))
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), timeout=5)

    asyncio.run(scenario())


def test_app_level_ping_gets_pong(mm: MattermostEmulator) -> None:
    async def scenario() -> None:
        ws = await _login(mm, "bob")
        await ws.send(json.dumps({"seq": 2, "action": "ping"}))
        reply = await _recv(ws)
        assert (reply["seq_reply"], reply["data"]["text"]) == (2, "pong")
        await ws.close()

    asyncio.run(scenario())


def test_ephemeral_reaches_only_target_user(mm: MattermostEmulator) -> None:
    async def scenario() -> None:
        alice_ws = await _login(mm, "alice")
        bob_ws = await _login(mm, "bob")
        channel_id = mm.channel_id("jit-approvals")
        await asyncio.to_thread(mm.mm.send_ephemeral, mm.user("alice").id, channel_id, "only you")
        await asyncio.to_thread(mm.post_as, user="carol", channel="jit-approvals", message="everyone")
        first = await _recv(alice_ws)
        assert first["event"] == "ephemeral_message"
        assert json.loads(first["data"]["post"])["message"] == "only you"
        bob_first = await _recv(bob_ws)
        assert json.loads(bob_first["data"]["post"])["message"] == "everyone"
        await alice_ws.close()
        await bob_ws.close()

    asyncio.run(scenario())
    assert [p["message"] for p in mm.posts("jit-approvals")] == ["everyone"]  # ephemeral not stored


def test_restart_closes_sockets_and_serves_again_with_state(mm: MattermostEmulator) -> None:
    mm.post_as(user="alice", channel="oncall", message="before restart")
    port = mm.port

    async def connect_and_wait_close() -> int | None:
        ws = await _login(mm, "dave")
        await asyncio.to_thread(mm.restart)
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), timeout=5)
        code: int | None = ws.close_code
        return code

    assert asyncio.run(connect_and_wait_close()) == 1001
    assert mm.port == port

    async def reconnect() -> None:
        ws = await _login(mm, "dave")
        await ws.close()

    asyncio.run(reconnect())
    assert [p["message"] for p in mm.posts("oncall")] == ["before restart"]


class ClosingWebsocket(Websocket):
    """mattermostdriver's client, closing its connection once disconnected (the library leaves it open)."""

    async def _start_loop(self, websocket: Any, event_handler: Any) -> None:
        try:
            await super()._start_loop(websocket, event_handler)
        finally:
            await websocket.close()


def test_mattermostdriver_websocket_receives_hello_and_posted(mm: MattermostEmulator) -> None:
    driver = Driver({"url": "127.0.0.1", "port": mm.port, "scheme": "http", "token": mm.token("jit-bot")})
    driver.login()
    received: list[dict[str, Any]] = []
    hello_seen = threading.Event()

    async def handler(message: str) -> None:
        event = json.loads(message)
        received.append(event)
        if event.get("event") == "hello":
            hello_seen.set()
        if event.get("event") == "posted":
            driver.disconnect()

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            driver.init_websocket(handler, websocket_cls=ClosingWebsocket)
        finally:
            loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert hello_seen.wait(10)
    mm.post_as(user="alice", channel="jit-approvals", message="ping the bot")
    thread.join(10)
    assert not thread.is_alive()
    assert received[0] == {"status": "OK", "seq_reply": 1}
    posted = [e for e in received if e.get("event") == "posted"]
    assert json.loads(posted[0]["data"]["post"])["message"] == "ping the bot"
