"""`RedisL2Cache`: serialised responses shared by every API instance of one project.

The revision is part of every key, so an entry built from one revision can only ever be found
by a reader that is at that same revision: there is nothing to invalidate, and an old entry
simply expires (TTL). The in-process cache (L1) stays in front; this is asked only on an L1
miss, which after a change saves all but one instance the work of parsing and serialising.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from taskmaster.redis.link import RedisLink, RedisUnavailable, project_key

DEFAULT_TTL_SECONDS = 300


@dataclass(slots=True)
class L2Stats:
    hits: int = 0
    misses: int = 0
    errors: int = 0
    """Lookups and stores that failed because Redis was unavailable (counted, then skipped)."""


class RedisL2Cache:
    def __init__(
        self, link: RedisLink, storage_key: str, *, ttl_seconds: int = DEFAULT_TTL_SECONDS
    ) -> None:
        self.link = link
        self.prefix = f"taskmaster:{project_key(storage_key)}:cache:"
        self.ttl_seconds = max(1, int(ttl_seconds))
        self.stats = L2Stats()
        self._stats_lock = threading.Lock()  # `+=` from several server threads can lose counts

    def key(self, key: str, revision: int) -> str:
        return f"{self.prefix}{revision}:{key}"

    def get(self, key: str, revision: int) -> bytes | None:
        try:
            value = self.link.call(lambda client: client.get(self.key(key, revision)))
        except RedisUnavailable:
            self._count("errors")
            return None
        if value is None:
            self._count("misses")
            return None
        self._count("hits")
        return value if isinstance(value, bytes) else value.encode()

    def put(self, key: str, revision: int, value: bytes) -> None:
        try:
            self.link.call(
                lambda client: client.set(self.key(key, revision), value, ex=self.ttl_seconds)
            )
        except RedisUnavailable:
            self._count("errors")

    def _count(self, name: str) -> None:
        with self._stats_lock:
            setattr(self.stats, name, getattr(self.stats, name) + 1)
