"""The bot's own health in Prometheus text format (``GET /metrics``); docs/metrics.md describes each metric.

One ``BotMetrics`` per bot process, made by the runtime and handed to what records into it: its
registry is its own (never prometheus_client's global one), so two bots in one test process, or a
restart, start from zero and never collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def status_label(status: int | None) -> str:
    """HTTP status as a label: the code for errors (429 stays visible), ``2xx`` for success, ``error`` without one."""
    if status is None:
        return "error"
    return "2xx" if 200 <= status < 300 else str(status)


class _WebsocketCollector(Collector):
    """Reads the websocket's state at scrape time (no hook in the socket code)."""

    def __init__(self, state: Callable[[], tuple[bool, int] | None]) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        state = self._state()
        connected, connections = state if state is not None else (False, 0)
        gauge = GaugeMetricFamily("jit_bot_websocket_connected", "1 while the Mattermost websocket is authenticated")
        gauge.add_metric([], 1.0 if connected else 0.0)
        yield gauge
        reconnects = CounterMetricFamily(
            "jit_bot_websocket_reconnects", "Websocket sessions after the first one (reconnections)"
        )
        reconnects.add_metric([], float(max(connections - 1, 0)))
        yield reconnects


class BotMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.commands = Counter(
            "jit_bot_commands", "Slash commands received, by command and outcome", ["command", "outcome"], registry=r
        )
        self.clicks = Counter("jit_bot_clicks", "Button clicks, by kind and outcome", ["kind", "outcome"], registry=r)
        self.dialogs = Counter("jit_bot_dialog_submissions", "Dialog submissions, by outcome", ["outcome"], registry=r)
        self.backend_calls = Counter(
            "jit_bot_backend_requests", "Calls to the JIT API, by HTTP status", ["status"], registry=r
        )
        self.backend_latency = Histogram(
            "jit_bot_backend_request_seconds", "Latency of calls to the JIT API", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.sns = Counter(
            "jit_bot_sns_messages",
            "Messages on /sns, by type and verification outcome",
            ["type", "verification"],
            registry=r,
        )
        self.mattermost_calls = Counter(
            "jit_bot_mattermost_requests",
            "Mattermost REST calls, by HTTP status (each 429 attempt counts)",
            ["status"],
            registry=r,
        )
        self.dms_recovered = Counter(
            "jit_bot_dms_recovered",
            "Direct messages answered after a websocket reconnect (missed while away)",
            registry=r,
        )
        self._websocket_state: Callable[[], tuple[bool, int] | None] = lambda: None
        r.register(_WebsocketCollector(self._read_websocket))

    def watch_websocket(self, state: Callable[[], tuple[bool, int] | None]) -> None:
        """``state`` returns (connected, successful sessions so far), or None without a websocket."""
        self._websocket_state = state

    def _read_websocket(self) -> tuple[bool, int] | None:
        return self._websocket_state()

    def render(self) -> bytes:
        return generate_latest(self.registry)
