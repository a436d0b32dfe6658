"""Rate limiting behind one small class, so the counting store can change without the API.

`limits` does the counting with a moving window: no burst of twice the limit at a window edge,
as a fixed window allows. The store comes from a URI: ``memory://`` counts per process (the
embedded default); ``redis://...`` makes several API instances share one budget.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from taskmaster.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int
    """Whole seconds until the window has room again (at least 1 when refused)."""

    def headers(self) -> dict[str, str]:
        """The RateLimit header fields (IETF httpapi draft), sent on every limited response."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_after),
        }


class RateLimiter:
    def __init__(self, limit: str, storage_uri: str = "memory://") -> None:
        try:
            self.item = parse(limit)
        except ValueError as err:
            raise InvalidInput(
                f"invalid rate limit {limit!r}: expected e.g. 100/minute ({err})"
            ) from None
        self.storage = storage_from_string(storage_uri)
        self._limiter = MovingWindowRateLimiter(self.storage)

    def hit(self, key: str) -> Decision:
        """Count one request for `key` and say whether it may go ahead."""
        allowed = self._limiter.hit(self.item, key)
        stats = self._limiter.get_window_stats(self.item, key)
        reset_after = max(0, math.ceil(stats.reset_time - time.time()))
        if not allowed:
            reset_after = max(1, reset_after)
        return Decision(allowed, self.item.amount, max(0, stats.remaining), reset_after)

    def reset(self) -> None:
        self.storage.reset()
