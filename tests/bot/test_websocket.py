"""ReconnectingWebsocket against real local websocket servers (ws and wss)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.server import ServerConnection, serve

from bot.mattermost.client import driver_options
from bot.mattermost.websocket import Backoff, ReconnectingWebsocket

TOKEN = "tok"


class FakeMattermost:
    """Auth challenge → OK + hello (seq 0) → one event → normal close (code 1000)."""

    def __init__(self) -> None:
        self.sessions = 0
        self.challenges: list[dict[str, Any]] = []

    async def handler(self, socket: ServerConnection) -> None:
        self.sessions += 1
        challenge = json.loads(await socket.recv())
        self.challenges.append(challenge)
        if challenge["data"]["token"] != TOKEN:
            await socket.close()
            return
        await socket.send(json.dumps({"status": "OK", "seq_reply": 1}))
        await socket.send(json.dumps({"event": "hello", "data": {}, "broadcast": {}, "seq": 0}))
        await socket.send(json.dumps({"event": "posted", "data": {"n": self.sessions}, "broadcast": {}, "seq": 1}))
        await socket.close(code=1000)


def options(port: int, scheme: str = "http", verify: bool | str = True, token: str = TOKEN) -> dict[str, Any]:
    base = driver_options(f"{scheme}://localhost:{port}", token, verify=verify)
    return base | {"debug": False, "websocket_kw_args": None}


async def run_until(socket: ReconnectingWebsocket, received: list[str], done: Any) -> None:
    async def handler(message: str) -> None:
        received.append(message)

    task = asyncio.create_task(socket.connect(handler))
    for _ in range(500):
        if done():
            break
        await asyncio.sleep(0.01)
    await socket.close()
    await asyncio.wait_for(task, 5)


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    backoff = Backoff(base=1.0, cap=8.0)
    assert [backoff.delay(n, lambda: 0.0) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert [backoff.delay(n, lambda: 1.0) for n in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert backoff.delay(1000, lambda: 0.5) == 6.0


def test_reconnects_after_a_normal_close_and_stops_cleanly() -> None:
    fake = FakeMattermost()

    async def scenario() -> list[str]:
        received: list[str] = []
        async with serve(fake.handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            socket = ReconnectingWebsocket(options(port), TOKEN, Backoff(base=0.01, cap=0.02))
            await run_until(socket, received, lambda: socket.connections >= 3)
            assert socket.connections >= 3
            assert not socket.connected
        return received

    received = asyncio.run(scenario())
    assert fake.challenges[0] == {"seq": 1, "action": "authentication_challenge", "data": {"token": TOKEN}}
    events = [json.loads(m).get("event") for m in received]
    assert events[:3] == [None, "hello", "posted"]  # the OK reply, hello, then events


def test_a_refused_token_is_retried_with_backoff_not_in_a_hot_loop() -> None:
    fake = FakeMattermost()
    delays: list[float] = []

    class Recording(Backoff):
        def delay(self, attempt: int, rng: Any = None) -> float:
            delays.append(super().delay(attempt, lambda: 0.0))
            return delays[-1]

    async def scenario() -> None:
        async with serve(fake.handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            socket = ReconnectingWebsocket(options(port, token="wrong"), "wrong", Recording(base=0.004, cap=0.05))
            await run_until(socket, [], lambda: len(delays) >= 4)
            assert socket.connections == 0

    asyncio.run(scenario())
    assert delays[:4] == [0.002, 0.004, 0.008, 0.016]


def _self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    return server, cert_path


@pytest.mark.parametrize("verify", ["ca", False])
def test_works_over_wss(tmp_path: Path, verify: str | bool) -> None:
    server_context, cert_path = _self_signed(tmp_path)
    fake = FakeMattermost()

    async def scenario() -> list[str]:
        received: list[str] = []
        async with serve(fake.handler, "127.0.0.1", 0, ssl=server_context) as server:
            port = server.sockets[0].getsockname()[1]
            opts = options(port, "https", str(cert_path) if verify == "ca" else False)
            socket = ReconnectingWebsocket(opts, TOKEN, Backoff(base=0.01, cap=0.02))
            assert socket.url == f"wss://localhost:{port}/api/v4/websocket"
            await run_until(socket, received, lambda: socket.connections >= 1)
        return received

    received = asyncio.run(scenario())
    assert any(json.loads(m).get("event") == "hello" for m in received)


class EndsAbnormally(FakeMattermost):
    """Authenticates, says hello, then ends the session the way a restarting server does."""

    def __init__(self, ending: str) -> None:
        super().__init__()
        self.ending = ending

    async def handler(self, socket: ServerConnection) -> None:
        self.sessions += 1
        await socket.recv()
        await socket.send(json.dumps({"status": "OK", "seq_reply": 1}))
        await socket.send(json.dumps({"event": "hello", "data": {}, "broadcast": {}, "seq": 0}))
        if self.ending == "tcp-drop":
            socket.transport.abort()  # no close frame: the stream just ends
        else:
            await socket.close(code=int(self.ending))


class SteppingClock:
    """Each reading is ``step`` seconds after the previous one: every session looks long-lived."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class RecordingBackoff(Backoff):
    def __init__(self, delays: list[float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        object.__setattr__(self, "_delays", delays)

    def delay(self, attempt: int, rng: Any = None) -> float:
        chosen = super().delay(attempt, lambda: 1.0)
        self._delays.append(chosen)  # type: ignore[attr-defined]
        return chosen


@pytest.mark.parametrize("ending", ["1011", "1012", "tcp-drop"])
def test_backoff_starts_afresh_after_every_healthy_session_however_it_ended(ending: str) -> None:
    fake = EndsAbnormally(ending)
    delays: list[float] = []

    async def scenario() -> None:
        async with serve(fake.handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            backoff = RecordingBackoff(delays, base=0.005, cap=10.0, stable_after=1.0)
            socket = ReconnectingWebsocket(options(port), TOKEN, backoff, monotonic=SteppingClock(5.0))
            await run_until(socket, [], lambda: len(delays) >= 8)
            assert socket.connections >= 8

    asyncio.run(scenario())
    # Eight restarts in a row, every one reconnected after the base delay: the wait never grows.
    assert delays[:8] == [0.005] * 8


def test_backoff_keeps_growing_while_sessions_end_right_after_hello() -> None:
    fake = EndsAbnormally("tcp-drop")
    delays: list[float] = []

    async def scenario() -> None:
        async with serve(fake.handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            backoff = RecordingBackoff(delays, base=0.004, cap=10.0, stable_after=1.0)
            socket = ReconnectingWebsocket(options(port), TOKEN, backoff, monotonic=SteppingClock(0.1))
            await run_until(socket, [], lambda: len(delays) >= 4)

    asyncio.run(scenario())
    assert delays[:4] == [0.004, 0.008, 0.016, 0.032]  # a crash-looping server is not hammered
