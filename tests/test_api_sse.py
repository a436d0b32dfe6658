"""The event stream's parts without a server: frames, queues, heartbeats, clean-up, limits.

(A real client on a real server is in tests/integration/test_api_server.py.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from test_api_support import Api, assert_problem

from taskmaster.api.metrics import Metrics
from taskmaster.api.problems import Problem
from taskmaster.api.sse import GREETING, HEARTBEAT, OVERFLOW, EventHub, format_event
from taskmaster.bus import LocalBus
from taskmaster.cache import RevisionCache
from taskmaster.events import Event


def _hub(max_clients: int = 4, queue_size: int = 8) -> tuple[EventHub, LocalBus]:
    bus = LocalBus()
    metrics = Metrics(RevisionCache(lambda: 0))
    return EventHub(bus, metrics, max_clients=max_clients, queue_size=queue_size), bus


def _subscribers(bus: LocalBus) -> int:
    return len(bus._subscribers)


def test_an_event_frame_has_the_revision_the_kind_and_the_event_json() -> None:
    event = Event("task.updated", 42, "abc", tag="master", ids=("3",), time=1.5)
    frame = format_event(event)
    lines = frame.decode().split("\n")
    assert lines[:2] == ["id: 42", "event: task.updated"]
    assert orjson.loads(lines[2].removeprefix("data: ")) == event.to_dict()
    assert frame.endswith(b"\n\n")


def test_a_stream_greets_then_delivers_bus_events_in_order() -> None:
    hub, bus = _hub()
    stream = hub.open(heartbeat=5)
    assert next(stream) == GREETING
    bus.publish(Event("task.created", 1, "x"))
    bus.publish(Event("task.updated", 2, "x"))
    assert next(stream).startswith(b"id: 1\nevent: task.created\n")
    assert next(stream).startswith(b"id: 2\nevent: task.updated\n")
    stream.close()


def test_an_idle_stream_sends_heartbeats() -> None:
    hub, _ = _hub()
    stream = hub.open(heartbeat=0.01)
    next(stream)
    assert next(stream) == HEARTBEAT
    stream.close()


def test_a_stream_ends_and_frees_its_slot_when_the_server_says_the_client_left() -> None:
    hub, bus = _hub(max_clients=1)
    gone = threading.Event()
    stream = hub.open(heartbeat=3600, client_gone=gone.is_set)
    assert next(stream) == GREETING
    bus.publish(Event("task.updated", 1, "abc"))
    assert next(stream).startswith(b"id: 1\n")  # a live client gets its events
    gone.set()
    # Waiting for the next event (an hour away, as the heartbeat is), it notices the flag.
    with pytest.raises(StopIteration):
        next(stream)
    assert hub.open_streams == 0 and _subscribers(bus) == 0
    hub.open(heartbeat=3600).close()  # the slot is free again


def test_closing_a_stream_unsubscribes_it_even_if_it_never_started() -> None:
    """A WSGI server may close a body it never iterated (the client left at once)."""
    hub, bus = _hub()
    before = _subscribers(bus)
    stream = hub.open(heartbeat=5)
    assert _subscribers(bus) == before + 1
    assert hub.open_streams == 1
    stream.close()
    assert _subscribers(bus) == before
    assert hub.open_streams == 0
    stream.close()  # twice is fine
    with pytest.raises(StopIteration):
        next(stream)


def test_a_client_that_falls_behind_gets_an_overflow_and_the_stream_ends() -> None:
    hub, bus = _hub(queue_size=2)
    stream = hub.open(heartbeat=5)
    next(stream)
    for revision in range(1, 6):
        bus.publish(Event("task.updated", revision, "x"))  # 3 of them do not fit
    assert next(stream) == OVERFLOW
    with pytest.raises(StopIteration):
        next(stream)
    assert _subscribers(bus) == 0
    assert "tm_event_stream_overflows_total 1.0" in hub.metrics.render(None)[0].decode()


def test_the_hub_refuses_streams_beyond_its_limit() -> None:
    hub, _ = _hub(max_clients=1)
    first = hub.open(heartbeat=5)
    with pytest.raises(Problem) as refused:
        hub.open(heartbeat=5)
    assert refused.value.status_code == 503
    first.close()
    hub.open(heartbeat=5).close()


def test_closing_the_hub_ends_a_stream_blocked_waiting_for_events() -> None:
    hub, bus = _hub()
    stream = hub.open(heartbeat=30)
    next(stream)
    frames: list[bytes] = []
    reader = threading.Thread(target=lambda: frames.extend(stream))
    reader.start()
    hub.close()
    reader.join(timeout=2)
    assert not reader.is_alive(), "a closed hub left a stream blocked"
    assert frames == []
    assert _subscribers(bus) == 0
    with pytest.raises(Problem) as refused:
        hub.open(heartbeat=5)
    assert refused.value.status_code == 503


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    api = Api.with_config(tmp_path, sse_max_clients=0)
    yield api
    api.close()


def test_the_events_route_answers_503_when_no_stream_may_open(api: Api) -> None:
    assert_problem(api.get("/api/v1/events"), 503, kind="too-many-streams")
