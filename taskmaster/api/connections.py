"""How waitress treats clients, so that no client (with or without the token) can stop the server.

waitress reads and buffers requests in its loop thread and runs the app in worker threads. Left
at its defaults, a client can hold either side: a body is spooled up to 1 GiB before the app
sees it, 100 idle connections stop it accepting, and a worker blocks for as long as a client
that pipelines requests takes to read the answers (forever, if it never does). Here:

- **Bodies**: waitress refuses a body over `max_body_bytes` from its declared length, at once,
  and cuts off a chunked one as soon as it passes the limit (its framing counts), before any
  middleware runs: an upload is never spooled whether or not it carries the token. Its own
  refusals (413, 400, 431, 501) are problem documents like every other error of the API.
- **Connections**: at the connection limit the connection idle the longest (no request running
  on a thread) is closed to make room, so idle or half-sent connections can never lock new
  clients out; one that neither sends nor reads for `idle_timeout` is closed, and that
  includes one that stopped reading its answers.
- **Slow readers**: a connection whose unread answers pass `send_buffer_bytes` gets no worker
  for its next pipelined request until the client has read them; the loop thread hands the
  request to a worker again then. A worker never waits for a client between requests.
- **Gone clients**: waitress keeps reading while a request runs (lookahead), so a client that
  closes its end is noticed at once; an event stream polls for that (`sse.py`).
- **The loop**: `select()` while every descriptor of the loop fits it, `poll()` once one does
  not (`wait_once`). waitress's `poll()` loop served half the requests per second of its
  `select()` loop here, under the same load; `select()` alone would stop the server at the
  first descriptor numbered `FD_SETSIZE` or more.
"""

from __future__ import annotations

import errno
import http
import select
from typing import Any

import orjson
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher, WSGITask
from waitress.trigger import trigger as Trigger
from waitress.utilities import Error, RequestEntityTooLarge

from taskmaster.api.inputs import too_large
from taskmaster.api.problems import PROBLEM_JSON, Problem
from taskmaster.config import Config

# How often the loop looks for connections past their idle timeout (waitress's default, 30 s,
# would let a stalled connection live up to twice its timeout).
CLEANUP_INTERVAL_SECONDS = 1
# glibc's FD_SETSIZE: select() refuses a descriptor numbered this or more (CPython raises
# ValueError). The select module does not export it.
SELECT_DESCRIPTOR_LIMIT = 1024
HAS_POLL = hasattr(select, "poll")


def waitress_adjustments(config: Config) -> Adjustments:
    """waitress's settings for `config` (see the module's docstring for why each)."""
    return Adjustments(
        host=config.host,
        port=config.port,
        threads=config.threads,
        ident="taskmaster",
        # waitress refuses a length at or above its maximum; ours is the largest accepted.
        max_request_body_size=config.max_body_bytes + 1,
        # waitress counts every socket of its map: the listening one and its wake-up pipe too.
        connection_limit=config.connection_limit + 2,
        channel_timeout=config.idle_timeout,
        cleanup_interval=CLEANUP_INTERVAL_SECONDS,
        outbuf_high_watermark=config.send_buffer_bytes,
        outbuf_overflow=min(config.send_buffer_bytes, Adjustments.outbuf_overflow),
        # Read one request ahead while one runs: an end of stream is then seen at once. The
        # price: a client that half-closes its end after sending loses the answer.
        channel_request_lookahead=1,
        # A client that goes away mid-answer is ordinary here, not worth a traceback.
        log_socket_errors=False,
    )


def create_server(app: Any, socket_map: dict[Any, Any], config: Config) -> GuardedServer:
    """A server for `app` bound at once (to the first address the host resolves to)."""
    adjustments = waitress_adjustments(config)
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adjustments.threads)
    return GuardedServer(
        app,
        socket_map,
        dispatcher=dispatcher,
        adj=adjustments,
        # types-waitress has `listen` as the "host:port" strings given; once constructed,
        # Adjustments holds the resolved (family, type, proto, address) tuples there.
        sockinfo=adjustments.listen[0],  # type: ignore[arg-type]
    )


class GuardedParser(HTTPRequestParser):
    def received(self, data: bytes) -> int:
        consumed: int = super().received(data)
        if self.error is not None:
            # Never answer "100 Continue" to a request that is refused already: that would
            # invite the very body the refusal is about.
            self.expect_continue = False
        return consumed


class ProblemErrorTask(ErrorTask):
    """waitress's own refusals (before the app runs) as problem documents."""

    # types-waitress declares these as an `Error` and a `Sequence`: waitress passes the parser
    # of the refused request, and starts the headers as a list.
    request: HTTPRequestParser  # type: ignore[assignment]
    response_headers: list[tuple[str, str]]

    def execute(self) -> None:
        error = self.request.error
        # waitress makes an error task only for a request whose parser holds an error.
        assert error is not None
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", PROBLEM_JSON))
        self.set_close_on_finish()
        body = orjson.dumps(self._problem(error).to_problem())
        self.content_length = len(body)
        self.write(body)

    def _problem(self, error: Error) -> Problem:
        if isinstance(error, RequestEntityTooLarge):
            return too_large(self.channel.adj.max_request_body_size - 1)
        phrase = http.HTTPStatus(error.code).phrase
        return Problem(error.code, str(error.body) or phrase)


class ResponseTask(WSGITask):
    """Marks the channel while an answer is being written (see `_flush_outbufs_below...`)."""

    channel: GuardedChannel

    def service(self) -> None:
        self.channel.answering = True
        try:
            super().service()
        finally:
            self.channel.answering = False


class GuardedChannel(HTTPChannel):
    parser_class = GuardedParser
    error_task_class = ProblemErrorTask
    task_class = ResponseTask

    answering = False
    """A worker is writing an answer on this connection."""
    parked = False
    """A request waits, without a worker, for the client to read earlier answers."""

    @property
    def evictable(self) -> bool:
        """No worker is on it and none is waiting for it: closing it costs no one an answer
        that is being built."""
        return not self.requests or self.parked

    def service(self) -> None:
        with self.outbuf_lock:
            if self.connected and self.total_outbufs_len > self.adj.outbuf_high_watermark:
                self.parked = True  # handle_write hands the request back to a worker
                self.server.pull_trigger()
                return
        super().service()

    def _flush_outbufs_below_high_watermark(self) -> None:
        # waitress calls this between pipelined requests too, where it blocks the worker until
        # the client reads; `service` parks the next request instead. Within an answer (an
        # event stream writing frame after frame) it still applies the back-pressure.
        if self.answering:
            # A private method of waitress's that types-waitress does not declare.
            super()._flush_outbufs_below_high_watermark()  # type: ignore[misc]

    def handle_write(self) -> None:
        super().handle_write()
        if not self.parked or not self.connected:
            return
        with self.outbuf_lock:
            if self.parked and self.total_outbufs_len <= self.adj.outbuf_high_watermark:
                self.parked = False
                # waitress queues the channel itself (it has `service`); types-waitress says
                # only a Task may be queued.
                self.server.add_task(self)  # type: ignore[arg-type]


def wait_once(timeout: float, socket_map: dict[int, Any]) -> None:
    """One turn of the loop: wait for the sockets of `socket_map` (descriptor -> dispatcher),
    then handle what is ready.

    With `select()` when every descriptor fits it: under 8 clients of a cached GET, waitress's
    `poll()` turn served about half the requests per second (its CPU per request up to three
    times that of `select()`), on stock waitress as on this server. `poll()` once a descriptor
    is numbered past `select()`'s limit, which a raised connection limit or a process holding
    many files reaches: then the loop must not stop.
    """
    if socket_map and HAS_POLL and max(socket_map) >= SELECT_DESCRIPTOR_LIMIT:
        wasyncore.poll2(timeout, socket_map)
        return
    try:
        wasyncore.poll(timeout, socket_map)
    except OSError as err:
        # A descriptor closed after the turn listed it: select() fails before any handler
        # ran, where poll() reports that descriptor to its dispatcher (which then closes).
        if err.errno != errno.EBADF or not HAS_POLL:
            raise
        wasyncore.poll2(timeout, socket_map)


class GuardedServer(TcpWSGIServer):
    channel_class = GuardedChannel

    # What waitress sets up in __init__, which types-waitress leaves out (the socket map, the
    # bound address) or declares wrongly (an int for the trigger, a channel for the dict).
    _map: dict[int, Any]
    effective_host: str
    effective_port: int
    trigger: Trigger  # type: ignore[assignment]
    active_channels: dict[int, GuardedChannel]  # type: ignore[assignment]

    def run(self) -> None:
        """waitress's loop (`BaseWSGIServer.run`), each turn waiting as `wait_once` chooses, after
        making room for a new connection if the limit is reached."""
        try:
            while self._map:
                if self.accepting and len(self._map) >= self.adj.connection_limit:
                    # Here, between turns, not in `readable()`: a turn lists the descriptors
                    # before it waits, and select() fails on one closed after it was listed.
                    self._evict_idlest()
                wait_once(self.adj.asyncore_loop_timeout, self._map)
        except (SystemExit, KeyboardInterrupt):
            self.task_dispatcher.shutdown()

    def _evict_idlest(self) -> None:
        idle = [channel for channel in self.active_channels.values() if channel.evictable]
        if idle:
            min(idle, key=lambda channel: channel.last_activity).handle_close()

    def maintenance(self, now: float) -> None:
        """Close connections past their idle timeout: waitress's rule (no request, nothing
        received or sent), and also connections whose client stopped reading its answers."""
        cutoff = now - self.adj.channel_timeout
        for channel in list(self.active_channels.values()):
            if channel.last_activity < cutoff and (
                not channel.requests or channel.total_outbufs_len
            ):
                channel.will_close = True
