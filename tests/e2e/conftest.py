"""The whole system in one process: local stack (moto) + Mattermost emulator + real bot over HTTP."""

from __future__ import annotations

import base64
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from bot.mattermost.websocket import Backoff
from bot.runtime import BotThread
from bot.settings import BotSettings
from jitlocal.stack import LocalStack
from sandbox.mattermost.pytest_plugin import assert_no_violations
from sandbox.mattermost.server import MattermostEmulator
from sandbox.mattermost.spec import OpenApiSpec

T = TypeVar("T")


def wait_until(probe: Callable[[], T], timeout: float = 15.0, what: str = "condition") -> T:
    """Poll a probe until it returns something truthy (the work runs on other threads)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def bot_settings(stack: LocalStack, mm: MattermostEmulator, port: int, **overrides: Any) -> BotSettings:
    key = stack.signing_key()
    values: dict[str, Any] = {
        "mattermost_url": mm.url,
        "mattermost_token": mm.token("jit-bot"),
        "team_name": "jit",
        "approvals_channel": "jit-approvals",
        "public_url": f"http://127.0.0.1:{port}",
        "backend_url": stack.api_url,
        "backend_key_id": key.key_id,
        "backend_key_secret": base64.urlsafe_b64encode(key.secret).decode().rstrip("="),
        "backend_audience": stack.config.audience,
        "action_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "sns_trust_mode": "local-unsigned",
        "sns_allowed_topics": (stack.provisioned.events_topic_arn, stack.provisioned.alarms_topic_arn),
        "aws_portal_url": "https://example.awsapps.com/start",
        "listen_port": port,
    }
    return BotSettings.model_validate(values | overrides)


@dataclass
class System:
    stack: LocalStack
    mm: MattermostEmulator
    bots: list[BotThread] = field(default_factory=list)

    def start_bot(self, *, subscribe: bool = True, public_port: int | None = None, **overrides: Any) -> BotThread:
        sock = bound_socket()
        port = sock.getsockname()[1]
        settings = bot_settings(self.stack, self.mm, public_port or port, **overrides)
        bot = BotThread(settings, sock=sock, backoff=Backoff(base=0.05, cap=0.4)).start()
        self.bots.append(bot)
        if subscribe:
            self.stack.subscribe_http(self.stack.provisioned.events_topic_arn, f"http://127.0.0.1:{bot.port}/sns")
        return bot

    def card(self) -> dict[str, Any]:
        cards = [p for p in self.mm.posts("jit-approvals") if not p["root_id"] and "jit_request_id" in p["props"]]
        assert len(cards) == 1, f"expected one card, found {len(cards)}"
        return cards[0]

    def cards(self) -> list[dict[str, Any]]:
        return [p for p in self.mm.posts("jit-approvals") if not p["root_id"] and "jit_request_id" in p["props"]]

    def thread(self, root_id: str) -> list[str]:
        return [p["message"] for p in self.mm.posts("jit-approvals") if p["root_id"] == root_id]

    def dms(self, user: str) -> list[dict[str, Any]]:
        return [p for p in self.mm.direct_posts(user, "jit-bot") if p["user_id"] == self.mm.user("jit-bot").id]

    def ephemeral_texts(self, user: str) -> list[str]:
        return [p["message"] for p in self.mm.ephemerals(user)]


@pytest.fixture(scope="session")
def mm_spec() -> OpenApiSpec:
    return OpenApiSpec()


@pytest.fixture
def system(stack: LocalStack, mm_spec: OpenApiSpec) -> Iterator[System]:
    emulator = MattermostEmulator(spec=mm_spec, ws_ping_interval=5.0)
    emulator.start()
    world = System(stack, emulator)
    try:
        yield world
    finally:
        for bot in world.bots:
            bot.stop()
        emulator.stop()
    assert_no_violations(emulator)
