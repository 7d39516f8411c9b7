"""The small guards of the bot's intake: certificate GETs, constant-time text compares, log escaping,
origin checks and the local-unsigned listen rule."""

from __future__ import annotations

import asyncio
import base64
import secrets
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from bot.access.action_context import ContextSigner
from bot.commands.dialog import DialogState, sign_state, verify_state
from bot.logsafe import shown
from bot.mattermost.client import same_origin
from bot.runtime import BotRuntime, sns_get
from bot.settings import BotSettings
from bot.signed_context import ContextRejected

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
KEY = secrets.token_bytes(32)


class _Host(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        _Host.hits.append(self.path)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/target")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"x" * (100 * 1024) if self.path == "/huge" else b"-----BEGIN CERTIFICATE-----"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def host() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Host)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Host.hits = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_certificate_get_follows_no_redirect_and_bounds_the_size(host: str) -> None:
    assert sns_get(host + "/cert.pem").startswith(b"-----BEGIN")
    with pytest.raises(requests.HTTPError, match="302"):
        sns_get(host + "/redirect")
    with pytest.raises(requests.HTTPError, match="bytes"):
        sns_get(host + "/huge")
    assert "/target" not in _Host.hits


def test_text_compares_take_any_characters() -> None:
    signer = ContextSigner(KEY, 3600)
    ctx = signer.sign("r1", "approve", "post1", "chan1", NOW)
    with pytest.raises(ContextRejected, match="wrong_post"):
        signer.verify(ctx, post_id="p\u00e9", channel_id="chan1", now=NOW)
    with pytest.raises(ContextRejected, match="bad_signature"):
        signer.verify(ctx | {"sig": "\u00e9" * 64}, post_id="post1", channel_id="chan1", now=NOW)
    state = sign_state(signer, DialogState(user_id="u1", exp=int(NOW.timestamp()) + 60))
    with pytest.raises(ContextRejected, match="bad_signature"):
        verify_state(signer, state + "\u00e9", user_id="u1", now=NOW)
    with pytest.raises(ContextRejected, match="wrong_user"):
        verify_state(signer, state, user_id="u\u00e9\ud800", now=NOW)


def test_shown_escapes_line_breaks_and_controls_and_bounds_length() -> None:
    assert shown("u1\nINFO forged") == "u1\\nINFO forged"
    assert shown("\x1b[2J\r") == "\\x1b[2J\\r"
    assert shown("caf\u00e9") == "caf\\xe9"
    assert shown("x" * 500) == "x" * 128 + "..."
    assert shown(None) == "None"


@pytest.mark.parametrize(
    ("url", "same"),
    [
        ("https://chat.example.com/hooks/commands/abc", True),
        ("https://CHAT.example.com:443/hooks/commands/abc", True),
        ("http://chat.example.com/hooks/commands/abc", False),
        ("https://chat.example.com:8443/hooks/commands/abc", False),
        ("https://chat.example.com.evil.example/hooks", False),
        ("https://user@chat.example.com/hooks", False),
        ("https://evil.example/https://chat.example.com/", False),
        ("file:///etc/passwd", False),
        ("https://chat.example.com:99999/x", False),
        ("", False),
    ],
)
def test_same_origin(url: str, same: bool) -> None:
    assert same_origin(url, "https://chat.example.com") is same


def _settings(**changes: Any) -> BotSettings:
    values = {
        "mattermost_url": "https://chat.example.com",
        "mattermost_token": "t",
        "team_name": "jit",
        "public_url": "https://bot.example.com",
        "backend_url": "https://api.example.com",
        "backend_key_id": "bot-1",
        "backend_key_secret": base64.urlsafe_b64encode(KEY).decode(),
        "backend_audience": "jit-api",
        "action_key": base64.urlsafe_b64encode(KEY).decode(),
        "sns_trust_mode": "local-unsigned",
    }
    return BotSettings.model_validate(values | changes)


@pytest.mark.parametrize("listen_host", ["0.0.0.0", "::", "10.0.0.5", "bot.example.com"])
def test_local_unsigned_refuses_to_listen_beyond_loopback(listen_host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        _settings(listen_host=listen_host)
    assert _settings(listen_host=listen_host, sns_trust_mode="aws").listen_host == listen_host


@pytest.mark.parametrize("listen_host", ["127.0.0.1", "::1", "localhost"])
def test_local_unsigned_on_loopback_is_fine(listen_host: str) -> None:
    assert _settings(listen_host=listen_host).sns_trust_mode == "local-unsigned"


def test_local_unsigned_refuses_a_handed_in_socket_beyond_loopback() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("0.0.0.0", 0))
    runtime = BotRuntime(_settings(), sock=sock)
    try:
        with pytest.raises(ValueError, match="loopback socket"):
            asyncio.run(runtime.start())
    finally:
        sock.close()
        for pool in (runtime.mattermost_pool, runtime.backend_pool, runtime.sns_pool):
            pool.shutdown(wait=False)
