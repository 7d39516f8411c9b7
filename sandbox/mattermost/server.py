"""MattermostEmulator: the sandbox server in a background thread, restartable on the same port."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
import uvicorn
from starlette.routing import BaseRoute

from sandbox.mattermost import actas
from sandbox.mattermost.app import build_app
from sandbox.mattermost.errors import Violation
from sandbox.mattermost.hub import Event, Hub
from sandbox.mattermost.posts import Post
from sandbox.mattermost.ratelimit import RateLimit, RateLimiter
from sandbox.mattermost.seed import load_seed
from sandbox.mattermost.service import ClickResult, CommandResult, DialogResult, Mattermost
from sandbox.mattermost.spec import OpenApiSpec
from sandbox.mattermost.store import Store, User, new_id, seeded_id


class MattermostEmulator:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed_path: Path | None = None,
        spec_path: Path | None = None,
        spec: OpenApiSpec | None = None,
        clock: Callable[[], float] = time.time,
        http: requests.Session | None = None,
        ws_ping_interval: float = 30.0,
        integration_timeout: float = 30.0,
        rate_limit: RateLimit | None = None,
        extra_routes: Sequence[BaseRoute] = (),
    ) -> None:
        self.host = host
        self.port = port
        self.spec = spec or OpenApiSpec(spec_path)
        store = Store(load_seed(seed_path), int(clock() * 1000))
        self.mm = Mattermost(store, Hub(), http or requests.Session(), clock, lambda: self.url, integration_timeout)
        self.limiter = RateLimiter(rate_limit, clock)  # off (no headers, no 429) unless rate_limit
        self._ws_ping_interval = ws_ping_interval
        self._extra_routes = tuple(extra_routes)  # the sandbox page's helpers (sandbox/console.py)
        self._server: uvicorn.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            build_app(self.mm, self.spec, self.limiter, self._extra_routes),
            log_level="warning",
            ws="websockets-sansio",
            ws_ping_interval=self._ws_ping_interval,
            ws_ping_timeout=self._ws_ping_interval,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        started = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self.mm.hub.bind(loop)
            loop.call_soon(started.set)
            try:
                loop.run_until_complete(server.serve(sockets=[sock]))
            finally:
                loop.close()
                sock.close()

        self._server = server
        self._thread = threading.Thread(target=serve, name=f"mattermost-emulator:{self.port}", daemon=True)
        self._thread.start()
        started.wait(10)
        while not server.started and self._thread.is_alive():
            time.sleep(0.01)  # uvicorn flips `started` once the socket is listening
        if not server.started:
            raise RuntimeError("Mattermost emulator failed to start")

    def stop(self, *, drop_tcp: bool = False) -> None:
        """Stop serving; ``drop_tcp`` ends every connection without a close frame, as a crashed or
        killed server (or a restart behind a load balancer) does, instead of closing politely."""
        if self._server is None or self._thread is None:
            return
        if drop_tcp:
            # Abort every connection, stop listening, and abort again until the server is gone, so
            # no client sees a close frame, not even one that reconnected during the shutdown.
            self._drop_connections(self._server)
            self._server.should_exit = True
            deadline = time.monotonic() + 10
            while self._thread.is_alive() and time.monotonic() < deadline:
                self._drop_connections(self._server)
                self._thread.join(0.02)
        else:
            self.mm.hub.close_all()  # websocket clients see a close frame, not a dropped TCP stream
            deadline = time.monotonic() + 2
            while self.mm.hub.connection_count() and time.monotonic() < deadline:
                time.sleep(0.01)
            self._server.should_exit = True
        self._thread.join(10)
        self._server = None
        self._thread = None

    def _drop_connections(self, server: uvicorn.Server) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        done = threading.Event()

        def abort_all() -> None:
            if loop.is_closed():
                return
            for protocol in list(server.server_state.connections):
                transport = getattr(protocol, "transport", None)
                if transport is not None:
                    transport.abort()  # RST, no close frame
            done.set()

        try:
            loop.call_soon_threadsafe(abort_all)
        except RuntimeError:  # the loop closed meanwhile: nothing left to drop
            return
        done.wait(1)

    def restart(self, *, drop_tcp: bool = False) -> None:
        """Close every connection and serve again on the same port, keeping all state."""
        self.stop(drop_tcp=drop_tcp)
        self.start()

    def __enter__(self) -> MattermostEmulator:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # rate limiting (docs/architecture.md, "Rate limiting") ----------------------------------------------
    def force_rate_limit(self, username: str, count: int, retry_after: int = 1) -> None:
        """Answer the user's next ``count`` REST calls with 429 and ``Retry-After: retry_after``."""
        self.limiter.force(self.token(username), count, retry_after)

    def forced_rate_limits_left(self, username: str) -> int:
        return self.limiter.forced_left(self.token(username))

    @property
    def rate_limited_count(self) -> int:
        """How many 429s the server has answered so far."""
        return self.limiter.limited_count

    # inspection ------------------------------------------------------------------------------------
    @property
    def violations(self) -> list[Violation]:
        return self.mm.violations

    def user(self, username: str) -> User:
        return self.mm.store.user_named(username)

    def token(self, username: str) -> str:
        return self.user(username).token

    # what a system admin or a user changes -----------------------------------------------------------
    def set_client_config(self, **values: str) -> None:
        """System console changes, as GET /config/client then reports them."""
        with self.mm.store.lock:
            self.mm.store.client_config.update(values)

    def change_email(self, username: str, email: str, *, verified: bool = False) -> None:
        """A user's e-mail change (unverified until they follow the link, as Mattermost does)."""
        with self.mm.store.lock:
            user = self.mm.store.user_named(username)
            user.email, user.email_verified = email, verified

    def add_user(self, username: str, *, email: str, auth_service: str = "", token: str | None = None) -> User:
        """A new account, e.g. an open sign-up with any address the user types."""
        with self.mm.store.lock:
            user = User(seeded_id("user:" + username), username, email, token or new_id(), auth_service=auth_service)
            self.mm.store.add_user(user)
            return user

    @property
    def team_id(self) -> str:
        return self.mm.store.team.id

    def channel_id(self, name: str) -> str:
        return self.mm.store.channel_named(self.team_id, name).id

    def commands(self) -> list[dict[str, Any]]:
        with self.mm.store.lock:
            return [dict(c) for c in self.mm.store.commands.values()]

    def events(self, username: str, name: str | None = None) -> list[Event]:
        return self.mm.hub.events_for(self.user(username).id, name)

    def stored_post(self, post_id: str) -> Post:
        """The server-side record, integration context included (what clients never see)."""
        with self.mm.store.lock:
            return dict(self.mm.store.post(post_id))

    # act as a user ---------------------------------------------------------------------------------
    def run_command(self, *, user: str, channel: str, text: str, root_id: str = "") -> CommandResult:
        return actas.run_command(self.mm, user, channel, text, root_id)

    def click(self, *, user: str, post_id: str, action_id: str, selected_option: str = "") -> ClickResult:
        return actas.click(self.mm, user, post_id, action_id, selected_option)

    def submit_dialog(self, user: str, values: dict[str, object], *, cancelled: bool = False) -> DialogResult:
        return actas.submit_dialog(self.mm, user, values, cancelled=cancelled)

    def post_as(self, *, user: str, channel: str, message: str, root_id: str = "") -> Post:
        return actas.post_as(self.mm, user, channel, message, root_id)

    def posts(self, channel: str) -> list[Post]:
        return actas.channel_posts(self.mm, channel)

    def direct_posts(self, user_a: str, user_b: str) -> list[Post]:
        return actas.direct_posts(self.mm, user_a, user_b)

    def ephemerals(self, user: str) -> list[Post]:
        return actas.ephemerals(self.mm, user)
