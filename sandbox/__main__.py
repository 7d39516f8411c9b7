"""``python -m sandbox``: the whole system on this machine for a human to try.

The local backend stack (moto + JIT API), the Mattermost emulator and the bot, wired together:
the bot registers /jit in the emulator and its /sns is subscribed to ``jit-events`` and
``jit-alarms`` (trust mode local-unsigned: moto does not sign, loopback senders only). Open the
printed address in a browser to act as the seed users, watch the AWS side and fire alarms; scripts
use ``.venv/bin/python -m sandbox.mattermost.cli`` and ``.venv/bin/python -m jitlocal.fire_alarm``
(the start-up text prints both, ready to paste).
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import secrets
import shlex
import signal
import sys
import threading
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--mattermost-port", type=int, default=8065)
    parser.add_argument("--bot-port", type=int, default=8090)
    parser.add_argument("--api-port", type=int, default=None, help="JIT API (default: config/local-stack.yaml)")
    parser.add_argument("--moto-port", type=int, default=None, help="AWS APIs (default: config/local-stack.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    os.environ["TZ"] = "UTC"  # moto's Wait states compare with local time
    time.tzset()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    from bot.runtime import BotThread
    from bot.settings import BotSettings
    from jitlocal.stack import LocalStack, StackOptions
    from sandbox.console import console_for
    from sandbox.mattermost.server import MattermostEmulator

    stack = LocalStack(StackOptions(moto_port=args.moto_port, api_port=args.api_port)).start()
    emulator = MattermostEmulator(port=args.mattermost_port, extra_routes=console_for(stack).routes())
    emulator.start()
    key = stack.signing_key()
    settings = BotSettings(
        mattermost_url=emulator.url,
        mattermost_token=emulator.token("jit-bot"),
        team_name="jit",
        public_url=f"http://127.0.0.1:{args.bot_port}",
        backend_url=stack.api_url,
        backend_key_id=key.key_id,
        backend_key_secret=base64.urlsafe_b64encode(key.secret).decode(),
        backend_audience=stack.config.audience,
        action_key=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        sns_trust_mode="local-unsigned",
        sns_allowed_topics=(stack.provisioned.events_topic_arn, stack.provisioned.alarms_topic_arn),
        listen_port=args.bot_port,
        aws_portal_url="https://d-sandbox.awsapps.com/start",
    )
    bot = BotThread(settings).start()
    for topic in (stack.provisioned.events_topic_arn, stack.provisioned.alarms_topic_arn):
        stack.subscribe_http(topic, f"http://127.0.0.1:{bot.port}/sns")
    print(describe(stack.api_url, stack.moto_url, emulator, bot.port), flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    bot.stop()
    emulator.stop()
    stack.stop()
    for violation in emulator.violations:
        print(f"Mattermost contract VIOLATION {violation!r}", flush=True)
    return 0


def describe(api_url: str, moto_url: str, emulator: object, bot_port: int) -> str:
    from sandbox.mattermost.server import MattermostEmulator

    assert isinstance(emulator, MattermostEmulator)
    python = shell_python()
    cli = f"{python} -m sandbox.mattermost.cli --url {emulator.url}"
    users = "\n".join(
        f"    {u.username:<8} {u.email:<22} {'bot' if u.is_bot else ''}" for u in emulator.mm.store.users.values()
    )
    return "\n".join(
        [
            f"Open the chat page: {emulator.url}/",
            "",
            "JIT sandbox is up (Ctrl-C stops everything).",
            f"  Mattermost emulator: {emulator.url}   (team jit; channels jit-approvals, oncall)",
            f"  JIT bot:             http://127.0.0.1:{bot_port}   (/healthz; /sns gets jit-events, jit-alarms)",
            f"  JIT API:             {api_url}",
            f"  AWS APIs (moto):     {moto_url}",
            "  Seed users (alice asks; bob, carol approve; dave: on call, admin, standing prod ReadOnly):",
            users,
            "  Try it in the chat page, or from a script:",
            f"    {cli} as alice /jit request prod AdministratorAccess 1h investigating INC-123",
            f"    {cli} read jit-approvals          # find the card's post id and the Approve action id",
            f"    {cli} click bob <post id> approve",
            f"    {cli} ephemerals alice",
            f"    {cli} as alice /jit list",
            "  Alarms (posted to ~oncall; the eight names are in docs/runbooks/01-monitoring-alarms.md):",
            f"    {python} -m jitlocal.fire_alarm JIT-LambdaErrorRate --value 7.3",
            f"    {python} -m jitlocal.fire_alarm JIT-LambdaErrorRate --state OK",
            f"    {cli} read oncall                 # the alarm post; click ack / mute on it like the card",
        ]
    )


def shell_python() -> str:
    """This interpreter as typed in a fresh shell in the project folder: `.venv/bin/python` after make run.

    Not resolved: the venv's python is a symlink, and only the venv path has the project installed.
    """
    interpreter = Path(os.path.abspath(sys.executable))
    project = Path(os.path.abspath(__file__)).parents[1]
    if interpreter.is_relative_to(project):
        return shlex.quote(interpreter.relative_to(project).as_posix())
    return shlex.quote(str(interpreter))


if __name__ == "__main__":
    raise SystemExit(main())
