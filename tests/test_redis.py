"""The Redis parts against a real redis-server (the `redis_url` fixture): the bus between
processes' facades, the shared L2 cache, the shared rate limit, and what each does while Redis
is down and after it is back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.redis_server import RedisServer
from taskmaster.api.ratelimit import LimiterUnavailable, RateLimiter
from taskmaster.cache import RevisionCache
from taskmaster.events import FILE_CHANGED, TASK_UPDATED, Event
from taskmaster.redis import RedisBus, RedisL2Cache, RedisLink, channel_for, redis_bus

STORAGE_KEY = "file:/projects/demo/.taskmaster/tasks/tasks.json"
CHANNEL = channel_for(STORAGE_KEY)


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class Inbox:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def revisions(self) -> list[int]:
        with self._lock:
            return [event.revision for event in self.events]


def listening_bus(url: str, inbox: Inbox | None = None) -> RedisBus:
    bus = RedisBus(RedisLink(url, retry_after=0.1), CHANNEL)
    bus.subscribe(inbox if inbox is not None else Inbox())
    assert bus.listening.wait(5), "the bus never confirmed its subscription"
    return bus


# the bus ------------------------------------------------------------------------------------
def test_events_reach_the_other_process_once_and_not_the_sender_twice(redis_url: str) -> None:
    sent, received = Inbox(), Inbox()
    sender, receiver = listening_bus(redis_url, sent), listening_bus(redis_url, received)
    try:
        sender.publish(Event(TASK_UPDATED, 7, "writer", tag="master", ids=("3",)))
        assert wait_for(lambda: received.revisions() == [7])
        (event,) = received.events
        assert (event.kind, event.origin, event.tag, event.ids) == (
            TASK_UPDATED,
            "writer",
            "master",
            ("3",),
        )
        time.sleep(0.1)  # time for an echo to come back, if it were delivered
        assert sent.revisions() == [7]  # delivered locally, at once, and only once
    finally:
        sender.close()
        receiver.close()


def test_a_watcher_event_stays_in_its_process(redis_url: str) -> None:
    received = Inbox()
    sender, receiver = listening_bus(redis_url), listening_bus(redis_url, received)
    try:
        sender.publish(Event(FILE_CHANGED, 1, "watcher"))
        sender.publish(Event(TASK_UPDATED, 2, "writer"))
        assert wait_for(lambda: received.revisions() == [2])
        assert [e.kind for e in received.events] == [TASK_UPDATED]
    finally:
        sender.close()
        receiver.close()


def test_other_projects_on_the_same_redis_are_not_heard(redis_url: str, tmp_path: Path) -> None:
    received = Inbox()
    other = redis_bus(redis_url, f"file:{tmp_path / 'elsewhere' / 'tasks.json'}")
    receiver = listening_bus(redis_url, received)
    try:
        other.publish(Event(TASK_UPDATED, 1, "elsewhere"))
        time.sleep(0.2)
        assert received.events == []
    finally:
        other.close()
        receiver.close()


def test_malformed_messages_are_skipped(redis_url: str, redis_server: RedisServer) -> None:
    received = Inbox()
    receiver = listening_bus(redis_url, received)
    sender = RedisBus(RedisLink(redis_url), CHANNEL)
    try:
        redis_server.command("PUBLISH", CHANNEL, "not json")
        redis_server.command("PUBLISH", CHANNEL, '{"bus": "x"}')
        sender.publish(Event(TASK_UPDATED, 3, "writer"))
        assert wait_for(lambda: received.revisions() == [3])
    finally:
        sender.close()
        receiver.close()


@pytest.mark.slow
def test_the_bus_survives_an_outage_and_resubscribes(
    redis_url: str, redis_server: RedisServer
) -> None:
    received = Inbox()
    receiver = listening_bus(redis_url, received)
    reconnects: list[float] = []
    receiver.link.on_reconnect(lambda: reconnects.append(time.monotonic()))
    sender = RedisBus(RedisLink(redis_url, retry_after=0.1), CHANNEL)
    try:
        redis_server.kill()
        assert wait_for(lambda: not receiver.listening.is_set())
        # Publishing into a dead Redis neither raises nor blocks for long.
        started = time.monotonic()
        sender.publish(Event(TASK_UPDATED, 1, "writer"))
        assert time.monotonic() - started < 2
        assert sender.link.describe()["state"] == "down"
        assert receiver.link.describe()["state"] == "down"

        redis_server.restart()
        assert receiver.listening.wait(5), "no resubscription after Redis came back"
        assert reconnects, "the reconnect listeners were not told"
        time.sleep(0.15)  # past the sender's retry_after
        sender.publish(Event(TASK_UPDATED, 2, "writer"))
        assert wait_for(lambda: received.revisions() == [2])
        assert sender.link.describe() == {
            "state": "up",
            "url": redis_url,
            "error": None,
        }
    finally:
        sender.close()
        receiver.close()


# the L2 cache -------------------------------------------------------------------------------
class Builds:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, value: bytes, revision: int) -> Callable[[], tuple[bytes, int]]:
        def build() -> tuple[bytes, int]:
            self.count += 1
            return value, revision

        return build


def two_instances(url: str, revision: list[int]) -> tuple[RevisionCache[bytes], ...]:
    return tuple(
        RevisionCache(lambda: revision[0], second_level=RedisL2Cache(RedisLink(url), STORAGE_KEY))
        for _ in range(2)
    )


def test_one_instance_builds_the_other_reads_it_from_redis(redis_url: str) -> None:
    revision = [5]
    first, second = two_instances(redis_url, revision)
    builds = Builds()
    assert first.get_or_build("GET:/tasks", builds(b"v5", 5)) == (b"v5", 5)
    assert second.get_or_build("GET:/tasks", builds(b"never", 5)) == (b"v5", 5)
    assert builds.count == 1
    assert second.second_level is not None
    assert second.second_level.stats.hits == 1
    # The L2 hit is now in the second instance's L1: Redis is not asked again.
    second.get_or_build("GET:/tasks", builds(b"never", 5))
    assert second.second_level.stats.hits == 1


def test_an_entry_of_an_old_revision_is_never_served_for_a_new_one(redis_url: str) -> None:
    revision = [5]
    first, second = two_instances(redis_url, revision)
    builds = Builds()
    first.get_or_build("GET:/tasks", builds(b"v5", 5))
    revision[0] = 6
    assert second.get_or_build("GET:/tasks", builds(b"v6", 6)) == (b"v6", 6)
    assert first.get_or_build("GET:/tasks", builds(b"never", 6)) == (b"v6", 6)
    assert builds.count == 2


def test_answers_that_must_be_local_skip_redis(redis_url: str) -> None:
    revision = [1]
    first, second = two_instances(redis_url, revision)
    builds = Builds()
    first.get_or_build("GET:/health", builds(b"", 1), shared=False)
    second.get_or_build("GET:/health", builds(b"", 1), shared=False)
    assert builds.count == 2


def test_without_redis_the_cache_builds_and_counts_errors(
    redis_url: str, redis_server: RedisServer
) -> None:
    revision = [1]
    first, _ = two_instances(redis_url, revision)
    redis_server.kill()
    builds = Builds()
    assert first.get_or_build("GET:/tasks", builds(b"v1", 1)) == (b"v1", 1)
    assert builds.count == 1
    assert first.second_level is not None
    assert first.second_level.stats.errors >= 1


# the shared rate limit ----------------------------------------------------------------------
def test_instances_share_one_budget(redis_url: str) -> None:
    instances = [RateLimiter("5/minute", redis_url) for _ in range(3)]
    allowed = [instances[i % 3].hit("addr:1").allowed for i in range(12)]
    assert allowed.count(True) == 5
    assert allowed[:5] == [True] * 5


@pytest.mark.parametrize("fallback", ["open", "local", "closed"])
def test_what_the_limiter_does_while_its_store_is_down(
    redis_url: str, redis_server: RedisServer, fallback: str
) -> None:
    limiter = RateLimiter("2/minute", redis_url, fallback=fallback)
    assert limiter.hit("addr:1").allowed
    redis_server.kill()
    if fallback == "closed":
        with pytest.raises(LimiterUnavailable):
            limiter.hit("addr:1")
        return
    decisions = [limiter.hit("addr:1") for _ in range(4)]
    assert not limiter.store_up
    if fallback == "open":
        assert all(d.allowed and not d.counted for d in decisions)
    else:  # local: a budget of its own, counted in memory meanwhile
        assert [d.allowed for d in decisions] == [True, True, False, False]


def test_the_limiter_uses_redis_again_once_it_is_back(
    redis_url: str, redis_server: RedisServer
) -> None:
    limiter = RateLimiter("3/minute", redis_url)
    limiter.hit("addr:1")
    redis_server.kill()
    limiter.hit("addr:1")
    assert not limiter.store_up
    redis_server.restart()
    time.sleep(1.05)  # the limiter retries the store at most once a second
    assert limiter.hit("addr:1").counted
    assert limiter.store_up


def test_a_failing_remote_hook_does_not_end_the_listening(redis_url: str) -> None:
    received = Inbox()
    receiver = listening_bus(redis_url, received)
    failures = []

    def broken(event: Event, lag: float) -> None:
        failures.append(event.revision)
        if len(failures) == 1:
            raise RuntimeError("a bug in a metrics hook")

    receiver.on_remote = broken
    sender = RedisBus(RedisLink(redis_url), CHANNEL)
    try:
        sender.publish(Event(TASK_UPDATED, 1, "writer"))
        assert wait_for(lambda: failures == [1])
        assert wait_for(receiver.listening.is_set)  # listening again after the failure
        sender.publish(Event(TASK_UPDATED, 2, "writer"))
        assert wait_for(lambda: received.revisions() == [2])
    finally:
        sender.close()
        receiver.close()
