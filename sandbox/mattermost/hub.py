"""Websocket fan-out: events are queued per connection and numbered 1, 2, ... by the sender.

`publish` may be called from any thread (REST handlers, the test thread's act-as calls); it hops
onto the server's event loop with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    event: str
    data: dict[str, Any]
    broadcast: dict[str, Any]


@dataclass
class Connection:
    user_id: str
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)


class Hub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: list[Connection] = []
        self.log: list[tuple[str, Event]] = []  # (user_id, event) for tests without a socket

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            self._loop = loop
            self._connections = []

    def add(self, connection: Connection) -> None:
        with self._lock:
            self._connections.append(connection)

    def remove(self, connection: Connection) -> None:
        with self._lock:
            if connection in self._connections:
                self._connections.remove(connection)

    def connection_count(self) -> int:
        with self._lock:
            return len(self._connections)

    def publish(self, user_ids: set[str], event: str, data: dict[str, Any], **broadcast: Any) -> None:
        envelope = {
            "omit_users": None,
            "user_id": broadcast.get("user_id", ""),
            "channel_id": broadcast.get("channel_id", ""),
            "team_id": broadcast.get("team_id", ""),
        }
        message = Event(event, data, envelope)
        with self._lock:
            self.log.extend((user_id, message) for user_id in sorted(user_ids))
            targets = [c for c in self._connections if c.user_id in user_ids]
            loop = self._loop
        if loop is None or loop.is_closed():
            return
        for connection in targets:
            loop.call_soon_threadsafe(connection.queue.put_nowait, message)

    def close_all(self) -> None:
        """Tell every sender to close its socket (restart/stop)."""
        with self._lock:
            targets = list(self._connections)
            loop = self._loop
        if loop is None or loop.is_closed():
            return
        for connection in targets:
            loop.call_soon_threadsafe(connection.queue.put_nowait, None)

    def events_for(self, user_id: str, name: str | None = None) -> list[Event]:
        with self._lock:
            return [e for uid, e in self.log if uid == user_id and (name is None or e.event == name)]
