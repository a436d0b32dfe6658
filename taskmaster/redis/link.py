"""`RedisLink`: one Redis server as this process sees it — a client, and whether it answers.

Redis is an accelerator here, never the source of truth, so every caller treats a failure as
"Redis is not there" and carries on without it. The link keeps the bookkeeping of that in one
place: it logs one warning when Redis goes away and one line when it is back (not one per
request), and after a failure it fails fast for `retry_after` seconds, so that an outage does
not add a socket timeout to every request of a busy server.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis

log = logging.getLogger("taskmaster.redis")

T = TypeVar("T")

# Loopback round trips take ~0.1 ms; a server that has not answered in 250 ms is as good as gone
# for a request that is waiting on it.
SOCKET_TIMEOUT = 0.25
RETRY_AFTER = 1.0
REDIS_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)


class RedisUnavailable(ConnectionError):
    """Redis could not be used just now; the caller falls back to working without it."""


class RedisLink:
    def __init__(
        self,
        url: str,
        *,
        socket_timeout: float = SOCKET_TIMEOUT,
        retry_after: float = RETRY_AFTER,
    ) -> None:
        self.url = url
        self.retry_after = retry_after
        self.client: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            health_check_interval=30,
        )
        self._lock = threading.Lock()
        self._up: bool | None = None  # None: not tried yet
        self._error: str | None = None
        self._failed_at = 0.0
        self._listeners: list[Callable[[], None]] = []

    # state --------------------------------------------------------------------------------
    @property
    def up(self) -> bool:
        return self._up is not False

    def describe(self) -> dict[str, Any]:
        """For /api/v1/health: the state and the last error, with the password left out."""
        state = "unknown" if self._up is None else ("up" if self._up else "down")
        return {"state": state, "url": redact(self.url), "error": self._error}

    def on_reconnect(self, listener: Callable[[], None]) -> None:
        """Call `listener` each time Redis answers again after it was down."""
        self._listeners.append(listener)

    def mark_up(self) -> None:
        with self._lock:
            was_down = self._up is False
            self._up, self._error = True, None
        if was_down:
            log.warning("Redis at %s answers again; using it", redact(self.url))
            for listener in list(self._listeners):
                try:
                    listener()
                except Exception:
                    log.exception("reconnect listener %r failed", listener)

    def mark_down(self, error: BaseException) -> None:
        with self._lock:
            was_up = self._up is not False
            self._up, self._error = False, f"{type(error).__name__}: {error}"
            self._failed_at = time.monotonic()
        if was_up:
            log.warning(
                "Redis at %s is unreachable (%s); serving without it until it is back",
                redact(self.url),
                self._error,
            )

    # calls --------------------------------------------------------------------------------
    def call(self, operation: Callable[[redis.Redis], T]) -> T:
        """Run `operation(client)`; RedisUnavailable if Redis fails or failed moments ago."""
        if self._up is False and time.monotonic() - self._failed_at < self.retry_after:
            raise RedisUnavailable(self._error)
        try:
            result = operation(self.client)
        except REDIS_ERRORS as err:
            self.mark_down(err)
            raise RedisUnavailable(str(err)) from err
        if self._up is not True:
            self.mark_up()
        return result

    def ping(self) -> bool:
        try:
            return bool(self.call(lambda client: client.ping()))
        except RedisUnavailable:
            return False

    def close(self) -> None:
        self.client.close()


def redact(url: str) -> str:
    """The URL without its password: it goes into logs and health answers."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.hostname or ""
    netloc = f"{parts.username}:***@{netloc}" if parts.username else f":***@{netloc}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def project_key(tasks_file: str) -> str:
    """A short name for one task file, the same in every process that opens it, so that the
    instances of one project share channels and keys, and other projects on the same Redis
    never see them."""
    return hashlib.sha256(tasks_file.encode()).hexdigest()[:16]
