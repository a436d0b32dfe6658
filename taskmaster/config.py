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
    TM_API_TOKENS                       more tokens, each with a name: "name1:token1,name2:
                                        token2"; a write is journaled with its token's name
                                        as actor (TM_API_TOKEN's name is "api")
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

Read by every front end (`storage_settings`, `check_actor`), not only the server:

    TM_ACTOR                            who the journal says writes through `tm` (`tm
                                        --actor` wins; default user@host)
    TM_JOURNAL_KEEP                     journal entries kept (default 10000); older ones go
                                        once it holds twice as many
    TM_JOURNAL_MAX_AGE                  when set, compacting also drops entries older than
                                        this: seconds, or 30d, 12h, 1d12h, 90m
    TM_REFERENCE_LOCK                   "0"/"false"/"off": writes of a task file no longer
                                        also hold task-master-ai's `tasks.json.lock` (on by
                                        default; turn it off only for projects the reference
                                        tool never writes)
"""

from __future__ import annotations

import dataclasses
import re
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

ACTOR_ENV = "TM_ACTOR"
JOURNAL_KEEP_ENV = "TM_JOURNAL_KEEP"
JOURNAL_MAX_AGE_ENV = "TM_JOURNAL_MAX_AGE"
REFERENCE_LOCK_ENV = "TM_REFERENCE_LOCK"
MAX_ACTOR_LENGTH = 200

_AGE = re.compile(
    r"(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?"
)
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
    api_tokens: tuple[tuple[str, str], ...] = ()
    """More write tokens, as (name, token): any of them (or `api_token`, named "api") lets a
    request write, and its name is the actor the journal records."""
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
        _check_tokens(self.api_token, self.api_tokens)
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
            "api_tokens": ("TM_API_TOKENS", _named_tokens),
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


def parse_age(raw: str, name: str = JOURNAL_MAX_AGE_ENV) -> float:
    """An age in seconds: a number of seconds, or days/hours/minutes/seconds such as ``30d``,
    ``12h``, ``1d12h``, ``90m``; more than zero."""
    text = raw.strip().lower()
    seconds: float | None = None
    try:
        seconds = float(text)
    except ValueError:
        match = _AGE.fullmatch(text)
        if match and text and any(match.groups()):
            days, hours, minutes, secs = (float(part or 0) for part in match.groups())
            seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs
    # `not 0 < seconds` also refuses NaN; infinity is no age either
    if seconds is None or not 0 < seconds < float("inf"):
        raise InvalidInput(
            f"{name}={raw!r} is no age: give seconds, or 30d, 12h, 1d12h, 90m (more than 0)"
        )
    return seconds


def journal_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """The journal's retention from `TM_JOURNAL_KEEP` and `TM_JOURNAL_MAX_AGE`, as keyword
    arguments of `taskmaster.compose.Settings` (only those set; a bad one: InvalidInput)."""
    values: dict[str, Any] = {}
    keep = environ.get(JOURNAL_KEEP_ENV)
    if keep is not None and keep.strip():
        count = _integer(JOURNAL_KEEP_ENV, keep)
        if count < 1:
            raise InvalidInput(f"{JOURNAL_KEEP_ENV}={keep!r}: expected at least 1 entry")
        values["journal_keep"] = count
    age = environ.get(JOURNAL_MAX_AGE_ENV)
    if age is not None and age.strip():
        values["journal_max_age_s"] = parse_age(age)
    return values


def storage_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """What every front end reads of how a project's storage is opened: the journal's
    retention (`journal_settings`) and `TM_REFERENCE_LOCK`, as keyword arguments of
    `taskmaster.compose.Settings` (only those set; a bad one: InvalidInput)."""
    values = journal_settings(environ)
    reference_lock = environ.get(REFERENCE_LOCK_ENV)
    if reference_lock is not None and reference_lock.strip():
        values["reference_lock"] = _boolean(REFERENCE_LOCK_ENV, reference_lock)
    return values


def check_actor(raw: str, name: str = ACTOR_ENV) -> str:
    """An actor's name as the journal records it: one line of printable text, at most
    `MAX_ACTOR_LENGTH` characters, surrounding spaces removed."""
    actor = raw.strip()
    if not actor:
        raise InvalidInput(f"{name} is empty: give one such as alice or ci-bot")
    if not actor.isprintable():
        raise InvalidInput(f"{name} {raw!r} has control characters: give one line of text")
    if len(actor) > MAX_ACTOR_LENGTH:
        raise InvalidInput(f"{name} is longer than {MAX_ACTOR_LENGTH} characters")
    return actor


def _text(variable: str, raw: str) -> str:
    if not raw.strip():
        raise InvalidInput(f"{variable} is empty")
    return raw.strip()


def _optional_text(variable: str, raw: str) -> str | None:
    return raw.strip() or None


API_TOKEN_NAME = "api"
"""The actor name of `TM_API_TOKEN`'s writes."""
TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
"""What a token's name may be: it becomes the actor of the journal's entries."""


def _named_tokens(variable: str, raw: str) -> tuple[tuple[str, str], ...]:
    """``name1:token1,name2:token2`` as (name, token) pairs; empty means none. A message
    never shows a token: it goes to logs and terminals."""
    if not raw.strip():
        return ()
    pairs = []
    for number, part in enumerate(raw.split(","), start=1):
        name, colon, token = part.strip().partition(":")
        if not part.strip():
            raise InvalidInput(f"{variable}: entry {number} is empty (expected name:token)")
        if not colon or not token.strip():
            raise InvalidInput(
                f"{variable}: entry {number} ({name.strip()!r}) is not name:token"
                if colon
                else f"{variable}: entry {number} has no ':' (expected name:token)"
            )
        pairs.append((name.strip(), token.strip()))
    return tuple(pairs)


def _check_tokens(api_token: str | None, named: tuple[tuple[str, str], ...]) -> None:
    """Names an actor can have, each once; tokens without spaces, each naming one actor."""
    names: set[str] = {API_TOKEN_NAME} if api_token else set()
    tokens: set[str] = {api_token} if api_token else set()
    for number, (name, token) in enumerate(named, start=1):
        where = f"TM_API_TOKENS entry {number}"
        if not TOKEN_NAME.fullmatch(name):
            raise InvalidInput(
                f"{where}: invalid token name {name!r}: 1-64 letters, digits and . _ @ + -, "
                "starting with a letter or digit"
            )
        if name in names:
            clash = " (TM_API_TOKEN's name)" if name == API_TOKEN_NAME and api_token else ""
            raise InvalidInput(f"{where}: the name {name!r}{clash} is given twice")
        if not token or any(char.isspace() for char in token):
            raise InvalidInput(f"{where} ({name!r}): a token cannot be empty or contain spaces")
        if token in tokens:
            raise InvalidInput(
                f"{where} ({name!r}): its token is also another name's: each token must name "
                "one actor"
            )
        names.add(name)
        tokens.add(token)


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
    "ACTOR_ENV",
    "API_TOKEN_NAME",
    "DEFAULT_CONNECTION_LIMIT",
    "DEFAULT_HOST",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_PORT",
    "DEFAULT_SEND_BUFFER_BYTES",
    "RATE_LIMIT_FALLBACKS",
    "JOURNAL_KEEP_ENV",
    "JOURNAL_MAX_AGE_ENV",
    "REFERENCE_LOCK_ENV",
    "Config",
    "check_actor",
    "journal_settings",
    "parse_age",
    "storage_settings",
]
