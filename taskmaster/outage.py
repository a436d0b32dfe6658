"""`Outage`: whether a helper service (Redis, a shared rate-limit store) answers, as this
process sees it.

Such a service is an accelerator, never the source of truth: callers treat a failure as "not
there" and carry on without it. This keeps the bookkeeping in one place: one warning when the
service goes away and one when it is back (not one per request), and after a failure
`should_try()` says no for `retry_after` seconds, so that an outage does not add a connection
timeout to every request of a busy server.
"""

from __future__ import annotations

import logging
import threading
import time


class Outage:
    def __init__(
        self, what: str, log: logging.Logger, *, retry_after: float, meanwhile: str, back: str
    ) -> None:
        """`what` names the service in the two log lines; `meanwhile` says what happens while
        it is gone, `back` what happens again once it answers."""
        self.what = what
        self.retry_after = retry_after
        self._log = log
        self._meanwhile = meanwhile
        self._back = back
        self._lock = threading.Lock()
        self._up: bool | None = None  # None: not tried yet
        self._failed_at = 0.0
        self.error: str | None = None
        """The last failure, while the service is down."""

    @property
    def state(self) -> str:
        """ "unknown" before the first answer or failure, then "up" or "down"."""
        return "unknown" if self._up is None else ("up" if self._up else "down")

    @property
    def down(self) -> bool:
        return self._up is False

    def should_try(self) -> bool:
        """False for `retry_after` seconds after a failure: fail fast meanwhile."""
        return self._up is not False or time.monotonic() - self._failed_at >= self.retry_after

    def failed(self, error: BaseException) -> None:
        with self._lock:
            was_up = self._up is not False
            self._up, self.error = False, f"{type(error).__name__}: {error}"
            self._failed_at = time.monotonic()
        if was_up:
            self._log.warning(
                "%s is unreachable (%s); %s until it is back",
                self.what,
                self.error,
                self._meanwhile,
            )

    def succeeded(self) -> bool:
        """Record an answer; True when it ends an outage (the caller may resynchronise)."""
        if self._up is True:
            return False
        with self._lock:
            was_down = self._up is False
            self._up, self.error = True, None
        if was_down:
            self._log.warning("%s answers again; %s", self.what, self._back)
        return was_down
