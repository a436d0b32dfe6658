"""Rate limiting behind one small class, so the counting store can change without the API.

`limits` does the counting with a moving window: no burst of twice the limit at a window edge,
as a fixed window allows. The store comes from a URI: ``memory://`` counts per process (the
embedded default); ``redis://...`` makes several API instances share one budget.

A shared store can go away. What happens then is a setting (`fallback`), because the right
answer depends on why the limit exists:

    open    allow every request until the store is back (default: availability first)
    local   count in this process's memory meanwhile (each instance keeps its own budget)
    closed  refuse with 503 until the store is back (the limit protects something fragile)
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from taskmaster.config import RATE_LIMIT_FALLBACKS
from taskmaster.errors import InvalidInput
from taskmaster.outage import Outage

log = logging.getLogger("taskmaster.ratelimit")

# After the store failed, it is tried again at most this often: an outage must not add a
# connection timeout to every request.
RETRY_AFTER = 1.0


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int
    """Whole seconds until the window has room again (at least 1 when refused)."""
    counted: bool = True
    """False when nothing counted the request (the store was down and the fallback is open)."""

    def headers(self) -> dict[str, str]:
        """The RateLimit header fields (IETF httpapi draft), sent on every limited response."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_after),
        }


class LimiterUnavailable(ConnectionError):
    """The shared store is unreachable and the fallback is `closed`."""


class RateLimiter:
    def __init__(
        self, limit: str, storage_uri: str = "memory://", *, fallback: str = "open"
    ) -> None:
        try:
            self.item: RateLimitItem = parse(limit)
        except ValueError as err:
            raise InvalidInput(
                f"invalid rate limit {limit!r}: expected e.g. 100/minute ({err})"
            ) from None
        if fallback not in RATE_LIMIT_FALLBACKS:
            choices = ", ".join(RATE_LIMIT_FALLBACKS)
            raise InvalidInput(f"invalid rate-limit fallback {fallback!r}: expected {choices}")
        self.fallback = fallback
        self.storage_uri = storage_uri
        shared = not storage_uri.startswith("memory://")
        options = {"socket_timeout": 0.25, "socket_connect_timeout": 0.25} if shared else {}
        self.storage = storage_from_string(storage_uri, wrap_exceptions=True, **options)
        self._limiter = MovingWindowRateLimiter(self.storage)
        self._local_storage = MemoryStorage()
        self._local = MovingWindowRateLimiter(self._local_storage)
        self.outage = Outage(
            "the rate-limit store",
            log,
            retry_after=RETRY_AFTER,
            meanwhile=f"rate-limit fallback {fallback!r}",
            back="one budget for all instances",
        )

    @property
    def store_up(self) -> bool:
        return not self.outage.down

    def hit(self, key: str) -> Decision:
        """Count one request for `key` and say whether it may go ahead.

        Raises LimiterUnavailable when the shared store is down and the fallback is `closed`.
        """
        if self.outage.should_try():
            try:
                decision = self._decide(self._limiter, key)
            except StorageError as err:  # wrap_exceptions: every store error becomes this
                self.outage.failed(err)
            else:
                self.outage.succeeded()
                return decision
        if self.fallback == "open":
            return Decision(True, self.item.amount, self.item.amount, 0, counted=False)
        if self.fallback == "local":
            return self._decide(self._local, key)
        raise LimiterUnavailable(f"the rate-limit store {self.storage_uri} is unreachable")

    def _decide(self, limiter: MovingWindowRateLimiter, key: str) -> Decision:
        allowed = limiter.hit(self.item, key)
        stats = limiter.get_window_stats(self.item, key)
        reset_after = max(0, math.ceil(stats.reset_time - time.time()))
        if not allowed:
            reset_after = max(1, reset_after)
        return Decision(allowed, self.item.amount, max(0, stats.remaining), reset_after)

    def reset(self) -> None:
        self.storage.reset()
        self._local_storage.reset()
