"""Serve a Lambda proxy handler over HTTP on 127.0.0.1, shaped as API Gateway (REST) calls it.

Served by uvicorn (an ASGI adapter turns each request into the proxy event) with a deep listen
backlog, so a burst of concurrent clients queues instead of being reset; the handler itself is
synchronous and runs on a pool of worker threads, as concurrent Lambda invocations would.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import uvicorn

log = logging.getLogger("jitlocal")

ProxyHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
# Connections the kernel queues before accepting; the standard library's 5 reset bursts of clients.
LISTEN_BACKLOG = 1024
# Concurrent handler invocations (each one blocks on AWS calls to moto).
WORKER_THREADS = 64

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def proxy_event(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
) -> dict[str, Any]:
    """The REST API proxy event (payload 1.0) API Gateway would send for this request."""
    parts = urlsplit(target)
    query = parse_qsl(parts.query, keep_blank_values=True)
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in query:
        multi_query.setdefault(name, []).append(value)
    try:
        text: str | None = body.decode("utf-8") if body else None
        is_b64 = False
    except UnicodeDecodeError:
        text, is_b64 = base64.b64encode(body).decode(), True
    return {
        "resource": "/{proxy+}",
        "path": parts.path,
        "httpMethod": method,
        "headers": {k: v[-1] for k, v in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": parts.path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/local{parts.path}",
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": source_ip},
        },
        "body": text,
        "isBase64Encoded": is_b64,
    }


class _ProxyApp:
    """ASGI → API Gateway proxy event → ``owner.handler`` (on a worker thread) → HTTP response."""

    def __init__(self, owner: LocalApiServer, pool: ThreadPoolExecutor) -> None:
        self._owner = owner
        self._pool = pool

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        if body is None:
            await _reply(send, 413, {"Content-Type": "application/json"}, b'{"message":"Request Too Long"}')
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string") or b""
        target = raw_path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        client = scope.get("client") or ("127.0.0.1", 0)
        event = proxy_event(scope["method"], target, headers, body, str(client[0]))
        handler = self._owner.handler
        try:
            result = await asyncio.get_running_loop().run_in_executor(self._pool, handler, event, None)
        except Exception:  # API Gateway answers 502 when the integration fails
            log.exception("ERROR the API handler raised")
            await _reply(send, 502, {"Content-Type": "application/json"}, b'{"message":"Internal server error"}')
            return
        out_headers = dict(result.get("headers") or {})
        for name, values in (result.get("multiValueHeaders") or {}).items():
            out_headers[name] = ", ".join(values)
        raw = result.get("body") or ""
        payload = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode("utf-8")
        await _reply(send, int(result.get("statusCode", 200)), out_headers, payload)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None once it passes ``MAX_BODY``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body") or b""
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _reply(send: Send, status: int, headers: dict[str, str], payload: bytes) -> None:
    raw_headers = [
        (k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items() if k.lower() != "content-length"
    ]
    raw_headers.append((b"content-length", str(len(payload)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


class LocalApiServer:
    """``handler`` may be swapped while serving (the stack re-provisions after a reset)."""

    def __init__(self, port: int, handler: ProxyHandler, *, backlog: int = LISTEN_BACKLOG) -> None:
        self.handler = handler
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._pool = ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="jit-api")
        config = uvicorn.Config(
            _ProxyApp(self, self._pool),
            log_level="warning",
            access_log=False,
            lifespan="off",
            backlog=backlog,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="jit-api-http", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host!s}:{port}"

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._server.serve(sockets=[self._sock]))
        finally:
            loop.close()

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the local API server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._sock.close()
