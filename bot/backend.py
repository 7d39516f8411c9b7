"""The synchronous signed backend client, called on worker threads so the event loop never blocks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

from backend.api.client import JitApiClient

T = TypeVar("T")


class Backend:
    def __init__(self, client: JitApiClient, executor: Executor) -> None:
        self._client = client
        self._executor = executor

    async def run(self, operation: Callable[[JitApiClient], T]) -> T:
        """``await backend.run(lambda c: c.get_request(actor, request_id))``."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, operation, self._client)

    async def reachable(self) -> bool:
        try:
            return await self.run(lambda c: c.health())
        except Exception:  # noqa: BLE001 - any failure means "not reachable" for /healthz
            return False
