"""The local API's HTTP server under a burst: every connection of a simultaneous crowd is answered.

The standard library's server listened with a backlog of 5, so a burst of clients saw dropped
SYNs and resets (a CI run of the fifty-replays test failed with ConnectionResetError).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from jitlocal.http_api import LocalApiServer

CLIENTS = 200


def _slow_ok(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    time.sleep(0.02)  # a handler that takes a moment, so connections pile up
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"path": event["path"]}),
    }


def test_two_hundred_simultaneous_connections_are_all_answered() -> None:
    server = LocalApiServer(0, _slow_ok)
    server.start()
    port = int(server.url.rsplit(":", 1)[1])
    barrier = threading.Barrier(CLIENTS)

    def one(n: int) -> str:
        with socket.socket() as client:
            client.settimeout(10)
            barrier.wait()
            try:
                client.connect(("127.0.0.1", port))
                client.sendall(f"GET /n/{n} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                reply = b""
                while chunk := client.recv(4096):
                    reply += chunk
            except OSError as error:
                return type(error).__name__
        return "ok" if reply.startswith(b"HTTP/1.1 200") and f'"/n/{n}"'.encode() in reply else "bad reply"

    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            outcomes = Counter(pool.map(one, range(CLIENTS)))
    finally:
        server.stop()
    assert outcomes == Counter({"ok": CLIENTS})
