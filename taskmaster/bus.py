"""The event bus: who changed what, delivered to every subscriber.

`EventBus` is the protocol; `LocalBus` delivers within one process. Delivery is synchronous, in
the publisher's thread: every thread hand-off adds latency under the GIL, and subscribers (cache
invalidation, SSE queues) only do constant work. A subscriber that raises is logged and skipped;
it never breaks the publisher or the other subscribers.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
from collections.abc import Callable
from typing import Protocol

from taskmaster.events import Event

log = logging.getLogger(__name__)

Handler = Callable[[Event], None]
Unsubscribe = Callable[[], None]


class EventBus(Protocol):
    def publish(self, event: Event) -> None: ...

    def subscribe(self, handler: Handler, pattern: str = "*") -> Unsubscribe:
        """Call `handler` for every event whose kind matches the glob `pattern`."""
        ...

    def close(self) -> None: ...


class LocalBus:
    """In-process, thread-safe bus."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: tuple[tuple[Handler, str], ...] = ()

    def publish(self, event: Event) -> None:
        # A tuple swapped under the lock: publishers iterate without holding it.
        for handler, pattern in self._subscribers:
            if pattern == "*" or fnmatch.fnmatchcase(event.kind, pattern):
                try:
                    handler(event)
                except Exception:
                    log.exception("event subscriber %r failed on %s", handler, event.kind)

    def subscribe(self, handler: Handler, pattern: str = "*") -> Unsubscribe:
        entry = (handler, pattern)
        with self._lock:
            self._subscribers = (*self._subscribers, entry)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not entry)

        return unsubscribe

    def close(self) -> None:
        with self._lock:
            self._subscribers = ()
