"""Starlette app: spec-checked REST under /api/v4, the websocket, response_url hooks, /_sandbox."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from sandbox.mattermost.errors import AppError
from sandbox.mattermost.files import parse_multipart
from sandbox.mattermost.hub import Connection, Event
from sandbox.mattermost.ratelimit import LIMITED_BODY, RateLimiter
from sandbox.mattermost.rest import HANDLERS, UNAUTHENTICATED, Call
from sandbox.mattermost.service import Mattermost
from sandbox.mattermost.spec import OpenApiSpec, RouteMiss
from sandbox.mattermost.store import User, new_id

SERVER_VERSION = "11.2.0"


def _error(error: AppError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)


async def _call_body(request: Request, operation_id: str, body: bytes) -> Any:
    """JSON for every operation but uploads: multipart form fields, or the raw file with query names."""
    if operation_id != "UploadFile":
        return json.loads(body) if body else None
    content_type = request.headers.get("content-type", "")
    if "multipart/form-data" in content_type:
        return parse_multipart(content_type, body)
    return {"files": [(request.query_params.get("filename", ""), body)]}


def build_app(
    mm: Mattermost, spec: OpenApiSpec, limiter: RateLimiter | None = None, extra_routes: Sequence[BaseRoute] = ()
) -> Starlette:
    """``extra_routes``: page helpers of the whole sandbox (AWS panel, alarms), outside /api/v4."""

    async def api(request: Request) -> Response:
        path = request.url.path
        where = f"{request.method} {path}"
        op = spec.match(request.method, path)
        if isinstance(op, RouteMiss):
            return _refuse_route(mm, op, where)
        body = await request.body()
        problems = spec.check_request(
            op, list(request.query_params.multi_items()), body, request.headers.get("content-type", "")
        )
        if problems:
            mm.violate("request", where, "; ".join(problems))
            return _error(AppError(400, "api.context.invalid_body_param.app_error", "; ".join(problems)))
        handler = HANDLERS.get(op.operation_id)
        if handler is None:
            mm.violate("unimplemented", where, f"{op.operation_id} is in the spec but not emulated")
            return _error(AppError(501, "api.context.not_implemented", f"{op.operation_id} not emulated"))
        user = _authenticate(mm, request)
        if user is None and op.operation_id not in UNAUTHENTICATED:
            return _error(AppError(401, "api.context.session_expired.app_error", "Invalid or expired session."))
        try:
            call = Call(
                user, op.path_params, dict(request.query_params), await _call_body(request, op.operation_id, body)
            )
            status, payload = await run_in_threadpool(handler, mm, call)
        except AppError as error:
            return _error(error)
        for problem in spec.check_response(op, status, payload):
            mm.violate("response", where, problem)
        headers = {}
        if op.operation_id == "Login":
            headers["Token"] = mm.store.user_named(payload["username"]).token
        return JSONResponse(payload, status_code=status, headers=headers)

    async def command_hook(request: Request) -> Response:
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        try:
            await run_in_threadpool(mm.use_response_url, request.path_params["hook_id"], content_type, body)
        except AppError as error:
            return _error(error)
        return PlainTextResponse("OK")

    async def websocket(ws: WebSocket) -> None:
        await _serve_socket(mm, ws)

    from sandbox.mattermost.sandbox_http import sandbox_routes
    from sandbox.mattermost.webpage import page_routes

    routes = [
        WebSocketRoute("/api/v4/websocket", websocket),
        Route("/hooks/commands/{hook_id}", command_hook, methods=["POST"]),
        *sandbox_routes(mm),
        *page_routes(mm),
        *extra_routes,
        Route("/api/v4/{rest:path}", _rate_limited(limiter, api), methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]
    return Starlette(routes=routes)


def _refuse_route(mm: Mattermost, miss: RouteMiss, where: str) -> Response:
    """Every call outside the contract is a recorded violation, whatever the reply."""
    if miss.not_emulated:
        mm.violate("unimplemented", where, f"{miss.not_emulated} is in the spec but not emulated")
        return _error(AppError(501, "api.context.not_implemented", f"{miss.not_emulated} not emulated"))
    mm.violate("unknown-route", where, "no such path+method in the OpenAPI spec")
    status = 405 if miss.known_path else 404
    return _error(AppError(status, "api.context.404.app_error", "Sorry, we could not find the page."))


Endpoint = Callable[[Request], Awaitable[Response]]


def _rate_limited(limiter: RateLimiter | None, endpoint: Endpoint) -> Endpoint:
    """Mattermost limits in middleware, before routing or any handler runs (docs/architecture.md, "Rate limiting")."""

    async def limited(request: Request) -> Response:
        decision = limiter.check(_limit_key(request)) if limiter else None
        if decision is not None and decision.limited:
            return PlainTextResponse(LIMITED_BODY, status_code=429, headers=decision.headers())
        response = await endpoint(request)
        if decision is not None:
            response.headers.update(decision.headers())
        return response

    return limited


def _limit_key(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return "addr:" + (request.client.host if request.client else "")


def _authenticate(mm: Mattermost, request: Request) -> User | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    with mm.store.lock:
        return mm.store.user_by_token(token.strip())


async def _serve_socket(mm: Mattermost, ws: WebSocket) -> None:
    await ws.accept()
    try:
        first = json.loads(await ws.receive_text())
    except (WebSocketDisconnect, ValueError):
        await ws.close()
        return
    token = str((first.get("data") or {}).get("token", ""))
    with mm.store.lock:
        user = mm.store.user_by_token(token) if first.get("action") == "authentication_challenge" else None
    if user is None:
        await ws.close()  # the server closes without a FAIL reply
        return
    connection = Connection(user.id)
    mm.hub.add(connection)
    await ws.send_json({"status": "OK", "seq_reply": first.get("seq", 1)})
    hello = Event("hello", {"server_version": SERVER_VERSION, "connection_id": new_id(), "server_hostname": ""}, {})
    sender = asyncio.create_task(_send_events(ws, connection, hello))
    try:
        while True:
            message = json.loads(await ws.receive_text())
            if message.get("action") == "ping":
                data = {"text": "pong", "version": SERVER_VERSION, "server_time": int(time.time() * 1000)}
                await ws.send_json({"status": "OK", "seq_reply": message.get("seq"), "data": data})
    except (WebSocketDisconnect, ValueError, RuntimeError):
        pass
    finally:
        mm.hub.remove(connection)
        connection.queue.put_nowait(None)
        await sender


async def _send_events(ws: WebSocket, connection: Connection, hello: Event) -> None:
    seq = 0
    message: Event | None = hello
    try:
        while message is not None:
            await ws.send_json(_envelope(message, seq))
            seq += 1
            message = await connection.queue.get()
        await ws.close(code=1001)
    except (WebSocketDisconnect, RuntimeError, OSError):
        return


def _envelope(event: Event, seq: int) -> dict[str, Any]:
    return {"event": event.event, "data": event.data, "broadcast": event.broadcast, "seq": seq}
