"""A short-lived cache in front of the identity store lookups every API call makes.

Identity Center allows 20 calls per second for the whole account and the adapter keeps to 10;
without this, a burst of requests queues behind the limiter. Membership changes apply within
``ttl_seconds``; authorisation still happens on every call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend.domain.ports import Directory


class CachedDirectory:
    def __init__(
        self, directory: Directory, ttl_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._directory = directory
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._users: dict[str, tuple[float, str]] = {}
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    def find_user_id(self, login: str) -> str:
        key = login.lower()
        with self._lock:
            hit = self._users.get(key)
        if hit is not None and self._clock() - hit[0] < self._ttl:
            return hit[1]
        user_id = self._directory.find_user_id(login)
        with self._lock:
            self._users[key] = (self._clock(), user_id)
        return user_id

    def group_names_for_user(self, user_id: str) -> frozenset[str]:
        with self._lock:
            hit = self._groups.get(user_id)
        if hit is not None and self._clock() - hit[0] < self._ttl:
            return hit[1]
        groups = self._directory.group_names_for_user(user_id)
        with self._lock:
            self._groups[user_id] = (self._clock(), groups)
        return groups

    def permission_set_arn(self, name: str) -> str:
        return self._directory.permission_set_arn(name)  # the adapter caches these itself
