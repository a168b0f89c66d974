"""A small per-process cache for hot-path lookups that may be a few seconds stale."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Each value is kept `ttl_s` seconds (0: never kept, every get loads).

    Bounded by clearing everything past `max_entries`: simpler than LRU, and a refill costs
    one query per key. Reads take no lock; two threads may load the same key at once,
    which only costs a duplicate query.
    """

    def __init__(
        self,
        ttl_s: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self._ttl_s, self._monotonic, self._max_entries = ttl_s, monotonic, max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K, load: Callable[[], V]) -> V:
        now = self._monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = load()
        if self._ttl_s > 0:
            with self._lock:
                if len(self._entries) >= self._max_entries:
                    self._entries.clear()
                self._entries[key] = (now + self._ttl_s, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
