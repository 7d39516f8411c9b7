"""Mattermost REST through mattermostdriver, every call on a worker thread so the loop never stalls.

A 429 is retried (tenacity) after the wait the server asks for, within a small budget (`RateLimitRetry`).

Commands are called by path (``client.get/post/put``) where the driver's endpoint helpers are
wrong (``update_command`` glues ids without a slash: docs/architecture.md, "Slash commands").
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from mattermostdriver import Driver
from mattermostdriver.exceptions import NotEnoughPermissions
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base

from bot.mattermost.trust import EmailTrust
from bot.metrics import BotMetrics, status_label
from jitwire.models import Person

T = TypeVar("T")
Json = dict[str, Any]
Sleep = Callable[[float], Awaitable[None]]


class MattermostUnavailable(Exception):
    """Mattermost could not be reached or refused a call we need.

    ``forbidden`` on HTTP 403; ``rate_limited`` when 429s outlasted the retry budget.
    """

    def __init__(self, message: str, *, forbidden: bool = False, rate_limited: bool = False) -> None:
        super().__init__(message)
        self.forbidden = forbidden
        self.rate_limited = rate_limited


@dataclass(frozen=True)
class RateLimitRetry:
    """How long one call may wait out HTTP 429s before giving up (docs/architecture.md, "Rate limiting")."""

    max_retries: int = 3
    max_total_wait: float = 10.0
    default_wait: float = 1.0  # when the 429 names no wait at all

    def wait_for(self, response: requests.Response | None) -> float:
        """Retry-After, else X-RateLimit-Reset (seconds from now, not an epoch), else the default."""
        headers = response.headers if response is not None else {}
        for name in ("Retry-After", "X-RateLimit-Reset"):
            seconds = _seconds(headers.get(name))
            if seconds is not None:
                return seconds
        return self.default_wait

    def wait(self, state: RetryCallState) -> float:
        """The wait for tenacity: what the failed attempt's 429 asked for."""
        return self.wait_for(getattr(_failure(state), "response", None))


def _failure(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None else None


class _WaitsPast(stop_base):
    """Stop rather than let the waits of one call add up past ``max_total_wait`` seconds."""

    def __init__(self, max_total_wait: float) -> None:
        self.max_total_wait = max_total_wait

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.idle_for + retry_state.upcoming_sleep > self.max_total_wait


def _seconds(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:  # e.g. an HTTP-date, which Mattermost never sends
        return None
    return seconds if seconds is not None and 0 <= seconds < float("inf") else None


def _rate_limited(exc: BaseException) -> bool:
    return isinstance(exc, requests.RequestException) and _status(exc) == 429


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return response.status_code if isinstance(response, requests.Response) else None


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None
    if scheme not in ("http", "https") or not host or parts.username is not None or parts.password is not None:
        return None
    return scheme, host, port or (443 if scheme == "https" else 80)


def same_origin(url: str, base_url: str) -> bool:
    """``url`` is on the scheme, host and port of ``base_url`` (no user-info)."""
    origin = _origin(url)
    return origin is not None and origin == _origin(base_url)


def driver_options(url: str, token: str, *, verify: bool | str = True, timeout: float = 10.0) -> Json:
    parts = urlsplit(url)
    scheme = parts.scheme or "https"
    return {
        "url": parts.hostname or "",
        "scheme": scheme,
        "port": parts.port or (443 if scheme == "https" else 80),
        "basepath": parts.path.rstrip("/") + "/api/v4",
        "verify": verify,
        "token": token,
        "request_timeout": timeout,
        "keepalive": False,
        "timeout": 30,
    }


class MattermostClient:
    def __init__(
        self,
        driver: Driver,
        executor: Executor,
        timeout: float = 10.0,
        *,
        retry: RateLimitRetry | None = None,
        sleep: Sleep = asyncio.sleep,
        trust: EmailTrust | None = None,
        metrics: BotMetrics | None = None,
    ) -> None:
        self.driver = driver
        self._metrics = metrics or BotMetrics()
        self._executor = executor
        self._timeout = timeout
        self._retry = retry or RateLimitRetry()
        self._sleep = sleep  # waits on the loop, so a rate-limited call holds no worker thread
        self._trust = trust  # None: vouch for nobody (already bound accounts still work)
        self.bot_user_id = ""
        self.bot_username = ""

    async def _run(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``call`` on a worker thread, retrying HTTP 429 within the budget.

        Retrying is safe for every call, POST /posts included: Mattermost rate-limits in
        middleware before any handler runs, so a 429'd request changed nothing (docs/architecture.md, "Rate limiting").
        """
        loop = asyncio.get_running_loop()

        async def attempt() -> T:
            try:
                result = await loop.run_in_executor(self._executor, functools.partial(call, *args, **kwargs))
            except requests.RequestException as exc:  # includes the driver's mapped HTTP errors' bases
                self._metrics.mattermost_calls.labels(status_label(_status(exc))).inc()
                if _status(exc) != 429:
                    forbidden = isinstance(exc, NotEnoughPermissions)
                    message = f"Mattermost call failed: {type(exc).__name__}"
                    raise MattermostUnavailable(message, forbidden=forbidden) from exc
                raise
            self._metrics.mattermost_calls.labels("2xx").inc()
            return result

        def give_up(state: RetryCallState) -> T:
            retries, waited = state.attempt_number - 1, state.idle_for
            message = f"Mattermost rate limit: gave up after {retries} retries and {waited:g} s"
            raise MattermostUnavailable(message, rate_limited=True) from _failure(state)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.max_retries + 1) | _WaitsPast(self._retry.max_total_wait),
            wait=self._retry.wait,
            retry=retry_if_exception(_rate_limited),
            sleep=self._sleep,
            retry_error_callback=give_up,
        )
        return await retrying(attempt)

    def use_trust(self, trust: EmailTrust) -> None:
        """How ``person`` vouches for e-mails (the trust reads this client's /config/client)."""
        self._trust = trust

    @property
    def token(self) -> str:
        return str(self.driver.client.token)

    async def login(self) -> None:
        me: Json = await self._run(self.driver.login)
        self.bot_user_id, self.bot_username = str(me["id"]), str(me["username"])

    async def person(self, user_id: str) -> Person:
        """The acting user from Mattermost's own record, never from names in the payload."""
        user: Json = await self._run(self.driver.users.get_user, user_id)
        email = str(user.get("email") or "")
        if not email:
            raise MattermostUnavailable(
                "Mattermost did not disclose the user's e-mail address to the bot "
                "(turn on Show Email Address, or make the bot a system admin)"
            )
        auth_service = str(user.get("auth_service") or "")
        vouched_by = await self._trust.vouch(auth_service) if self._trust is not None else None
        return Person(user_id=str(user["id"]), username=str(user["username"]), email=email, vouched_by=vouched_by)

    async def client_config(self) -> dict[str, str]:
        """GET /config/client: the flat map any logged-in account may read."""
        found: Json = await self._run(self.driver.client.get, "/config/client")
        return {str(k): str(v) for k, v in found.items()}

    async def team_id(self, team_name: str) -> str:
        team: Json = await self._run(self.driver.teams.get_team_by_name, team_name)
        return str(team["id"])

    async def channel_id(self, team_name: str, channel_name: str) -> str:
        channel: Json = await self._run(self.driver.channels.get_channel_by_name_and_team_name, team_name, channel_name)
        return str(channel["id"])

    async def direct_channel(self, user_id: str) -> str:
        channel: Json = await self._run(self.driver.channels.create_direct_message_channel, [self.bot_user_id, user_id])
        return str(channel["id"])

    async def create_post(self, channel_id: str, message: str, props: Json | None = None, root_id: str = "") -> Json:
        body: Json = {"channel_id": channel_id, "message": message, "props": props or {}}
        if root_id:
            body["root_id"] = root_id
        post: Json = await self._run(self.driver.posts.create_post, body)
        return post

    async def upload_file(self, channel_id: str, name: str, content: bytes, mime_type: str) -> str:
        """POST /files (multipart); the id to attach to a post of ours in that channel."""
        uploaded: Json = await self._run(
            self.driver.files.upload_file, channel_id, {"files": (name, content, mime_type)}
        )
        return str(uploaded["file_infos"][0]["id"])

    async def create_post_with_files(self, channel_id: str, message: str, file_ids: list[str]) -> Json:
        body: Json = {"channel_id": channel_id, "message": message, "file_ids": file_ids}
        post: Json = await self._run(self.driver.posts.create_post, body)
        return post

    async def get_post(self, post_id: str) -> Json:
        post: Json = await self._run(self.driver.posts.get_post, post_id)
        return post

    async def patch_post(self, post_id: str, message: str, props: Json) -> Json:
        """PUT /posts/{id}/patch with message and props only: ``props`` is replaced as a whole (so
        buttons left out are gone), every other field (``is_pinned``, files, ...) stays as it is.
        A full ``PUT /posts/{id}`` would blank what it does not carry, an admin's pin included."""
        body = {"message": message, "props": props}
        post: Json = await self._run(self.driver.posts.patch_post, post_id, body)
        return post

    async def delete_post(self, post_id: str) -> None:
        await self._run(self.driver.posts.delete_post, post_id)

    async def thread_posts(self, post_id: str) -> list[Json]:
        found: Json = await self._run(self.driver.posts.get_thread, post_id)
        return [found["posts"][i] for i in found.get("order", []) if i in found.get("posts", {})]

    async def recent_posts(self, channel_id: str, per_page: int = 60) -> list[Json]:
        found: Json = await self._run(
            self.driver.posts.get_posts_for_channel, channel_id, {"page": 0, "per_page": per_page}
        )
        return [found["posts"][i] for i in found.get("order", []) if i in found.get("posts", {})]

    async def direct_channel_ids(self) -> list[str]:
        """The bot's direct-message channels (GET /users/me/channels: every channel it is in)."""
        found: list[Json] = await self._run(self.driver.client.get, "/users/me/channels")
        return [str(c["id"]) for c in found if c.get("type") == "D"]

    async def posts_since(self, channel_id: str, since_ms: int) -> list[Json]:
        """Posts created or edited after ``since_ms`` (Mattermost ignores paging with ``since``), oldest first."""
        found: Json = await self._run(self.driver.posts.get_posts_for_channel, channel_id, {"since": since_ms})
        listed = [found["posts"][i] for i in found.get("order", []) if i in found.get("posts", {})]
        return sorted(listed, key=lambda p: int(p.get("create_at", 0)))

    async def open_dialog(self, trigger_id: str, url: str, dialog: Json) -> None:
        await self._run(
            self.driver.integration_actions.open_dialog, {"trigger_id": trigger_id, "url": url, "dialog": dialog}
        )

    async def list_commands(self, team_id: str) -> list[Json]:
        found: list[Json] = await self._run(
            self.driver.client.get, "/commands", params={"team_id": team_id, "custom_only": "true"}
        )
        return found

    async def create_command(self, body: Json) -> Json:
        created: Json = await self._run(self.driver.client.post, "/commands", options=body)
        return created

    async def update_command(self, command_id: str, body: Json) -> Json:
        updated: Json = await self._run(self.driver.client.put, "/commands/" + command_id, options=body)
        return updated

    @property
    def base_url(self) -> str:
        options = self.driver.options
        return f"{options['scheme']}://{options['url']}:{options['port']}"

    async def respond(self, response_url: str, payload: Json) -> None:
        """A delayed slash-command reply through its ``response_url`` (30 min, 5 uses); only ever to
        Mattermost itself, never where a request said."""
        if not same_origin(response_url, self.base_url):
            raise MattermostUnavailable("response_url is not on the Mattermost server")

        def post() -> None:
            reply = requests.post(
                response_url,
                json=payload,
                timeout=self._timeout,
                verify=self.driver.options["verify"],
                allow_redirects=False,
            )
            reply.raise_for_status()

        await self._run(post)
