"""A mattermostdriver ``Websocket`` that works over wss, reconnects after every kind of close and
closes cleanly (the driver's bugs: docs/architecture.md, "Websocket").

Reconnects use exponential backoff with jitter, driven by tenacity like the REST client's retries.
The backoff starts afresh after any session that received ``hello`` and stayed up for
``Backoff.stable_after`` seconds, however it ended (a normal close, 1011, 1012 or a dropped TCP
stream: a restarting Mattermost drops TCP), so a server that restarts now and then is reconnected
to within a second every time. The handler is awaited inline, so it must be quick: the bot's
handler only schedules work.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import websockets
from mattermostdriver.websocket import Websocket
from tenacity import AsyncRetrying, RetryCallState, retry_if_result
from websockets.asyncio.client import ClientConnection

log = logging.getLogger("bot.websocket")

Handler = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Backoff:
    """Delay before reconnect attempt ``n`` (0-based): half fixed, half random ("equal jitter")."""

    base: float = 0.5
    cap: float = 30.0
    # A session that authenticated and lasted this long was healthy: the next wait starts from ``base``.
    stable_after: float = 1.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        ceiling: float = min(self.cap, self.base * 2.0 ** min(attempt, 30))
        return ceiling / 2 + ceiling / 2 * float(rng())


def client_ssl_context(verify: bool | str) -> ssl.SSLContext:
    """A *client* context (the driver builds a server one, so its wss never connects)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif isinstance(verify, str):
        context.load_verify_locations(verify)
    return context


class ReconnectingWebsocket(Websocket):  # type: ignore[misc]  # untyped third-party base
    def __init__(
        self,
        options: dict[str, Any],
        token: str,
        backoff: Backoff | None = None,
        rng: Callable[[], float] = random.random,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(options, token)
        self._backoff = backoff or Backoff()
        self._rng = rng
        self._monotonic = monotonic
        self._hello_at: float | None = None  # when the current session authenticated
        self._first_attempt = 1  # tenacity's attempt number at which the backoff last started afresh
        self._socket: ClientConnection | None = None
        self._stopped = asyncio.Event()
        self.connected = False
        self.connections = 0  # successful authentications, for /healthz and tests

    @property
    def url(self) -> str:
        scheme = "wss" if self.options["scheme"] == "https" else "ws"
        return f"{scheme}://{self.options['url']}:{self.options['port']}{self.options['basepath']}/websocket"

    async def connect(self, event_handler: Handler) -> None:
        """Run until ``disconnect``: connect, authenticate, read; on any close wait and reconnect."""
        self._alive = True
        self._first_attempt = 1
        reconnecting = AsyncRetrying(
            retry=retry_if_result(lambda _: self._alive),  # every end of a session, while not stopped
            wait=self._delay,
            sleep=self._pause,
            before_sleep=self._log_reconnect,
        )
        await reconnecting(self._one_session, event_handler)

    async def _one_session(self, event_handler: Handler) -> None:
        self._hello_at = None
        if not self._alive:
            return
        try:
            await self._session(event_handler)
        except (TimeoutError, OSError, websockets.WebSocketException, ValueError) as exc:
            log.warning("websocket to %s failed: %s", self.url, type(exc).__name__)
        finally:
            self.connected = False
            self._socket = None

    def _delay(self, state: RetryCallState) -> float:
        if self._was_stable():
            self._first_attempt = state.attempt_number  # a healthy session ended, however it closed: afresh
        return self._backoff.delay(state.attempt_number - self._first_attempt, self._rng)

    async def _pause(self, seconds: float) -> None:
        """tenacity's sleep, cut short by ``disconnect``."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), timeout=seconds)

    def _log_reconnect(self, state: RetryCallState) -> None:
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        attempt = state.attempt_number - self._first_attempt + 1
        log.info("websocket reconnecting in %.2f s (attempt %d)", delay, attempt)

    async def _session(self, event_handler: Handler) -> None:
        kwargs = dict(self.options.get("websocket_kw_args") or {})
        ssl_context = client_ssl_context(self.options["verify"]) if self.url.startswith("wss") else None
        async with websockets.connect(self.url, ssl=ssl_context, open_timeout=10, **kwargs) as socket:
            self._socket = socket
            if not self._alive:
                return
            await self._authenticate(socket, event_handler)
            self._hello_at = self._monotonic()
            self.connected = True
            self.connections += 1
            log.info("websocket connected to %s", self.url)
            async for message in socket:
                await event_handler(message if isinstance(message, str) else message.decode())
            log.info("websocket closed by the server (code %s)", socket.close_code)

    def _was_stable(self) -> bool:
        hello_at = self._hello_at
        return hello_at is not None and self._monotonic() - hello_at >= self._backoff.stable_after

    async def _authenticate(self, socket: ClientConnection, event_handler: Handler) -> None:
        challenge = {"seq": 1, "action": "authentication_challenge", "data": {"token": self._token}}
        await socket.send(json.dumps(challenge))
        while True:
            raw = await asyncio.wait_for(socket.recv(), timeout=30)
            text = raw if isinstance(raw, str) else raw.decode()
            await event_handler(text)
            message = json.loads(text)
            if message.get("event") == "hello" and message.get("seq") == 0:
                return

    def disconnect(self) -> None:
        """Stop reconnecting and close the open socket (the driver leaves it open)."""
        self._alive = False
        self._stopped.set()
        socket = self._socket
        if socket is not None:
            asyncio.get_running_loop().create_task(socket.close())

    async def close(self) -> None:
        self._alive = False
        self._stopped.set()
        socket = self._socket
        if socket is not None:
            await socket.close()
