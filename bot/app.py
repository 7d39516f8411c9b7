"""The bot's HTTP endpoints (starlette): slash command, buttons, dialogs, /sns, /healthz, /metrics.

Thin: parse at the edge, check the caller, hand over to the handlers. Slow work after a slash
command runs in a tracked background task; the command itself is acknowledged at once.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from alarms.sns import SeenMessages, SnsMessage, SnsRejected, SnsVerifier, route
from bot.access.clicks import handle_click
from bot.access.lifecycle_events import EventRejected, LifecycleHandler, parse_event
from bot.access.services import AccessServices, idempotency_key
from bot.commands import dialog, parsing
from bot.commands.run import execute
from bot.logs import correlation_id
from bot.logsafe import shown
from bot.mattermost.client import MattermostUnavailable, same_origin
from bot.mattermost.payloads import ActionClick, DialogSubmission, SlashCommand
from bot.metrics import CONTENT_TYPE, BotMetrics
from bot.oncall.alarm_buttons import AlarmButtons
from bot.oncall.alarm_context import is_alarm_context
from bot.oncall.alarm_intake import AlarmIntake
from jitwire.client import BackendError, BackendUnavailable

log = logging.getLogger("bot.app")

MAX_BODY = 256 * 1024  # SNS messages are at most 256 KiB; commands, clicks and dialogs are far smaller
COMMAND_SLOTS = 8  # slash commands whose (slow) work runs at the same time; the rest wait their turn
_RUNBOOK_NAME = re.compile(r"^\d{2}-[a-z0-9-]+\.md$")
ACKS = {
    parsing.Request: "Submitting your request…",
    parsing.OpenRequestDialog: "Opening the request form…",
}


@dataclass(frozen=True)
class Endpoints:
    services: AccessServices
    command_token: str
    sns: SnsVerifier
    lifecycle: LifecycleHandler
    spawn: Callable[[Coroutine[Any, Any, None]], None]
    healthy: Callable[[], Awaitable[dict[str, bool]]]
    confirm_subscription: Callable[[str], Awaitable[None]]
    alarms: AlarmIntake
    alarm_buttons: AlarmButtons
    mattermost_url: str
    runbooks_dir: Path | None = None
    # Certificate fetches and signature checks run here, never on the event loop.
    sns_executor: Executor | None = None
    # SNS MessageIds answered 2xx: a redelivery is answered before any certificate is fetched.
    sns_handled: SeenMessages = field(default_factory=SeenMessages)
    metrics: BotMetrics = field(default_factory=BotMetrics)


def ephemeral(text: str) -> JSONResponse:
    return JSONResponse({"response_type": "ephemeral", "text": text, "skip_slack_parsing": True})


class BodyTooLarge(Exception):
    pass


async def bounded_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, refused past ``limit`` bytes before it is all read: a declared Content-Length is
    checked first, and bytes are counted while streaming (no length, a lying one, chunked)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.strip().isdigit() or int(declared) > limit):
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large() -> JSONResponse:
    return JSONResponse({"error": "body too large", "limit_bytes": MAX_BODY}, status_code=413)


class _Routes:
    def __init__(self, ep: Endpoints) -> None:
        self.ep = ep
        self._command_slots = asyncio.Semaphore(COMMAND_SLOTS)

    async def command(self, request: Request) -> Response:
        ep = self.ep
        try:
            body = await bounded_body(request)
        except BodyTooLarge:
            return _too_large()
        # Form-encoded (docs/architecture.md, "Slash commands"); parsed with the standard library,
        # first value of each key.
        form = dict(reversed(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))
        try:
            slash = SlashCommand.model_validate(form)
        except ValidationError:
            ep.metrics.commands.labels("unknown", "invalid").inc()
            return JSONResponse({"error": "not a slash command"}, status_code=400)
        correlation_id.set(slash.trigger_id or None)
        if not ep.command_token or not hmac.compare_digest(slash.token.encode(), ep.command_token.encode()):
            log.warning("slash command refused: bad token user_id=%s", shown(slash.user_id))
            ep.metrics.commands.labels("unknown", "unauthorized").inc()
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if slash.response_url and not same_origin(slash.response_url, ep.mattermost_url):
            # Only Mattermost's own /hooks/commands URL: the token alone must not make the bot POST elsewhere.
            log.warning(
                "slash command refused: response_url not on Mattermost user_id=%s response_url=%s",
                shown(slash.user_id),
                shown(slash.response_url, 256),
            )
            return JSONResponse({"error": "response_url is not on the Mattermost server"}, status_code=400)
        try:
            parsed = parsing.parse(slash.text)
        except parsing.UsageError as error:
            ep.metrics.commands.labels("unknown", "usage_error").inc()
            return ephemeral(error.reply)
        command_name = type(parsed).__name__.lower()
        if isinstance(parsed, parsing.Help):
            ep.metrics.commands.labels(command_name, "help").inc()
            return ephemeral(parsing.USAGE)
        ep.metrics.commands.labels(command_name, "accepted").inc()
        # The work starts once the acknowledgement is on its way (Mattermost waits for it, the user
        # sees it), and at most COMMAND_SLOTS commands work at once, so a burst of commands does not
        # slow every acknowledgement down with the work of the others.
        response = ephemeral(ACKS.get(type(parsed), "Working on it…"))
        response.background = BackgroundTask(self._start, _run_command(ep.services, parsed, slash))
        return response

    async def _start(self, work: Coroutine[Any, Any, None]) -> None:
        self.ep.spawn(self._limited(work))

    async def _limited(self, work: Coroutine[Any, Any, None]) -> None:
        async with self._command_slots:
            await work

    async def action(self, request: Request) -> Response:
        ep = self.ep
        try:
            click = ActionClick.model_validate_json(await bounded_body(request))
        except BodyTooLarge:
            return _too_large()
        except ValidationError:
            ep.metrics.clicks.labels("unknown", "invalid").inc()
            return JSONResponse({"error": "not a button click"}, status_code=400)
        correlation_id.set(click.post_id)
        if is_alarm_context(click.context):
            kind, result = "alarm", await ep.alarm_buttons.click(click)
        else:
            kind, result = "request", await handle_click(ep.services, click)
        ep.metrics.clicks.labels(kind, "updated" if "update" in result else "replied").inc()
        return JSONResponse(result)

    async def dialog_submit(self, request: Request) -> Response:
        ep = self.ep
        try:
            submission = DialogSubmission.model_validate_json(await bounded_body(request))
        except BodyTooLarge:
            return _too_large()
        except ValidationError:
            ep.metrics.dialogs.labels("invalid").inc()
            return JSONResponse({"error": "not a dialog submission"}, status_code=400)
        correlation_id.set(submission.callback_id or None)
        try:
            result = await dialog.submit(ep.services, submission)
        except MattermostUnavailable:
            ep.metrics.dialogs.labels("mattermost_unavailable").inc()
            return JSONResponse({"error": "Mattermost failed while handling the form; please try again."})
        ep.metrics.dialogs.labels(_dialog_outcome(submission, result)).inc()
        return JSONResponse(result)

    async def sns(self, request: Request) -> Response:
        ep = self.ep
        try:
            body = await bounded_body(request)
        except BodyTooLarge:
            return _too_large()
        source_ip = request.client.host if request.client else None
        try:
            # Cheap checks first (shape, topic, age, URLs); a redelivery is answered without a fetch.
            message = ep.sns.precheck(
                body, source_ip=source_ip, message_type_header=request.headers.get("x-amz-sns-message-type")
            )
            correlation_id.set(message.message_id)
            kind = route(message)
            if ep.sns_handled.is_seen(message.message_id):
                return JSONResponse({"status": "duplicate"})
            if ep.sns.needs_signature_check:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(ep.sns_executor, ep.sns.check_signature, message)
        except SnsRejected as rejected:
            log.warning("SNS message refused reason=%s source_ip=%s", rejected.reason, shown(source_ip))
            ep.metrics.sns.labels(_sns_type(request.headers.get("x-amz-sns-message-type")), rejected.reason).inc()
            return JSONResponse({"error": "rejected", "reason": rejected.reason}, status_code=403)
        ep.metrics.sns.labels(_sns_type(message.type), "accepted").inc()
        response = await self._sns_verified(message, kind)
        if 200 <= response.status_code < 300:
            ep.sns_handled.mark(message.message_id)
        return response

    async def _sns_verified(self, message: SnsMessage, kind: str) -> Response:
        ep = self.ep
        if message.type == "SubscriptionConfirmation":
            await ep.confirm_subscription(message.subscribe_url or "")
            return JSONResponse({"status": "confirmed"})
        if message.type != "Notification":
            return JSONResponse({"status": "ignored"})
        if kind == "alarm":
            outcome = await ep.alarms.handle(message)
            return JSONResponse({"status": outcome.detail}, status_code=outcome.status_code)
        try:
            await ep.lifecycle.handle(parse_event(message.message))
        except EventRejected as rejected:
            log.warning("SNS lifecycle message refused: %s message_id=%s", rejected, shown(message.message_id))
            return JSONResponse({"error": "not a lifecycle event"}, status_code=400)
        except MattermostUnavailable:
            log.exception("lifecycle event not delivered to Mattermost; SNS will retry")
            return JSONResponse({"error": "mattermost unavailable"}, status_code=503)
        except (BackendError, BackendUnavailable):
            log.exception("lifecycle event: the backend refused placing a card; SNS will retry")
            return JSONResponse({"error": "backend unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def runbook(self, request: Request) -> Response:
        """The runbooks as markdown, when no external docs URL is configured (BOT_RUNBOOK_DOCS_URL)."""
        name = str(request.path_params["name"])
        if self.ep.runbooks_dir is None or not _RUNBOOK_NAME.fullmatch(name):
            return PlainTextResponse("not found", status_code=404)
        path = self.ep.runbooks_dir / name
        if not path.is_file():
            return PlainTextResponse("not found", status_code=404)
        return PlainTextResponse(path.read_text(encoding="utf-8"), media_type="text/markdown; charset=utf-8")

    async def metrics(self, _request: Request) -> Response:
        return Response(self.ep.metrics.render(), media_type=CONTENT_TYPE)

    async def healthz(self, _request: Request) -> Response:
        ep = self.ep
        checks = await ep.healthy()
        return JSONResponse(checks, status_code=200 if all(checks.values()) else 503)


def build_app(ep: Endpoints) -> Starlette:
    r = _Routes(ep)
    return Starlette(
        routes=[
            Route("/mattermost/command", r.command, methods=["POST"]),
            Route("/mattermost/actions", r.action, methods=["POST"]),
            Route("/mattermost/dialog", r.dialog_submit, methods=["POST"]),
            Route("/sns", r.sns, methods=["POST"]),
            Route("/healthz", r.healthz, methods=["GET"]),
            Route("/metrics", r.metrics, methods=["GET"]),
            Route("/runbooks/{name}", r.runbook, methods=["GET"]),
        ]
    )


_SNS_TYPES = frozenset({"Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"})


def _sns_type(value: str | None) -> str:
    """A label from untrusted input: one of SNS's message types, or ``other``."""
    return value if value in _SNS_TYPES else "other"


def _dialog_outcome(submission: DialogSubmission, result: dict[str, Any]) -> str:
    if submission.cancelled:
        return "cancelled"
    if "errors" in result:
        return "field_errors"
    return "refused" if "error" in result else "submitted"


async def _run_command(services: AccessServices, command: parsing.Command, slash: SlashCommand) -> None:
    async def reply(text: str) -> None:
        if slash.response_url:
            await services.mm.respond(
                slash.response_url, {"response_type": "ephemeral", "text": text, "skip_slack_parsing": True}
            )

    try:
        actor = await services.mm.person(slash.user_id)
        await execute(
            services,
            command,
            actor,
            reply,
            source_id=idempotency_key("slash", slash.trigger_id or slash.user_id + slash.text),
            trigger_id=slash.trigger_id,
            response_url=slash.response_url,
        )
    except MattermostUnavailable:
        log.exception("slash command could not be completed")
