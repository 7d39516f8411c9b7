"""The bot's HTTP endpoints (starlette): slash command, buttons, dialogs, /sns, /healthz.

Thin: parse at the edge, check the caller, hand over to the handlers. Slow work after a slash
command runs in a tracked background task; the command itself is acknowledged at once.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from alarms.sns import SnsRejected, SnsVerifier, route
from backend.api.client import BackendError, BackendUnavailable
from bot.alarm_buttons import AlarmButtons
from bot.alarm_context import is_alarm_context
from bot.alarm_intake import AlarmIntake
from bot.clicks import handle_click
from bot.commands import dialog, parsing
from bot.commands.run import execute
from bot.core import Core, idempotency_key
from bot.events import EventRejected, LifecycleHandler, parse_event
from bot.mattermost.client import MattermostUnavailable
from bot.mattermost.payloads import ActionClick, DialogSubmission, SlashCommand

log = logging.getLogger("bot.app")

MAX_BODY = 256 * 1024
COMMAND_SLOTS = 8  # slash commands whose (slow) work runs at the same time; the rest wait their turn
_RUNBOOK_NAME = re.compile(r"^\d{2}-[a-z0-9-]+\.md$")
ACKS = {
    parsing.Request: "Submitting your request…",
    parsing.OpenRequestDialog: "Opening the request form…",
}


@dataclass(frozen=True)
class Endpoints:
    core: Core
    command_token: str
    sns: SnsVerifier
    lifecycle: LifecycleHandler
    spawn: Callable[[Coroutine[Any, Any, None]], None]
    healthy: Callable[[], Awaitable[dict[str, bool]]]
    confirm_subscription: Callable[[str], Awaitable[None]]
    alarms: AlarmIntake
    alarm_buttons: AlarmButtons
    runbooks_dir: Path | None = None


def ephemeral(text: str) -> JSONResponse:
    return JSONResponse({"response_type": "ephemeral", "text": text, "skip_slack_parsing": True})


class _Routes:
    def __init__(self, ep: Endpoints) -> None:
        self.ep = ep
        self._command_slots = asyncio.Semaphore(COMMAND_SLOTS)

    async def command(self, request: Request) -> Response:
        ep = self.ep
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "too large"}, status_code=413)
        # Form-encoded (CONTRACT a1); parsed with the standard library, first value of each key.
        form = dict(reversed(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))
        try:
            slash = SlashCommand.model_validate(form)
        except ValidationError:
            return JSONResponse({"error": "not a slash command"}, status_code=400)
        if not ep.command_token or not hmac.compare_digest(slash.token.encode(), ep.command_token.encode()):
            log.warning("slash command refused: bad token user_id=%s", slash.user_id)
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        try:
            parsed = parsing.parse(slash.text)
        except parsing.UsageError as error:
            return ephemeral(error.reply)
        if isinstance(parsed, parsing.Help):
            return ephemeral(parsing.USAGE)
        # The work starts once the acknowledgement is on its way (Mattermost waits for it, the user
        # sees it), and at most COMMAND_SLOTS commands work at once, so a burst of commands does not
        # slow every acknowledgement down with the work of the others.
        response = ephemeral(ACKS.get(type(parsed), "Working on it…"))
        response.background = BackgroundTask(self._start, _run_command(ep.core, parsed, slash))
        return response

    async def _start(self, work: Coroutine[Any, Any, None]) -> None:
        self.ep.spawn(self._limited(work))

    async def _limited(self, work: Coroutine[Any, Any, None]) -> None:
        async with self._command_slots:
            await work

    async def action(self, request: Request) -> Response:
        ep = self.ep
        try:
            click = ActionClick.model_validate_json(await request.body())
        except ValidationError:
            return JSONResponse({"error": "not a button click"}, status_code=400)
        if is_alarm_context(click.context):
            return JSONResponse(await ep.alarm_buttons.click(click))
        return JSONResponse(await handle_click(ep.core, click))

    async def dialog_submit(self, request: Request) -> Response:
        ep = self.ep
        try:
            submission = DialogSubmission.model_validate_json(await request.body())
        except ValidationError:
            return JSONResponse({"error": "not a dialog submission"}, status_code=400)
        try:
            return JSONResponse(await dialog.submit(ep.core, submission))
        except MattermostUnavailable:
            return JSONResponse({"error": "Mattermost failed while handling the form; please try again."})

    async def sns(self, request: Request) -> Response:
        ep = self.ep
        body = await request.body()
        source_ip = request.client.host if request.client else None
        try:
            message = ep.sns.verify(
                body, source_ip=source_ip, message_type_header=request.headers.get("x-amz-sns-message-type")
            )
            kind = route(message)
        except SnsRejected as rejected:
            log.warning("SNS message refused reason=%s source_ip=%s", rejected.reason, source_ip)
            return JSONResponse({"error": "rejected"}, status_code=403)
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
            log.warning("SNS lifecycle message refused: %s message_id=%s", rejected, message.message_id)
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
            Route("/runbooks/{name}", r.runbook, methods=["GET"]),
        ]
    )


async def _run_command(core: Core, command: parsing.Command, slash: SlashCommand) -> None:
    async def reply(text: str) -> None:
        if slash.response_url:
            await core.mm.respond(
                slash.response_url, {"response_type": "ephemeral", "text": text, "skip_slack_parsing": True}
            )

    try:
        actor = await core.mm.person(slash.user_id)
        await execute(
            core,
            command,
            actor,
            reply,
            source_id=idempotency_key("slash", slash.trigger_id or slash.user_id + slash.text),
            trigger_id=slash.trigger_id,
            response_url=slash.response_url,
        )
    except MattermostUnavailable:
        log.exception("slash command could not be completed")
