"""``jit-bot`` / ``python -m bot``: BOT_* settings (or BOT_CONFIG_FILE), then serve until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from bot.logs import configure_logging
from bot.settings import ENV_PREFIX, BotSettings

DESCRIPTION = """\
JIT access bot for Mattermost: serves /jit, buttons, dialogs and SNS (/sns) over HTTP, listens on
the Mattermost websocket, answers /healthz and /metrics.

Settings come from BOT_* environment variables; BOT_CONFIG_FILE names a KEY=VALUE file read first
(the environment wins); BOT_SECRETS_DIR names a folder of one file per secret (bot_mattermost_token,
...), read before both. config/bot.example.env lists and explains every variable. SIGTERM or SIGINT
stop the bot gracefully: requests in flight finish, the websocket closes, then the process exits.
"""


def build_parser() -> argparse.ArgumentParser:
    variables = " ".join(ENV_PREFIX + name.upper() for name in BotSettings.model_fields)
    parser = argparse.ArgumentParser(
        prog="jit-bot",
        description=DESCRIPTION,
        epilog=f"variables: {ENV_PREFIX}CONFIG_FILE {ENV_PREFIX}SECRETS_DIR {variables}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--check-config", action="store_true", help="load and validate the settings, print OK and exit")
    return parser


async def _serve(settings: BotSettings) -> None:
    from bot.runtime import BotRuntime  # the server stack is imported only to serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await BotRuntime(settings).run_forever(stop)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = BotSettings.load(os.environ)
    except (ValueError, OSError) as exc:
        print(f"jit-bot: invalid settings: {exc}", file=sys.stderr)
        return 2
    if args.check_config:
        print("OK")
        return 0
    configure_logging(logging.INFO)  # JSON lines on stderr (docs/architecture.md, "Logs")
    asyncio.run(_serve(settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
