"""The server's settings: one `Config`, read from `TM_*` variables and flags at the edges only.

The core never reads the environment; `tm serve` (and any other entry point that builds the
API) calls `Config.from_env(os.environ)` once and overrides what its flags say. Importing this
module is cheap on purpose: the CLI imports it without pulling in the web stack.

    TM_HOST, TM_PORT, TM_THREADS        where and how wide the server listens
    TM_RATE_LIMIT                       e.g. "100/minute"; unset or empty: no limit
    TM_RATE_LIMIT_STORAGE               limits storage URI ("memory://", "redis://host:6379");
                                        default: TM_REDIS_URL when set, else memory
    TM_RATE_LIMIT_FALLBACK              when that store is unreachable: open | local | closed
    TM_REDIS_URL                        Redis shared by all instances: events, L2 cache, limits
    TM_API_TOKEN                        bearer token required for writes; unset: open
    TM_MAX_BODY_BYTES                   largest accepted request body (default 1 MiB); a
                                        larger one is refused from its headers, unread
    TM_CONNECTION_LIMIT                 open connections (default 500); at the limit the
                                        idlest connection is closed to make room
    TM_IDLE_TIMEOUT                     seconds a connection may neither send nor read
                                        before it is closed (default 30)
    TM_SEND_BUFFER_BYTES                unread answer bytes a connection may hold before its
                                        next pipelined request waits for the client (1 MiB)
    TM_CACHE                            "0"/"false"/"off" disables the response cache
    TM_CACHE_TTL, TM_CACHE_MAXSIZE      response cache bounds
    TM_WATCH                            "0" stops the directory watcher (changes then reach
                                        the cache by revision checks and Redis events only)
    TM_SSE_HEARTBEAT                    seconds between heartbeat comments on /api/v1/events
    TM_SSE_MAX_CLIENTS                  concurrent event streams (each holds a server
                                        thread); default: half the threads
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from taskmaster.errors import InvalidInput

T = TypeVar("T")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_THREADS = 8
DEFAULT_MAX_BODY_BYTES = 1 << 20
DEFAULT_CONNECTION_LIMIT = 500
DEFAULT_IDLE_TIMEOUT = 30
DEFAULT_SEND_BUFFER_BYTES = 1 << 20
MIN_SEND_BUFFER_BYTES = 4096

RATE_LIMIT_FALLBACKS = ("open", "local", "closed")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class Config:
    host: str = DEFAULT_HOST
    """Loopback unless told otherwise: the API has no authentication for reads."""
    port: int = DEFAULT_PORT
    threads: int = DEFAULT_THREADS
    rate_limit: str | None = None
    """A `limits` string such as ``100/minute``; None disables rate limiting."""
    rate_limit_storage_uri: str | None = None
    """Where the limiter counts: memory (per process) or e.g. ``redis://`` (shared); None
    means the Redis of `redis_url` when there is one, else memory."""
    rate_limit_fallback: str = "open"
    """What the limiter does while a shared store is unreachable: open, local or closed."""
    redis_url: str | None = None
    """Redis shared by every instance of the project: events, L2 cache and the rate limit."""
    api_token: str | None = None
    """When set, POST/PUT/PATCH/DELETE need ``Authorization: Bearer <token>``."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    connection_limit: int = DEFAULT_CONNECTION_LIMIT
    """Open connections; at the limit the one idle the longest is closed for a new one."""
    idle_timeout: int = DEFAULT_IDLE_TIMEOUT
    """Seconds a connection may go without receiving or sending a byte (outside a running
    request that is still working) before it is closed."""
    send_buffer_bytes: int = DEFAULT_SEND_BUFFER_BYTES
    """Answer bytes buffered for a client that reads slowly; past them its next pipelined
    request waits, without holding a thread, until the client has read."""
    cache_enabled: bool = True
    cache_ttl: float = 300.0
    cache_maxsize: int = 1024
    watch: bool = True
    """Start the directory watcher, so other processes' changes become events."""
    sse_heartbeat: float = 15.0
    sse_queue_size: int = 256
    sse_max_clients: int | None = None
    """None: half the server threads, so event streams can never starve ordinary requests."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise InvalidInput(f"invalid port {self.port}: expected 0-65535")
        if self.threads < 1:
            raise InvalidInput(f"invalid thread count {self.threads}: expected at least 1")
        if self.max_body_bytes < 0:
            raise InvalidInput("max_body_bytes cannot be negative")
        if self.connection_limit < 1:
            raise InvalidInput(
                f"invalid connection limit {self.connection_limit}: expected at least 1"
            )
        if self.idle_timeout < 1:
            raise InvalidInput(
                f"invalid idle timeout {self.idle_timeout}: expected at least 1 second"
            )
        if self.send_buffer_bytes < MIN_SEND_BUFFER_BYTES:
            raise InvalidInput(
                f"invalid send buffer {self.send_buffer_bytes}: expected at least "
                f"{MIN_SEND_BUFFER_BYTES} bytes"
            )
        if self.sse_heartbeat <= 0:
            raise InvalidInput("sse_heartbeat must be positive")
        if self.sse_max_clients is not None and self.sse_max_clients < 0:
            raise InvalidInput(
                f"invalid event stream limit {self.sse_max_clients}: expected 0 or more"
            )
        if self.rate_limit_fallback not in RATE_LIMIT_FALLBACKS:
            raise InvalidInput(
                f"invalid rate-limit fallback {self.rate_limit_fallback!r}: expected one of "
                + ", ".join(RATE_LIMIT_FALLBACKS)
            )
        if self.redis_url is not None and not self.redis_url.startswith(REDIS_SCHEMES):
            raise InvalidInput(
                f"invalid Redis URL {self.redis_url!r}: expected redis://, rediss:// or unix://"
            )

    @property
    def limiter_storage_uri(self) -> str:
        if self.rate_limit_storage_uri is not None:
            return self.rate_limit_storage_uri
        return self.redis_url or "memory://"

    @property
    def event_stream_limit(self) -> int:
        if self.sse_max_clients is not None:
            return self.sse_max_clients
        return self.threads // 2

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Config:
        """Settings from `TM_*` variables; `overrides` (flags) win, None meaning "not given"."""
        values: dict[str, Any] = {}
        readers: dict[str, tuple[str, Callable[[str, str], Any]]] = {
            "host": ("TM_HOST", _text),
            "port": ("TM_PORT", _integer),
            "threads": ("TM_THREADS", _integer),
            "rate_limit": ("TM_RATE_LIMIT", _optional_text),
            "rate_limit_storage_uri": ("TM_RATE_LIMIT_STORAGE", _text),
            "rate_limit_fallback": ("TM_RATE_LIMIT_FALLBACK", _text),
            "redis_url": ("TM_REDIS_URL", _optional_text),
            "api_token": ("TM_API_TOKEN", _optional_text),
            "max_body_bytes": ("TM_MAX_BODY_BYTES", _integer),
            "connection_limit": ("TM_CONNECTION_LIMIT", _integer),
            "idle_timeout": ("TM_IDLE_TIMEOUT", _integer),
            "send_buffer_bytes": ("TM_SEND_BUFFER_BYTES", _integer),
            "cache_enabled": ("TM_CACHE", _boolean),
            "cache_ttl": ("TM_CACHE_TTL", _number),
            "cache_maxsize": ("TM_CACHE_MAXSIZE", _integer),
            "watch": ("TM_WATCH", _boolean),
            "sse_heartbeat": ("TM_SSE_HEARTBEAT", _number),
            "sse_max_clients": ("TM_SSE_MAX_CLIENTS", _integer),
        }
        for name, (variable, parse) in readers.items():
            raw = environ.get(variable)
            if raw is not None:
                values[name] = parse(variable, raw)
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    def replace(self, **changes: Any) -> Config:
        """A copy with `changes` applied; None values are ignored (a flag not given)."""
        return dataclasses.replace(
            self, **{key: value for key, value in changes.items() if value is not None}
        )


def _text(variable: str, raw: str) -> str:
    if not raw.strip():
        raise InvalidInput(f"{variable} is empty")
    return raw.strip()


def _optional_text(variable: str, raw: str) -> str | None:
    return raw.strip() or None


def _integer(variable: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{variable}={raw!r} is not an integer") from None


def _number(variable: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise InvalidInput(f"{variable}={raw!r} is not a number") from None


def _boolean(variable: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidInput(f"{variable}={raw!r} is not a boolean (use 1/0, true/false, on/off)")


__all__ = [
    "DEFAULT_CONNECTION_LIMIT",
    "DEFAULT_HOST",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_PORT",
    "DEFAULT_SEND_BUFFER_BYTES",
    "RATE_LIMIT_FALLBACKS",
    "Config",
]
