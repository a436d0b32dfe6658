"""What every resource shares, and the two shapes of a response: a cached read and a write.

Reads: the body is serialised once (orjson) and the bytes are cached in the `RevisionCache`
under ``GET:<path>?<sorted query>``, so a hit costs the revision and state checks and a dict
lookup. The cache checks the entry's revision against the file's on every hit, which is what
makes it correct even when an invalidation event is lost; events only make misses happen
sooner. In a server whose storage keeps a change epoch, a read repeated while nothing changed
is answered before its handler runs (`quiet_answers`).

Writes: a command runs with the request's `If-Match` as its expected revision, so "the project
is still at the revision you saw" is checked under the same lock as the write itself; and with
its `Claim-Token` as the fencing token, so "my claim on this task is still live" is checked
there too (a holder whose lease ran out cannot write over the task's new holder). Its journal
entry names the request's token (see `actors`) as the writer, via "api".
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import falcon
import orjson

from taskmaster.api.actors import origin_of
from taskmaster.api.problems import Problem, invalid
from taskmaster.api.quiet_answers import QuietAnswers, request_key
from taskmaster.cache import RevisionCache
from taskmaster.commands import Command
from taskmaster.compose import Project
from taskmaster.config import Config
from taskmaster.core import TaskMaster
from taskmaster.errors import BadArgument
from taskmaster.kinds import TOKEN
from taskmaster.storage import ChangeFeed

if TYPE_CHECKING:
    from taskmaster.api.metrics import Metrics
    from taskmaster.api.sse import EventHub

T = TypeVar("T")

JSON = "application/json"
CLAIM_TOKEN = "Claim-Token"
"""The request header carrying a write's fencing token (a claim's `token`)."""


@dataclass
class ApiState:
    project: Project
    config: Config
    cache: RevisionCache[bytes]
    metrics: Metrics
    hub: EventHub
    watcher: ChangeFeed | None = None
    answers: QuietAnswers | None = None
    """Answers kept for the storage's current change epoch (None: every read is checked)."""
    closers: list[Callable[[], None]] = field(default_factory=list)
    _closed: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def core(self) -> TaskMaster:
        return self.project.core

    def file_location(self) -> dict[str, str]:
        """`tasksFile` for health, when the project is stored in files."""
        paths = self.project.paths
        return {"tasksFile": str(paths.tasks_file)} if paths is not None else {}

    def store_info(self) -> dict[str, Any]:
        """`store` for health: the backend and where it keeps the project (no password)."""
        storage = self.core.storage
        info: dict[str, Any] = {**storage.describe(), "key": storage.key}
        if self.project.named_by is not None:
            info["projectFile"] = str(self.project.named_by)
        return info

    # reads ---------------------------------------------------------------------------------
    def tag_or_current(self, tag: str | None) -> str:
        """The tag a request means. The current tag may be changed by another program without
        a new revision (the reference tool writes state.json), so it is resolved per request
        and becomes part of the cache key."""
        return tag if tag is not None else self.core.current_tag()

    def cached(
        self, path: str, params: Mapping[str, object], build: Callable[[], tuple[Any, int]]
    ) -> tuple[bytes, int]:
        """The serialised body and its revision, from the cache or built (and cached) now.

        `build` returns a JSON-able value and a revision no newer than the value: a read that
        races a write then labels newer content with an older revision, which only costs a
        miss later, never a stale hit.
        """

        def build_bytes() -> tuple[bytes, int]:
            value, revision = build()
            return orjson.dumps(value), revision

        return self.cache.get_or_build(cache_key(path, params), build_bytes)

    def respond_read(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        path: str,
        params: Mapping[str, object],
        build: Callable[[], tuple[Any, int]],
    ) -> None:
        body, revision = self.cached(path, params, build)
        epoch = getattr(req.context, "quiet_epoch", None)
        if epoch is not None and self.answers is not None:
            self.answers.remember(request_key(req), epoch, body, revision)
        answer(req, resp, body, revision)

    def answer_again(
        self, req: falcon.Request, resp: falcon.Response, body: bytes, revision: int
    ) -> None:
        """A kept answer (`quiet_answers`), counted as the cache hit it stands for."""
        self.cache.count_hit()
        answer(req, resp, body, revision)

    def redis_health(self) -> dict[str, Any]:
        """Redis's part of /api/v1/health: "disabled" in the embedded default."""
        link = self.project.redis
        if not self.config.redis_url or link is None:
            return {"state": "disabled", "error": None}
        described: dict[str, Any] = link.describe()
        return described

    # writes --------------------------------------------------------------------------------
    def write(self, req: falcon.Request, command: Command[T]) -> tuple[T, int]:
        """Run one command under the request's `If-Match` and `Claim-Token`, journaled as
        the request's writer (`actors.origin_of`); returns its result and revision."""
        commit = self.core.execute(
            command,
            expected_revision=self.expected_revision(req),
            claim=claim_token(req),
            origin=origin_of(req, self.config),
        )
        return commit.result, commit.revision

    def expected_revision(self, req: falcon.Request) -> int | None:
        """The revision `If-Match` insists on; None when there is no condition.

        If-Match uses strong comparison: a weak or foreign tag can never match (412 at once).
        Of several tags, the one naming the current revision is used; the lock re-checks it.
        """
        tags = req.if_match
        if not tags or tags == ["*"]:
            return None
        candidates = {
            int(tag) for tag in tags if not getattr(tag, "is_weak", False) and str(tag).isdigit()
        }
        if not candidates:
            raise _precondition_failed(tags, self.core.revision())
        if len(candidates) == 1:
            return next(iter(candidates))
        current = self.core.revision()
        if current not in candidates:
            raise _precondition_failed(tags, current)
        return current

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for closer in reversed(self.closers):
            closer()


def claim_token(req: falcon.Request) -> int | None:
    """The fencing token `Claim-Token` names; None without the header; a 400 naming the
    header when it is no token (a write must never run unfenced because its token was
    misspelt)."""
    raw = req.get_header(CLAIM_TOKEN)
    if raw is None:
        return None
    return parse_token(raw, CLAIM_TOKEN)


MAX_TOKEN = 2**53 - 1
"""Tokens count claims: a larger one names none, and could not even be put in a JSON answer."""


def parse_token(raw: object, name: str) -> int:
    """A claim token from a header or path; a 400 naming `name` otherwise."""
    try:
        token: int = TOKEN.parse(raw, name)
    except BadArgument as err:
        raise invalid(name, err.message) from None
    if token > MAX_TOKEN:
        raise invalid(name, f"{name!r} is no claim token: at most {MAX_TOKEN}")
    return token


def cache_key(path: str, params: Mapping[str, object]) -> str:
    """``GET:<path>?<sorted query>`` over the normalised parameters (None ones left out), so
    equivalent requests share an entry and junk parameters cannot fill the cache."""
    return _cache_key(path, tuple(params.items()))


@functools.lru_cache(maxsize=4096)
def _cache_key(path: str, items: tuple[tuple[str, object], ...]) -> str:
    # Memoised: building the key was a tenth of a cached request. Values are validated tag
    # names, statuses and booleans: no escaping needed.
    query = "&".join(f"{k}={_param(v)}" for k, v in sorted(items) if v is not None)
    return f"GET:{path}?{query}"


def _param(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def etag(revision: int) -> str:
    return f'"{revision}"'


def answer(req: falcon.Request, resp: falcon.Response, body: bytes, revision: int) -> None:
    """A read's answer: the body at `revision`, or 304 when the client holds that revision."""
    resp.etag = etag(revision)
    if not_modified(req, revision):
        resp.status = falcon.HTTP_304
        return
    resp.content_type = JSON
    resp.data = body


def not_modified(req: falcon.Request, revision: int) -> bool:
    """If-None-Match uses weak comparison: `W/"5"` matches revision 5."""
    tags = req.if_none_match
    if not tags:
        return False
    return any(str(tag) == "*" or str(tag) == str(revision) for tag in tags)


def send_json(
    resp: falcon.Response, value: Any, *, revision: int | None = None, status: int = 200
) -> None:
    resp.status = status
    resp.content_type = JSON
    resp.data = orjson.dumps(value)
    if revision is not None:
        resp.etag = etag(revision)


def _precondition_failed(tags: list[Any], current: int) -> Problem:
    given = ", ".join(f'W/"{t}"' if getattr(t, "is_weak", False) else f'"{t}"' for t in tags)
    return Problem(
        412,
        f"If-Match {given} does not name the current revision {current}",
        kind="revision-mismatch",
        title="Revision mismatch",
        current=current,
    )
