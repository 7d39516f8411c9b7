"""SIGTERM: the click in flight finishes, the websocket closes cleanly, the process exits 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from jitwire.models import RequestStatus
from tests.e2e.conftest import System, bot_settings, bound_socket, wait_until
from tests.e2e.test_approval_flow import buttons, request_card


def test_a_click_in_flight_finishes_while_the_bot_stops(system: System) -> None:
    bot = system.start_bot()
    card = request_card(system, "request prod AdministratorAccess 1h investigating INC-9")
    api = system.stack._api
    assert api is not None
    original = api.handler
    reached, release = threading.Event(), threading.Event()

    def slow_backend(event, context):  # the approval call is in flight when the stop comes
        reached.set()
        release.wait(10)
        return original(event, context)

    api.handler = slow_backend
    with ThreadPoolExecutor(2) as pool:
        click = pool.submit(system.mm.click, user="bob", post_id=card["id"], action_id=buttons(card)["Approve"])
        assert reached.wait(10), "the click reached the backend"
        stopping = pool.submit(bot.stop)
        time.sleep(0.3)
        assert not stopping.done(), "stop waits for the click in flight"
        release.set()
        answered = click.result(20)
        stopping.result(20)
    api.handler = original
    assert answered.status == 200
    assert "You approved" in answered.ephemerals[0]["message"]
    system.stack.wait_for(card["props"]["jit_request_id"], RequestStatus.GRANTED)
    assert system.mm.mm.hub.connection_count() == 0, "the websocket was closed, not dropped"


def test_sigterm_stops_the_jit_bot_process_cleanly(system: System) -> None:
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()
    settings = bot_settings(system.stack, system.mm, port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    for name, raw in settings.model_dump().items():
        if raw is None:
            continue
        plain = raw.get_secret_value() if hasattr(raw, "get_secret_value") else raw
        env["BOT_" + name.upper()] = ",".join(plain) if isinstance(plain, tuple) else str(plain)
    # The with block closes the output pipe (left open, it is a ResourceWarning when collected).
    with subprocess.Popen(
        [sys.executable, "-m", "bot"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        try:

            def healthy() -> bool:
                try:
                    return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
                except requests.RequestException:
                    return False

            wait_until(healthy, timeout=60, what="the bot's /healthz")
            assert system.mm.mm.hub.connection_count() == 1
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0
        finally:
            if process.poll() is None:
                process.kill()
        output = process.stdout.read() if process.stdout else ""
    assert "Traceback" not in output, output
    for line in output.splitlines():  # every line the process wrote is a JSON log line (docs/architecture.md, "Logs")
        assert json.loads(line)["service"] == "jit-bot", line
    assert system.mm.mm.hub.connection_count() == 0
