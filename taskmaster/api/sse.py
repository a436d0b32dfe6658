"""`GET /api/v1/events`: every bus event, live, as server-sent events.

Each client gets a bounded queue subscribed to the bus; the bus delivers in the publisher's
thread, so the subscriber only does a non-blocking put. The response body is an iterator the
WSGI server pulls from in one of its threads:

- a client that stops reading fills its queue; the stream then ends with an ``overflow`` event
  (the client reconnects and re-reads) instead of growing without bound;
- a client that went away frees its slot within a second: the server says so (waitress's
  ``waitress.client_disconnected``, true once it has seen the connection end), and a stream
  waiting for events asks it every `DISCONNECT_POLL_SECONDS`; without that a failed write
  tells, at the latest at the heartbeat after next. Either way `close()` unsubscribes. It is
  on the iterator itself, not in a generator's `finally`, because a server may close a body
  it never started iterating, and a generator that never started never runs its `finally`;
- on shutdown `EventHub.close()` ends every stream, so no server thread stays blocked on one.

Resuming: every event frame carries ``id: <revision>`` (the events of one commit share it and
go out in one chunk). A client that reconnects with ``Last-Event-ID: R`` (or ``?lastEventId=R``,
for clients that cannot set headers) first gets, in order, the events of every commit above R
from the journal (`TaskMaster.events_since`), then the live ones, none twice. The stream
subscribes to the bus first and reads the journal second, so nothing committed in between is
missed, and it drops live events at or below the last revision it sent. When R is older than
the journal's oldest kept entry (retention dropped what it missed) or newer than the project,
the stream sends a ``reset`` event instead: the client must read everything again. The
greeting of a stream that reads the journal carries ``id: <revision it starts after>`` (no
data: an EventSource sets its last event id and dispatches nothing), so a client cut off
before its first event still resumes from where it began.

Order: a commit's events are published after its transaction, outside the lock, so two
commits of one server (or another server's commit, which the watcher announces late) can reach
the bus out of revision order. Revisions are not consecutive numbers (on the file backend they
follow the file's ctime), so a stream cannot see a gap by itself: when a live event of
revision R arrives, it first sends the journal's commits between the last revision it sent and
R (a read of the journal's tail), then R's events; the late events of those commits, when they
come, are dropped as already sent. A stream never sends a revision below one it sent.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import falcon
import orjson

from taskmaster.api.metrics import Metrics
from taskmaster.api.problems import Problem
from taskmaster.bus import EventBus
from taskmaster.events import Event

if TYPE_CHECKING:
    from taskmaster.core import TaskMaster

log = logging.getLogger(__name__)

_END = object()
GREETING = b"retry: 2000\n: connected\n\n"
HEARTBEAT = b": heartbeat\n\n"
DISCONNECT_POLL_SECONDS = 0.25

OVERFLOW = b'event: overflow\ndata: {"reason": "the client fell behind; reconnect"}\n\n'
RESET_REASON = (
    "the changes since your Last-Event-ID are no longer all in the journal: read everything again"
)


class Journal(Protocol):
    """What a stream reads to resume and to keep revision order (`FacadeJournal`)."""

    def events_since(self, revision: int) -> list[Event]: ...

    def revision(self) -> int: ...

    def oldest(self) -> int | None:
        """The revision of the oldest entry retention kept, when retention may have dropped
        older ones (the journal holds its `keep` entries, or has a `max_age_s`); None when it
        cannot have dropped any (fewer entries than it keeps, no age limit)."""
        ...


class FacadeJournal:
    """The `Journal` of a facade: its journal replay, revision and journal statistics."""

    def __init__(self, core: TaskMaster) -> None:
        self.core = core

    def events_since(self, revision: int) -> list[Event]:
        return self.core.events_since(revision)

    def revision(self) -> int:
        return self.core.revision()

    def oldest(self) -> int | None:
        stats = self.core.storage.journal_stats()
        oldest, keep = stats.get("oldest"), stats.get("keep")
        full = keep is not None and int(stats.get("entries") or 0) >= int(keep)
        if oldest is None or not (full or stats.get("max_age_s") is not None):
            return None
        return int(oldest)


def format_event(event: Event) -> bytes:
    data = orjson.dumps(event.to_dict())
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event.revision, event.kind.encode(), data)


def format_events(events: Sequence[Event]) -> bytes:
    """The frames of several events in one chunk (the events of one commit)."""
    return b"".join(format_event(event) for event in events)


def format_reset(revision: int, oldest: int | None) -> bytes:
    data = orjson.dumps({"reason": RESET_REASON, "revision": revision, "oldest": oldest})
    return b"id: %d\nevent: reset\ndata: %s\n\n" % (revision, data)


def parse_last_event_id(value: str | None) -> int | None:
    """The revision a resuming client last saw; None when it sent none. Raises ValueError for
    anything but a non-negative integer."""
    if value is None:
        return None
    text = value.strip()
    if not text.isdigit() or not text.isascii():
        raise ValueError(
            f"Last-Event-ID must be a revision (a non-negative integer), not {value!r}"
        )
    return int(text)


class EventHub:
    """The open event streams of one app."""

    def __init__(
        self, bus: EventBus, metrics: Metrics, *, max_clients: int, queue_size: int
    ) -> None:
        self.bus = bus
        self.metrics = metrics
        self.max_clients = max_clients
        self.queue_size = queue_size
        self._lock = threading.Lock()
        self._streams: set[EventStream] = set()
        self._closed = False

    def open(
        self,
        heartbeat: float,
        client_gone: Callable[[], bool] | None = None,
        *,
        journal: Journal | None = None,
        last_event_id: int | None = None,
    ) -> EventStream:
        """A new stream; `client_gone` (when the server offers one) says the client left.

        With `journal`, the stream keeps revision order (see the module's docstring); with
        `last_event_id` too, it first replays what the journal holds above it. Subscribed to
        the bus before the journal is read: a storage error while reading it releases the
        stream and propagates (the request then fails as any read that cannot be served)."""
        with self._lock:
            if self._closed:
                raise Problem(503, "the server is shutting down", headers={"Retry-After": "1"})
            if len(self._streams) >= self.max_clients:
                # Each stream holds a server thread: a cap keeps ordinary requests served.
                raise Problem(
                    503,
                    f"too many event streams are open (limit {self.max_clients})",
                    kind="too-many-streams",
                    headers={"Retry-After": "5"},
                )
            stream = EventStream(self, heartbeat, self.queue_size, client_gone, journal)
            self._streams.add(stream)
        stream.unsubscribe = self.bus.subscribe(stream.deliver)
        self.metrics.event_streams.inc()
        if journal is not None and last_event_id is not None:
            try:
                stream.resume(last_event_id)
            except BaseException:
                stream.close()
                raise
        elif journal is not None:
            stream.start()
        return stream

    def release(self, stream: EventStream) -> None:
        with self._lock:
            if stream not in self._streams:
                return
            self._streams.discard(stream)
        stream.unsubscribe()
        self.metrics.event_streams.dec()

    @property
    def open_streams(self) -> int:
        with self._lock:
            return len(self._streams)

    def close(self) -> None:
        """End every stream and refuse new ones (server shutdown)."""
        with self._lock:
            self._closed = True
            streams = list(self._streams)
        for stream in streams:
            stream.end()


class EventStream:
    """The body of one event-stream response: an iterator of SSE frames with `close()`."""

    def __init__(
        self,
        hub: EventHub,
        heartbeat: float,
        queue_size: int,
        client_gone: Callable[[], bool] | None = None,
        journal: Journal | None = None,
    ) -> None:
        self._hub = hub
        self._heartbeat = heartbeat
        self._client_gone = client_gone
        self._journal = journal
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._greeted = False
        self._done = False
        self._backlog: collections.deque[bytes] = collections.deque()
        self._held: Event | None = None
        self.sent: int | None = None
        """The highest revision sent (or replayed, or covered by a reset): live events at or
        below it are dropped."""
        self.overflowed = False
        self.unsubscribe = _nothing

    def start(self) -> None:
        """A new (not resuming) stream: live events from the current revision on."""
        assert self._journal is not None
        try:
            self.sent = self._journal.revision()
        except Exception:  # storage down: the live events still come, in the bus's order
            log.debug("no revision to start the event stream from", exc_info=True)

    def resume(self, since: int) -> None:
        """Queue, before any live event, the journal's events above revision `since` (one
        chunk per commit), or a `reset` when the journal may no longer have all of them: its
        oldest kept entry is above `since` while retention may have dropped older ones (maybe
        what the client missed), or `since` is above the project's revision (another
        project's, or a restored file). A `since` below a journal that dropped nothing is
        a revision from before the first entry (the project as it was created or imported):
        every commit since is there."""
        assert self._journal is not None
        events = self._journal.events_since(since)  # before `oldest`: a compaction in between
        oldest = self._journal.oldest()  # can only make this look older, so reset, not lose
        current = self._journal.revision()
        if since > current or (oldest is not None and oldest > since):
            self._backlog.append(format_reset(current, oldest))
            self.sent = current
            return
        self.sent = since
        for group in _by_revision(events):
            self._backlog.append(format_events(group))
            self.sent = group[0].revision

    # bus side (publisher threads) ----------------------------------------------------------
    def deliver(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.overflowed = True

    def end(self) -> None:
        self._done = True
        # A full queue means the reader is busy draining: it sees `_done` after the next frame.
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_END)

    # server side (the thread writing the response) -----------------------------------------
    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> bytes:
        if self._done:
            self.close()
            raise StopIteration
        if not self._greeted:
            self._greeted = True
            if self._journal is not None and self.sent is not None:
                # The revision the stream starts after, as its id (a frame without data sets
                # the client's last event id, dispatching nothing): a client cut off before
                # any event resumes from here instead of losing what came meanwhile.
                return GREETING[:-1] + b"id: %d\n\n" % self.sent
            return GREETING
        if self._backlog:
            return self._backlog.popleft()
        while True:
            if self.overflowed:
                self._hub.metrics.events_dropped.inc()
                self._done = True
                return OVERFLOW
            item = self._held if self._held is not None else self._next_item()
            self._held = None
            if item is None:
                return HEARTBEAT  # a write to a gone client fails here, and the server closes us
            if item is _END or not isinstance(item, Event):
                self.close()
                raise StopIteration
            if self.sent is not None and item.revision <= self.sent:
                continue  # replayed already, or sent from the journal to fill a gap
            return self._chunk(item)

    def _chunk(self, first: Event) -> bytes:
        """The frames of `first`'s commit: preceded by any commits the stream has not sent
        below it (from the journal), followed by the other events of its commit already
        queued (published one after another by the committing thread)."""
        group = [first]
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, Event) and item.revision == first.revision:
                group.append(item)
                continue
            if isinstance(item, Event) and self.sent is not None and item.revision <= self.sent:
                continue
            if isinstance(item, Event):
                self._held = item
            else:
                self.end()  # `_END`: the stream ends after this chunk
            break
        chunk = format_events(group)
        if self._journal is not None and self.sent is not None:
            chunk = self._missing(first.revision) + chunk
        if self._journal is not None:  # without one, a late event cannot be told from a lost one
            self.sent = first.revision
        return chunk

    def _missing(self, below: int) -> bytes:
        """The journal's commits between the last one sent and `below`, in order: those
        whose live events have not come yet (published late, or out of order)."""
        assert self._journal is not None and self.sent is not None
        try:
            events = [e for e in self._journal.events_since(self.sent) if e.revision < below]
        except Exception:  # the journal unreadable now: the live event is still worth sending
            log.warning("could not read the journal to fill revisions %s-%s", self.sent, below)
            return b""
        return b"".join(format_events(group) for group in _by_revision(events))

    def _next_item(self) -> object | None:
        """The next queued item, or None when a heartbeat is due. Ends the stream (releasing
        its slot) as soon as the server says the client is gone."""
        if self._client_gone is None:
            try:
                return self._queue.get(timeout=self._heartbeat)
            except queue.Empty:
                return None
        deadline = time.monotonic() + self._heartbeat
        while True:
            if self._client_gone():
                self.close()
                raise StopIteration
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                return self._queue.get(timeout=min(remaining, DISCONNECT_POLL_SECONDS))
            except queue.Empty:
                continue

    def close(self) -> None:
        self._done = True
        self._hub.release(self)


def _by_revision(events: list[Event]) -> list[list[Event]]:
    """Consecutive events of one revision together, in order."""
    groups: list[list[Event]] = []
    for event in events:
        if groups and groups[-1][0].revision == event.revision:
            groups[-1].append(event)
        else:
            groups.append([event])
    return groups


def _nothing() -> None:
    return None


class EventsResource:
    def __init__(self, hub: EventHub, heartbeat: float, journal: Journal | None = None) -> None:
        """`journal`: resume with Last-Event-ID and keep revision order (without one, the
        stream sends the bus's events as they come and ignores Last-Event-ID)."""
        self.hub = hub
        self.heartbeat = heartbeat
        self.journal = journal

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        header = req.get_header("Last-Event-ID")
        query = req.get_param("lastEventId")
        try:
            last = parse_last_event_id(header if header is not None else query)
        except ValueError as err:
            raise Problem(400, str(err), kind="invalid-last-event-id") from None
        stream = self.hub.open(
            self.heartbeat,
            req.env.get("waitress.client_disconnected"),
            journal=self.journal,
            last_event_id=last,
        )
        resp.content_type = "text/event-stream"
        resp.cache_control = ["no-store"]
        resp.set_header("X-Accel-Buffering", "no")  # tell proxies not to hold frames back
        resp.stream = stream
