"""A response cache that events invalidate and that can never serve a stale entry.

Events make invalidation fast; the revision check makes it correct. Every entry carries the
revision of the document it was built from, and a read only uses it when that is still the
store's current revision. So a lost, late or duplicated event costs at most a rebuild, never a
stale answer. An entry built from a revision older than one already seen is not installed.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from cachetools import TTLCache

from taskmaster.events import Event

V = TypeVar("V")

DEFAULT_MAXSIZE = 1024
DEFAULT_TTL = 300.0


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V
    revision: int


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    invalidations: int = 0
    """Entries dropped by events or pattern clears."""
    refused: int = 0
    """Builds not installed because a newer revision had already been seen."""


class RevisionCache(Generic[V]):
    def __init__(
        self,
        current_revision: Callable[[], int],
        *,
        maxsize: int = DEFAULT_MAXSIZE,
        ttl: float = DEFAULT_TTL,
        enabled: bool = True,
    ) -> None:
        self._current_revision = current_revision
        self._entries: TTLCache[str, _Entry[V]] = TTLCache(maxsize=maxsize, ttl=ttl)
        self._lock = threading.Lock()  # cachetools caches are not thread-safe
        self._newest = 0
        self.enabled = enabled
        self.stats = CacheStats()

    def get_or_build(self, key: str, build: Callable[[], tuple[V, int]]) -> tuple[V, int]:
        """The value for `key` at the current revision, built (and cached) when needed.

        `build` returns the value and the revision it was built from.
        """
        if not self.enabled:
            return build()
        revision = self._current_revision()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.revision == revision:
                self.stats.hits += 1
                return entry.value, entry.revision
            self.stats.misses += 1
        value, built = build()
        with self._lock:
            if built >= self._newest:
                self._newest = built
                self._entries[key] = _Entry(value, built)
            else:
                self.stats.refused += 1
        return value, built

    def clear_pattern(self, pattern: str) -> int:
        """Drop every entry whose key matches the glob `pattern`; returns how many."""
        with self._lock:
            doomed = [key for key in self._entries if fnmatch.fnmatchcase(key, pattern)]
            for key in doomed:
                del self._entries[key]
            self.stats.invalidations += len(doomed)
            return len(doomed)

    def clear(self) -> int:
        return self.clear_pattern("*")

    def on_event(self, event: Event) -> None:
        """Bus subscriber: every change event invalidates what was built before it."""
        with self._lock:
            self._newest = max(self._newest, event.revision)
        self.clear_pattern("*")

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
