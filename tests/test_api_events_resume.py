"""Resumable event streams: `Last-Event-ID` replays the journal, then live events, none twice,
in revision order; a `reset` when the journal no longer has what the client missed.

The streams read a real project's journal (task file and its sidecar); the last tests run a
real `tm serve` and real `tm` processes.
"""

from __future__ import annotations

import http.client
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_api_support import Api, assert_problem

from taskmaster.api.metrics import Metrics
from taskmaster.api.sse import (
    GREETING,
    HEARTBEAT,
    EventHub,
    EventStream,
    FacadeJournal,
    parse_last_event_id,
)
from taskmaster.bus import LocalBus
from taskmaster.cache import RevisionCache
from taskmaster.commands import AddTask, Undo
from taskmaster.core import TaskMaster
from taskmaster.events import Event
from taskmaster.journal.entry import default_actor
from tests.servers import read_event, start_server, tm


def _frames(chunk: bytes) -> list[dict[str, Any]]:
    """The events of one chunk: [{"id", "event", "data"}...]."""
    found = []
    for block in chunk.decode().split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.split("\n"):
            name, sep, value = line.partition(": ")
            if sep and not line.startswith(":"):
                fields[name] = value
        if "data" in fields:
            fields["data"] = orjson.loads(fields["data"])
            found.append(fields)
    return found


def _ids(chunk: bytes) -> list[int]:
    return [int(frame["id"]) for frame in _frames(chunk)]


def _add(core: TaskMaster, title: str) -> int:
    return core.execute(AddTask(values={"title": title})).revision


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    api = Api(tmp_path)
    yield api
    api.close()


def _hub(api: Api, bus: LocalBus | None = None) -> EventHub:
    """A hub on the core's bus (or on `bus`, to publish by hand in a chosen order)."""
    metrics = Metrics(RevisionCache(api.core.revision))
    return EventHub(bus or api.core.bus, metrics, max_clients=4, queue_size=64)


def _open(api: Api, hub: EventHub, since: int | None, journal: Any = None) -> EventStream:
    stream = hub.open(
        heartbeat=0.05, journal=journal or FacadeJournal(api.core), last_event_id=since
    )
    assert next(stream).startswith(GREETING[:-1])
    return stream


def test_a_resuming_stream_replays_each_missed_commit_in_order_then_live_ones(api: Api) -> None:
    first = _add(api.core, "one")
    missed = [_add(api.core, "two"), _add(api.core, "three")]
    hub = _hub(api)
    stream = _open(api, hub, first)
    replayed = [next(stream), next(stream)]
    assert [_ids(chunk) for chunk in replayed] == [[missed[0]], [missed[1]]]
    frame = _frames(replayed[0])[0]
    assert frame["event"] == "task.created"
    assert frame["data"]["actor"] == api.core.origin.actor
    assert ["master", "2", None] in frame["data"]["changes"]
    live = _add(api.core, "four")
    assert _ids(next(stream)) == [live]
    assert next(stream) == HEARTBEAT
    stream.close()
    assert hub.open_streams == 0


def test_a_new_streams_greeting_carries_the_revision_it_starts_after(api: Api) -> None:
    """So that a client cut off before its first event resumes from there."""
    current = _add(api.core, "one")
    stream = _hub(api).open(heartbeat=0.05, journal=FacadeJournal(api.core))
    assert next(stream) == GREETING[:-1] + b"id: %d\n\n" % current
    stream.close()
    resumed = _hub(api).open(heartbeat=0.05, journal=FacadeJournal(api.core), last_event_id=current)
    assert next(resumed) == GREETING[:-1] + b"id: %d\n\n" % current
    resumed.close()


def test_a_stream_resumed_at_the_newest_revision_replays_nothing(api: Api) -> None:
    newest = _add(api.core, "one")
    stream = _open(api, _hub(api), newest)
    assert next(stream) == HEARTBEAT
    stream.close()


class CommitsWhileRead:
    """A journal during whose read other commits happen: one before it reads (so the commit is
    both in the journal and on the bus), one after (only on the bus)."""

    def __init__(self, core: TaskMaster) -> None:
        self.inner = FacadeJournal(core)
        self.core = core
        self.revisions: list[int] = []

    def events_since(self, revision: int) -> list[Event]:
        if self.revisions:  # the stream's later reads (to keep order) commit nothing
            return self.inner.events_since(revision)
        self.revisions.append(_add(self.core, "committed before the read"))
        events = self.inner.events_since(revision)
        self.revisions.append(_add(self.core, "committed after the read"))
        return events

    def revision(self) -> int:
        return self.inner.revision()

    def oldest(self) -> int | None:
        return self.inner.oldest()


def test_a_commit_during_the_journal_read_is_sent_once_and_none_is_missed(api: Api) -> None:
    since = _add(api.core, "seen")
    missed = _add(api.core, "missed")
    journal = CommitsWhileRead(api.core)
    stream = _open(api, _hub(api), since, journal)
    sent: list[int] = []
    for _ in range(10):  # a heartbeat ends it: nothing more is queued
        if (chunk := next(stream)) == HEARTBEAT:
            break
        sent.extend(_ids(chunk))
    assert sent == [missed, *journal.revisions]
    stream.close()


def test_the_events_of_one_commit_share_its_id_and_go_in_one_chunk(api: Api) -> None:
    since = _add(api.core, "one")
    undone = _add(api.core, "two")
    undo = api.core.execute(Undo(revision=undone)).revision
    stream = _open(api, _hub(api), since)
    assert _ids(next(stream)) == [undone]
    both = _frames(next(stream))
    assert [int(f["id"]) for f in both] == [undo, undo] and len(both) == 2
    # live: the two events published one after the other also leave in one chunk
    redo = api.core.execute(Undo(revision=undo)).revision
    assert _ids(next(stream)) == [redo, redo]
    stream.close()


def test_late_live_events_are_filled_in_from_the_journal_and_never_sent_twice(
    api: Api,
) -> None:
    """Two commits published out of revision order (after their transactions, from two
    threads): the stream sends both in order when the later one arrives, and drops the late
    one."""
    bus = LocalBus()
    stream = _open(api, _hub(api, bus), None)
    one = _add(api.core, "one")
    two = _add(api.core, "two")
    late = api.core.events_since(0)
    assert [e.revision for e in late] == [one, two]
    bus.publish(late[1])
    assert _ids(next(stream)) == [one, two]
    bus.publish(late[0])  # the late one: already sent
    bus.publish(late[1])  # a duplicate
    assert next(stream) == HEARTBEAT
    three = _add(api.core, "three")
    bus.publish(api.core.events_since(two)[0])
    assert _ids(next(stream)) == [three]
    stream.close()


def test_an_id_older_than_the_oldest_kept_entry_gets_a_reset(tmp_path: Path) -> None:
    api = Api(tmp_path, journal_keep=2)  # retention keeps the newest 2 entries
    old = _add(api.core, "one")
    _add(api.core, "two")
    _add(api.core, "three")
    newest = _add(api.core, "four")
    api.core.storage.compact_journal()
    stats = api.core.storage.journal_stats()
    assert stats["entries"] == 2 and stats["oldest"] > old
    stream = _open(api, _hub(api), old)
    (reset,) = _frames(next(stream))
    assert reset["event"] == "reset" and int(reset["id"]) == newest
    assert "read everything again" in reset["data"]["reason"]
    assert reset["data"]["oldest"] == stats["oldest"]
    assert next(stream) == HEARTBEAT  # nothing replayed after a reset
    live = _add(api.core, "five")
    assert _ids(next(stream)) == [live]
    stream.close()
    api.close()


def test_an_id_from_before_the_first_entry_replays_the_whole_journal(api: Api) -> None:
    """The project as created (nothing journaled yet, nothing dropped since): no reset."""
    created = api.core.revision()
    first, second = _add(api.core, "one"), _add(api.core, "two")
    assert created < first
    stream = _open(api, _hub(api), created)
    assert [_ids(next(stream)), _ids(next(stream))] == [[first], [second]]
    stream.close()


def test_an_id_above_the_projects_revision_gets_a_reset(api: Api) -> None:
    current = _add(api.core, "one")
    stream = _open(api, _hub(api), current + 10**9)
    (reset,) = _frames(next(stream))
    assert reset["event"] == "reset" and int(reset["id"]) == current
    stream.close()


def test_a_stream_without_journal_ignores_ids_and_sends_the_bus_as_it_comes(api: Api) -> None:
    bus = LocalBus()
    hub = _hub(api, bus)
    stream = hub.open(heartbeat=0.05, last_event_id=5)
    assert next(stream) == GREETING
    bus.publish(Event("task.created", 9, "x"))
    bus.publish(Event("task.created", 3, "x"))
    assert [_ids(next(stream)), _ids(next(stream))] == [[9], [3]]
    stream.close()


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "", "١٢"])
def test_a_last_event_id_that_is_no_revision_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="Last-Event-ID"):
        parse_last_event_id(value)


def test_the_route_answers_400_to_a_bad_last_event_id_header_or_query(api: Api) -> None:
    assert_problem(
        api.get("/api/v1/events", headers={"Last-Event-ID": "yesterday"}),
        400,
        kind="invalid-last-event-id",
    )
    assert_problem(
        api.get("/api/v1/events", params={"lastEventId": "-3"}), 400, kind="invalid-last-event-id"
    )
    assert api.app.state.hub.open_streams == 0


def test_the_route_answers_503_when_the_journal_cannot_be_read(api: Api) -> None:
    since = _add(api.core, "one")
    _add(api.core, "two")
    sidecar = api.tasks_file.with_name(api.tasks_file.name + ".tm-journal")
    sidecar.unlink()
    sidecar.mkdir()  # reading it now fails (EISDIR)
    result = api.get("/api/v1/events", headers={"Last-Event-ID": str(since)})
    assert_problem(result, 503)
    assert api.app.state.hub.open_streams == 0  # the stream opened for it was released
    os.rmdir(sidecar)


# a real server -----------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    tm(tmp_path, "init")
    tm(tmp_path, "add-task", "--title", "first")
    served = start_server(tmp_path, TM_SSE_HEARTBEAT="0.2")
    try:
        yield tmp_path, served.port
    finally:
        served.stop()


def _stream(port: int, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/api/v1/events", headers=headers or {})
    response = conn.getresponse()
    assert response.status == 200
    return response


def _next_event(response: http.client.HTTPResponse, within: float = 10) -> dict[str, Any]:
    """The next event, its data decoded; fails if none comes `within` seconds."""
    fields: dict[str, Any] = dict(read_event(response, within=within))
    fields["data"] = orjson.loads(fields["data"])
    return fields


def test_a_tm_process_change_reaches_a_served_stream_with_its_actor_and_place(
    server: tuple[Path, int],
) -> None:
    """No Redis: the server learns of the other process's commit from its watcher, and
    announces it from the journal entry that process wrote."""
    root, port = server
    response = _stream(port)
    tm(root, "set-status", "1", "done")
    event = _next_event(response)
    assert event["event"] == "task.updated"
    assert event["data"]["actor"] == default_actor()
    assert ["master", "1", "status"] in event["data"]["changes"]
    response.close()


def test_a_client_reconnecting_with_last_event_id_gets_what_it_missed_over_http(
    server: tuple[Path, int],
) -> None:
    root, port = server
    response = _stream(port)
    tm(root, "set-status", "1", "in-progress")
    seen = int(_next_event(response)["id"])
    response.close()
    tm(root, "set-status", "1", "review")
    tm(root, "add-task", "--title", "second")
    for headers, query in (({"Last-Event-ID": str(seen)}, ""), ({}, f"?lastEventId={seen}")):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/api/v1/events" + query, headers=headers)
        resumed = conn.getresponse()
        assert resumed.status == 200
        events = [_next_event(resumed), _next_event(resumed)]
        assert [e["event"] for e in events] == ["task.updated", "task.created"]
        ids = [int(e["id"]) for e in events]
        assert seen < ids[0] < ids[1]
        assert ["master", "1", "status"] in events[0]["data"]["changes"]
        resumed.close()


def test_a_stale_write_back_reaches_a_served_stream_as_a_reversion(
    server: tuple[Path, int],
) -> None:
    """Another program writes back a copy it read before our commit: the stream carries the
    change's file.changed and then a change.reverted naming the commit whose value was lost."""
    root, port = server
    task_file = root / ".taskmaster" / "tasks.json"
    stale = task_file.read_bytes()
    tm(root, "set-status", "1", "done")
    response = _stream(port)
    temporary = task_file.with_name("tasks.json.tmp.77")
    temporary.write_bytes(stale)
    os.replace(temporary, task_file)
    kinds = []
    while "change.reverted" not in kinds:
        event = _next_event(response)
        kinds.append(event["event"])
    assert kinds[-2:] == ["file.changed", "change.reverted"]
    done = orjson.loads(tm(root, "history", "--json").stdout)["entries"][-2]
    assert done["command"] == "set-status"
    assert event["data"]["reverts"] == [done["revision"]]
    assert event["data"]["changes"] == [["master", "1", "status"]]
    response.close()
