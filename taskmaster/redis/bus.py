"""`RedisBus`: the `EventBus` of several processes on one project, over Redis pub/sub.

Publishing delivers to this process's subscribers first (synchronously, as `LocalBus` does),
then sends the event to the project's channel. A listener thread, started by the first
`subscribe` (a `tm` command never subscribes, so it never pays for one), delivers the events of
other processes; an instance's own messages come back to it too and are skipped by bus id.

Pub/sub is at-most-once: a message sent while a subscriber is disconnected is gone. That is
acceptable only because events are an accelerator: every cached answer is checked against the
file's revision, and each instance's own file watcher still sees every change. After a
reconnect the link's listeners run (the API drops its in-process cache then).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable

import orjson

from taskmaster.bus import Handler, LocalBus, Unsubscribe
from taskmaster.events import CHANGE_REVERTED, FILE_CHANGED, Event
from taskmaster.redis.link import REDIS_ERRORS, RedisLink, RedisUnavailable, project_key

log = logging.getLogger("taskmaster.redis")

MAX_BACKOFF = 1.0
POLL_SECONDS = 0.25
"""How often the listener looks up from its socket to see whether it should stop."""


def channel_for(storage_key: str) -> str:
    return f"taskmaster:{project_key(storage_key)}:events"


def redis_bus(url: str, storage_key: str) -> RedisBus:
    """The bus of the project whose store is `storage_key`, on the Redis at `url`.

    Connects lazily: a `tm` command that changes nothing never touches Redis.
    """
    return RedisBus(RedisLink(url), channel_for(storage_key))


class RedisBus:
    def __init__(
        self,
        link: RedisLink,
        channel: str,
        *,
        on_remote: Callable[[Event, float], None] | None = None,
    ) -> None:
        """`on_remote(event, lag_seconds)` is told of every event from another process."""
        self.link = link
        self.channel = channel
        self.bus_id = os.urandom(8).hex()
        self.on_remote = on_remote
        self._local = LocalBus()
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.listening = threading.Event()
        """Set while subscribed to the channel: events of other processes arrive."""

    # EventBus -----------------------------------------------------------------------------
    def publish(self, event: Event) -> None:
        self._local.publish(event)
        if event.kind in (FILE_CHANGED, CHANGE_REVERTED):
            return  # seen by this process's watcher: every instance's own watcher sees it too
        message = orjson.dumps({"bus": self.bus_id, "event": event.to_dict()})
        # When Redis is down the link has logged it once; the other instances' watchers still
        # see the change.
        with contextlib.suppress(RedisUnavailable):
            self.link.call(lambda client: client.publish(self.channel, message))

    def subscribe(self, handler: Handler, pattern: str = "*") -> Unsubscribe:
        unsubscribe = self._local.subscribe(handler, pattern)
        self._start_listener()
        return unsubscribe

    def close(self) -> None:
        self._stop.set()
        # The listener notices within one poll; its connection is not closed from here,
        # because redis-py's connections are not safe to close under a reading thread.
        if self._listener is not None and self._listener is not threading.current_thread():
            self._listener.join(timeout=2 * POLL_SECONDS + 1)
        self._local.close()
        self.link.close()

    # listening ----------------------------------------------------------------------------
    def _start_listener(self) -> None:
        with self._start_lock:
            if self._listener is None and not self._stop.is_set():
                self._listener = threading.Thread(
                    target=self._listen_forever, name="taskmaster-redis-bus", daemon=True
                )
                self._listener.start()

    def _listen_forever(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            try:
                self._listen_once()
                backoff = 0.05
            except Exception as err:
                self.listening.clear()
                if self._stop.is_set():
                    return
                if isinstance(err, REDIS_ERRORS):
                    self.link.mark_down(err)
                else:  # a bug must not end the listening for the life of the server
                    log.exception("the Redis event listener failed; starting it again")
                # Back off, but not for long: events missed meanwhile cost freshness nowhere
                # (reads check revisions), only the early invalidation.
                self._stop.wait(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)

    def _listen_once(self) -> None:
        pubsub = self.link.client.pubsub()  # type: ignore[no-untyped-call, unused-ignore]  # untyped in older redis-py
        try:
            pubsub.subscribe(self.channel)
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=POLL_SECONDS)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    # Redis's confirmation: from here on, no event of another process is missed.
                    self.link.mark_up()  # runs the reconnect listeners first
                    self.listening.set()
                elif message["type"] == "message":
                    self._deliver(message["data"])
        finally:
            self.listening.clear()
            with contextlib.suppress(*REDIS_ERRORS):
                pubsub.close()

    def _deliver(self, data: bytes) -> None:
        try:
            envelope = orjson.loads(data)
            if envelope.get("bus") == self.bus_id:
                return  # our own publish, already delivered locally
            event = Event.from_dict(envelope["event"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            log.warning("ignored a malformed message on %s: %.200r", self.channel, data)
            return
        if self.on_remote is not None:
            self.on_remote(event, max(0.0, time.time() - event.time))
        self._local.publish(event)
