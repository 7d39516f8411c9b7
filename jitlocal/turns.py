"""Turns: at most ``limit`` threads hold one at once; the others wait in arrival order.

The local stack runs every Lambda task in one Python process. A turn is taken when a state
machine execution wakes from a Wait (or when a task is invoked) and given back when the task
ends, so that a hundred executions waking in the same second run a few at a time, in order, each
with the interpreter mostly to itself, instead of a hundred at once at a hundredth of the speed.
A turn held by a thread that has ended without giving it back is reclaimed.
"""

from __future__ import annotations

import threading
from collections import deque

_RECLAIM_EVERY = 0.5  # s: how often a waiting thread checks for turns left by ended threads


class Turns:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._limit = limit
        self._lock = threading.Lock()
        self._holders: set[threading.Thread] = set()
        self._waiting: deque[tuple[threading.Thread, threading.Event]] = deque()

    def take(self) -> None:
        """Wait for a turn (at once if this thread already holds one)."""
        me = threading.current_thread()
        with self._lock:
            if me in self._holders:
                return
            if len(self._holders) < self._limit and not self._waiting:
                self._holders.add(me)
                return
            given = threading.Event()
            self._waiting.append((me, given))
        while not given.wait(_RECLAIM_EVERY):
            self._reclaim()

    def give_back(self) -> None:
        """Give this thread's turn to the longest waiting thread (nothing if it holds none)."""
        with self._lock:
            self._holders.discard(threading.current_thread())
            self._hand_on()

    def _reclaim(self) -> None:
        with self._lock:
            self._holders = {thread for thread in self._holders if thread.is_alive()}
            self._hand_on()

    def _hand_on(self) -> None:
        while self._waiting and len(self._holders) < self._limit:
            thread, given = self._waiting.popleft()
            self._holders.add(thread)
            given.set()
