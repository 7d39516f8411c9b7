"""Fixtures: one parsed spec per session, a fresh emulator per test, a fake integration server."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sandbox.mattermost import MattermostEmulator
from sandbox.mattermost.pytest_plugin import assert_no_violations
from sandbox.mattermost.spec import OpenApiSpec


class FakeClock:
    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Integration:
    """A real local HTTP server standing in for the bot; `reply` decides each answer."""

    url: str
    received: list[Received] = field(default_factory=list)
    reply: Callable[[Received], tuple[int, str, bytes]] = lambda _r: (200, "application/json", b"{}")


@pytest.fixture(scope="session")
def spec() -> OpenApiSpec:
    return OpenApiSpec()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mm(spec: OpenApiSpec, clock: FakeClock) -> Iterator[MattermostEmulator]:
    with MattermostEmulator(spec=spec, clock=clock, ws_ping_interval=5.0) as emulator:
        yield emulator
    assert_no_violations(emulator)


@pytest.fixture
def integration() -> Iterator[Integration]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    state = Integration(url=f"http://127.0.0.1:{server.server_address[1]}")

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Received(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
            state.received.append(request)
            status, content_type, body = state.reply(request)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = _handle
        do_GET = _handle

        def log_message(self, format: str, *args: Any) -> None:
            return

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def json_reply(payload: Any, status: int = 200) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(payload).encode()
