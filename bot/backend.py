"""The synchronous signed backend client, called on worker threads so the event loop never blocks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

from bot.metrics import BotMetrics, status_label
from jitwire.client import BackendError, JitApiClient

T = TypeVar("T")


class Backend:
    def __init__(self, client: JitApiClient, executor: Executor, metrics: BotMetrics | None = None) -> None:
        self._client = client
        self._executor = executor
        self._metrics = metrics or BotMetrics()

    async def run(self, operation: Callable[[JitApiClient], T]) -> T:
        """``await backend.run(lambda c: c.get_request(actor, request_id))``."""
        loop = asyncio.get_running_loop()
        started, status = time.perf_counter(), "error"
        try:
            result = await loop.run_in_executor(self._executor, operation, self._client)
            status = "2xx"
            return result
        except BackendError as error:
            status = status_label(error.status)
            raise
        finally:
            self._metrics.backend_calls.labels(status).inc()
            self._metrics.backend_latency.observe(time.perf_counter() - started)

    async def reachable(self) -> bool:
        try:
            return await self.run(lambda c: c.health())
        except Exception:  # noqa: BLE001 - any failure means "not reachable" for /healthz
            return False
