"""``python -m bot``: settings from BOT_* variables (or BOT_CONFIG_FILE), then serve until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from bot.runtime import BotRuntime
from bot.settings import BotSettings


async def _main() -> None:
    settings = BotSettings.load(os.environ)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await BotRuntime(settings).run_forever(stop)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(_main())


if __name__ == "__main__":
    main()
