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
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable

import falcon
import orjson

from taskmaster.api.metrics import Metrics
from taskmaster.api.problems import Problem
from taskmaster.bus import EventBus
from taskmaster.events import Event

_END = object()
GREETING = b"retry: 2000\n: connected\n\n"
HEARTBEAT = b": heartbeat\n\n"
DISCONNECT_POLL_SECONDS = 0.25

OVERFLOW = b'event: overflow\ndata: {"reason": "the client fell behind; reconnect"}\n\n'


def format_event(event: Event) -> bytes:
    data = orjson.dumps(event.to_dict())
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event.revision, event.kind.encode(), data)


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

    def open(self, heartbeat: float, client_gone: Callable[[], bool] | None = None) -> EventStream:
        """A new stream; `client_gone` (when the server offers one) says the client left."""
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
            stream = EventStream(self, heartbeat, self.queue_size, client_gone)
            self._streams.add(stream)
        stream.unsubscribe = self.bus.subscribe(stream.deliver)
        self.metrics.event_streams.inc()
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
    ) -> None:
        self._hub = hub
        self._heartbeat = heartbeat
        self._client_gone = client_gone
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._greeted = False
        self._done = False
        self.overflowed = False
        self.unsubscribe = _nothing

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
            return GREETING
        if self.overflowed:
            self._hub.metrics.events_dropped.inc()
            self._done = True
            return OVERFLOW
        item = self._next_item()
        if item is None:
            return HEARTBEAT  # a write to a gone client fails here, and the server closes us
        if item is _END or not isinstance(item, Event):
            self.close()
            raise StopIteration
        return format_event(item)

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


def _nothing() -> None:
    return None


class EventsResource:
    def __init__(self, hub: EventHub, heartbeat: float) -> None:
        self.hub = hub
        self.heartbeat = heartbeat

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "text/event-stream"
        resp.cache_control = ["no-store"]
        resp.set_header("X-Accel-Buffering", "no")  # tell proxies not to hold frames back
        resp.stream = self.hub.open(self.heartbeat, req.env.get("waitress.client_disconnected"))
