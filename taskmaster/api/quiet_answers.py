"""Cached reads answered again after one check, while the storage says nothing changed.

A cached read resolves the current tag, parses its query, builds its cache key, checks the
revision and looks the entry up: two change checks and about 3 microseconds of Python on a
server whose answer is already known. Where the storage keeps a change epoch (a file storage
behind its change gate, `storage/change_gate.py`), the answer a read gave is kept under the
request as it came (path and query) and the epoch it was built in. A later read of the same
request in the same epoch gets that answer after one check of the epoch, before the handler
runs: nothing it read has changed since, so the handler would answer the same.

The epoch is taken when the request arrives, before the handler reads anything: an answer
built from something newer than its epoch began is never served in another epoch, and a change
while it was built ends that epoch. Middleware that runs before resources (the rate limit,
authentication, body checks) still runs for every request; the request still counts in the
metrics, as a cache hit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import falcon

DEFAULT_MAXSIZE = 256
Respond = Callable[[falcon.Request, falcon.Response, bytes, int], None]
"""Answers a request with a body at a revision (`ApiState.answer_again`)."""


class QuietAnswers:
    """Answers (body, revision) by request, for the current change epoch only."""

    def __init__(
        self,
        epoch: Callable[[], int | None],
        *,
        maxsize: int = DEFAULT_MAXSIZE,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`ttl`: as the response cache's, so that an answer is no older here than there."""
        self._epoch = epoch
        self._maxsize = maxsize
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._answers: dict[str, tuple[bytes, int, float]] = {}
        self._answers_epoch = -1

    def epoch(self) -> int | None:
        return self._epoch()

    def recall(self, key: str, epoch: int) -> tuple[bytes, int] | None:
        """The answer to `key` built in `epoch`, if that is still the epoch the answers hold."""
        if epoch != self._answers_epoch:
            return None
        found = self._answers.get(key)
        if found is None or found[2] <= self._clock():
            return None
        return found[0], found[1]

    def remember(self, key: str, epoch: int, body: bytes, revision: int) -> None:
        """Keep the answer to `key`, built in `epoch` (taken before it was built)."""
        with self._lock:
            if epoch < self._answers_epoch:
                return  # built in an epoch already over
            if epoch > self._answers_epoch:
                self._answers = {}
                self._answers_epoch = epoch
            elif len(self._answers) >= self._maxsize and key not in self._answers:
                del self._answers[next(iter(self._answers))]  # the one kept longest
            self._answers[key] = (body, revision, self._clock() + self._ttl)


def request_key(req: falcon.Request) -> str:
    return f"{req.path}?{req.query_string}"


class QuietAnswersMiddleware:
    """Answers a GET from `answers` when it can, else marks the request with the epoch it
    arrived in, for `ApiState.respond_read` to remember what the handler answers."""

    def __init__(
        self,
        answers: QuietAnswers,
        respond: Respond,
    ) -> None:
        self.answers = answers
        self.respond = respond

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]
    ) -> None:
        if req.method != "GET":
            return
        epoch = self.answers.epoch()
        if epoch is None:
            return
        key = request_key(req)
        found = self.answers.recall(key, epoch)
        if found is not None:
            self.respond(req, resp, *found)
            resp.complete = True
            return
        req.context.quiet_epoch = epoch
