"""Compose and run the bot: uvicorn and the websocket listener in one asyncio loop.

``BotRuntime.start()``/``stop()`` inside a running loop (``__main__``); ``BotThread`` runs one in
a background thread with its own loop (tests, the sandbox, benchmarks).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import uvicorn
from mattermostdriver import Driver

from alarms.catalogue import RUNBOOK_FILE
from alarms.format import AlarmPostSettings
from alarms.runbook import load_runbook
from alarms.sns import SnsVerifier
from bot.access.action_context import ContextSigner
from bot.access.cards import Cards
from bot.access.lifecycle_events import LifecycleHandler
from bot.access.services import AccessServices
from bot.app import Endpoints, build_app
from bot.commands.direct_messages import DirectMessages
from bot.jit_api import JitApi
from bot.mattermost.client import MattermostClient, driver_options
from bot.mattermost.registration import ensure_command
from bot.mattermost.trust import EmailTrust, TrustSettings
from bot.mattermost.websocket import Backoff, ReconnectingWebsocket
from bot.metrics import BotMetrics
from bot.oncall.alarm_buttons import AlarmButtons
from bot.oncall.alarm_context import AlarmContextSigner
from bot.oncall.alarm_intake import AlarmIntake
from bot.runbooks import default_runbooks_dir
from bot.settings import BotSettings
from jitwire.client import JitApiClient
from jitwire.signing import RequestSigner, SigningKey

log = logging.getLogger("bot")


def utc_now() -> datetime:
    return datetime.now(UTC)


SNS_GET_MAX_BYTES = 64 * 1024  # an SNS signing certificate is about 2 KiB
SNS_GET_SECONDS = 5.0


def sns_get(url: str, *, max_bytes: int = SNS_GET_MAX_BYTES, seconds: float = SNS_GET_SECONDS) -> bytes:
    """GET a certificate or a subscription confirmation; ``alarms.sns`` has pinned the URL to the SNS host.
    Redirects are not followed (they could leave that host); size and total time are bounded, so a
    host that trickles bytes cannot hold a worker."""
    deadline = time.monotonic() + seconds
    with requests.get(url, timeout=(seconds, seconds), allow_redirects=False, stream=True) as response:
        if response.status_code != 200:
            raise requests.HTTPError(f"HTTP {response.status_code} (redirects are not followed)", response=response)
        body = bytearray()
        for chunk in response.iter_content(4096):
            body += chunk
            if len(body) > max_bytes:
                raise requests.HTTPError(f"more than {max_bytes} bytes", response=response)
            if time.monotonic() > deadline:
                raise requests.Timeout(f"slower than {seconds:g} s")
        return bytes(body)


class BotRuntime:
    def __init__(
        self,
        settings: BotSettings,
        *,
        sock: socket.socket | None = None,
        clock: Callable[[], datetime] = utc_now,
        backoff: Backoff | None = None,
        sns_fetch: Callable[[str], bytes] = sns_get,
        metrics: BotMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or BotMetrics()  # this process's own registry, served on /metrics
        self._sns_fetch = sns_fetch
        self._sock = sock
        self._clock = clock
        self._backoff = backoff or Backoff()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: uvicorn.Server | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._ws_task: asyncio.Task[None] | None = None
        self.websocket: ReconnectingWebsocket | None = None
        self.mattermost_pool = ThreadPoolExecutor(settings.worker_threads, thread_name_prefix="bot-mm")
        self.backend_pool = ThreadPoolExecutor(settings.worker_threads, thread_name_prefix="bot-api")
        # SNS signature checks: more threads than concurrent certificate fetches (4), so checks
        # against cached certificates never wait behind a slow host.
        self.sns_pool = ThreadPoolExecutor(8, thread_name_prefix="bot-sns")
        self.port = 0

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    async def start(self) -> None:
        s = self.settings
        if s.sns_trust_mode == "local-unsigned" and self._sock is not None:
            host = str(self._sock.getsockname()[0])
            if not ipaddress.ip_address(host).is_loopback:  # a handed-in socket: the setting said nothing
                raise ValueError(f"BOT_SNS_TRUST_MODE=local-unsigned needs a loopback socket, not {host}")
        verify: bool | str = str(s.mattermost_ca_file) if s.mattermost_ca_file else s.mattermost_verify_tls
        options = driver_options(s.mattermost_url, s.mattermost_token.get_secret_value(), verify=verify)
        driver = Driver(options)
        mm = MattermostClient(driver, self.mattermost_pool, metrics=self.metrics)
        mm.use_trust(
            EmailTrust(
                TrustSettings(
                    frozenset(s.trusted_auth_services),
                    trust_deployment_email=s.trust_deployment_email,
                    trust_all_emails=s.trust_all_emails,
                    refresh_seconds=s.client_config_refresh_seconds,
                ),
                mm.client_config,
            )
        )
        await mm.login()
        team_id = await mm.team_id(s.team_name)
        approvals_id = await mm.channel_id(s.team_name, s.approvals_channel)
        signer = ContextSigner(s.action_key_bytes(), s.action_ttl_seconds)
        api = JitApiClient(
            s.backend_url,
            RequestSigner(SigningKey(key_id=s.backend_key_id, secret=s.backend_key_bytes()), s.backend_audience),
            timeout=s.backend_timeout_seconds,
            settle_seconds=s.backend_settle_seconds,
        )
        backend = JitApi(api, self.backend_pool, self.metrics)
        cards = Cards(mm, signer, s.public_url + "/mattermost/actions", s.aws_portal_url, self._clock)
        services = AccessServices(
            mm, backend, cards, signer, self._clock, s.public_url, approvals_id, s.approvals_channel
        )
        token = s.command_token.get_secret_value()
        if s.register_command:
            token = await ensure_command(mm, team_id, s.command_trigger, s.public_url) or token
        if not token:
            log.error("no slash-command token: /%s will be refused until BOT_COMMAND_TOKEN is set", s.command_trigger)
        verifier = SnsVerifier(
            frozenset(s.sns_allowed_topics), self._sns_fetch, self._clock, trust_mode=s.sns_trust_mode
        )
        oncall_id = await mm.channel_id(s.team_name, s.oncall_channel)
        alarms, alarm_buttons = self._alarms(mm, oncall_id)
        endpoints = Endpoints(
            services=services,
            command_token=token,
            sns=verifier,
            lifecycle=LifecycleHandler(services, oncall_id),
            spawn=self.spawn,
            healthy=self._health(backend),
            confirm_subscription=self._confirm,
            alarms=alarms,
            alarm_buttons=alarm_buttons,
            mattermost_url=s.mattermost_url,
            runbooks_dir=self._runbook_path().parent if not s.runbook_docs_url else None,
            sns_executor=self.sns_pool,
            metrics=self.metrics,
        )
        self.metrics.watch_websocket(
            lambda: (self.websocket.connected, self.websocket.connections) if self.websocket else None
        )
        if s.websocket:
            direct = DirectMessages(
                services,
                s.command_trigger,
                s.replica_index,
                s.replica_count,
                self.spawn,
                recovered=self.metrics.dms_recovered.inc,
            )
            self.websocket = ReconnectingWebsocket(driver.options, mm.token, self._backoff)
            self._ws_task = asyncio.get_running_loop().create_task(self.websocket.connect(direct.on_message))
        await self._serve(build_app(endpoints))
        log.info("bot %s listening on %s:%d", mm.bot_username, s.listen_host, self.port)

    def _runbook_path(self) -> Path:
        return self.settings.runbook_file or default_runbooks_dir() / RUNBOOK_FILE

    def _alarms(self, mm: MattermostClient, channel_id: str) -> tuple[AlarmIntake, AlarmButtons]:
        s = self.settings
        runbook = load_runbook(self._runbook_path(), docs_base_url=s.runbook_docs_url or s.public_url + "/runbooks")
        signer = AlarmContextSigner(s.action_key_bytes())
        action_url = s.public_url + "/mattermost/actions"
        post_settings = AlarmPostSettings(
            runbook_url=runbook.url,
            oncall_group_mention=s.oncall_group_mention,
            action_url=action_url,
            sign_context=signer.sign,
        )
        intake = AlarmIntake(mm, channel_id, runbook, post_settings, self._clock)
        return intake, AlarmButtons(mm, channel_id, signer, action_url, self._clock)

    def _health(self, backend: JitApi) -> Callable[[], Coroutine[Any, Any, dict[str, bool]]]:
        async def healthy() -> dict[str, bool]:
            connected = self.websocket.connected if self.websocket else True
            return {"websocket": connected, "backend": await backend.reachable()}

        return healthy

    async def _confirm(self, url: str) -> None:
        # alarms.sns has checked the URL is a ConfirmSubscription on the SNS host for an allowed topic.
        if self.settings.sns_trust_mode != "aws":
            log.info("SNS subscription confirmation ignored in local-unsigned mode")
            return
        await asyncio.get_running_loop().run_in_executor(self.mattermost_pool, sns_get, url)

    async def _serve(self, app: Any) -> None:
        if self._sock is None:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind((self.settings.listen_host, self.settings.listen_port))
        self.port = self._sock.getsockname()[1]
        # No X-Forwarded-For: the client address is the socket's (local-unsigned trusts loopback senders).
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=5,
            access_log=False,
            log_config=None,  # uvicorn's lines go to the root logger: JSON like the bot's own (bot/logs.py)
            proxy_headers=False,
            forwarded_allow_ips="",
        )
        self._server = uvicorn.Server(config)
        self._serve_task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._serve_task.done():
                self._serve_task.result()
                raise RuntimeError("the bot's HTTP server stopped at start-up")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self.websocket is not None:
            await self.websocket.close()
        if self._ws_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._ws_task, timeout=5)
        if self._server is not None and self._serve_task is not None:
            self._server.should_exit = True
            await self._serve_task
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)
        self.mattermost_pool.shutdown(wait=False, cancel_futures=True)
        self.backend_pool.shutdown(wait=False, cancel_futures=True)
        self.sns_pool.shutdown(wait=False, cancel_futures=True)

    async def run_forever(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()


class BotThread:
    """One bot in a background thread with its own event loop."""

    def __init__(self, settings: BotSettings, **kwargs: Any) -> None:
        self.runtime = BotRuntime(settings, **kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="jit-bot", daemon=True)

    @property
    def port(self) -> int:
        return self.runtime.port

    def call(self, work: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

    def start(self) -> BotThread:
        self._thread.start()
        self.call(self.runtime.start())
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self.call(self.runtime.stop())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()
