"""`RedisLink`: one Redis server as this process sees it — a client, and whether it answers
(an `Outage`: one warning when it goes away, one when it is back, fail fast in between)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis

from taskmaster.outage import Outage

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
        self.client: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            health_check_interval=30,
        )
        self.outage = Outage(
            f"Redis at {redact(url)}",
            log,
            retry_after=retry_after,
            meanwhile="serving without it",
            back="using it",
        )
        self._listeners: list[Callable[[], None]] = []

    # state --------------------------------------------------------------------------------
    @property
    def up(self) -> bool:
        return not self.outage.down

    def describe(self) -> dict[str, Any]:
        """For /api/v1/health: the state and the last error, with the password left out."""
        return {"state": self.outage.state, "url": redact(self.url), "error": self.outage.error}

    def on_reconnect(self, listener: Callable[[], None]) -> None:
        """Call `listener` each time Redis answers again after it was down."""
        self._listeners.append(listener)

    def mark_up(self) -> None:
        if not self.outage.succeeded():
            return
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("reconnect listener %r failed", listener)

    def mark_down(self, error: BaseException) -> None:
        self.outage.failed(error)

    # calls --------------------------------------------------------------------------------
    def call(self, operation: Callable[[redis.Redis], T]) -> T:
        """Run `operation(client)`; RedisUnavailable if Redis fails or failed moments ago."""
        if not self.outage.should_try():
            raise RedisUnavailable(self.outage.error)
        try:
            result = operation(self.client)
        except REDIS_ERRORS as err:
            self.mark_down(err)
            raise RedisUnavailable(str(err)) from err
        self.mark_up()
        return result

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


def project_key(storage_key: str) -> str:
    """A short name for one project's store (its `Storage.key`), the same in every process
    that opens it, so that the instances of one project share channels and keys, and other
    projects on the same Redis never see them."""
    return hashlib.sha256(storage_key.encode()).hexdigest()[:16]
