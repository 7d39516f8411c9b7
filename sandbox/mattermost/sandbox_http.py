"""/_sandbox/ endpoints for humans poking a running sandbox (outside /api/v4: not spec-checked)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.mattermost import actas
from sandbox.mattermost.errors import AppError
from sandbox.mattermost.service import Mattermost


def sandbox_routes(mm: Mattermost) -> list[Route]:
    async def command(request: Request) -> Response:
        body: dict[str, Any] = await request.json()
        channel = str(body.get("channel", "jit-approvals"))
        return await _call(lambda: asdict(actas.run_command(mm, str(body["user"]), channel, str(body["text"]))))

    async def click(request: Request) -> Response:
        body: dict[str, Any] = await request.json()
        user, post_id, action_id = str(body["user"]), str(body["post_id"]), str(body["action_id"])
        return await _call(lambda: asdict(actas.click(mm, user, post_id, action_id)))

    async def dialog(request: Request) -> Response:
        body: dict[str, Any] = await request.json()
        values = dict(body.get("values") or {})
        return await _call(lambda: asdict(actas.submit_dialog(mm, str(body["user"]), values)))

    async def channel(request: Request) -> Response:
        return await _call(lambda: actas.channel_posts(mm, request.path_params["name"]))

    async def ephemerals(request: Request) -> Response:
        return await _call(lambda: actas.ephemerals(mm, request.path_params["user"]))

    return [
        Route("/_sandbox/command", command, methods=["POST"]),
        Route("/_sandbox/click", click, methods=["POST"]),
        Route("/_sandbox/dialog", dialog, methods=["POST"]),
        Route("/_sandbox/channel/{name}", channel, methods=["GET"]),
        Route("/_sandbox/ephemerals/{user}", ephemerals, methods=["GET"]),
    ]


async def _call(work: Any) -> Response:
    try:
        return JSONResponse(await run_in_threadpool(work))
    except AppError as error:
        return JSONResponse(error.body(), status_code=error.status)
