"""The in-process event bus."""

from __future__ import annotations

import pickle
import threading

from taskmaster.bus import LocalBus
from taskmaster.events import FILE_CHANGED, TASK_CREATED, TASK_UPDATED, Event


def event(kind: str = TASK_UPDATED, revision: int = 1) -> Event:
    return Event(kind, revision, origin="test", tag="master", ids=("3",))


def test_subscribers_get_matching_events_until_they_unsubscribe() -> None:
    bus = LocalBus()
    tasks: list[Event] = []
    files: list[Event] = []
    stop_tasks = bus.subscribe(tasks.append, "task.*")
    bus.subscribe(files.append, FILE_CHANGED)
    bus.publish(event(TASK_CREATED, 1))
    bus.publish(event(FILE_CHANGED, 2))
    stop_tasks()
    bus.publish(event(TASK_UPDATED, 3))
    assert [e.revision for e in tasks] == [1]
    assert [e.revision for e in files] == [2]


def test_a_failing_subscriber_does_not_stop_the_others() -> None:
    bus = LocalBus()
    seen: list[int] = []

    def broken(_: Event) -> None:
        raise RuntimeError("boom")

    bus.subscribe(broken)
    bus.subscribe(lambda e: seen.append(e.revision))
    bus.publish(event(revision=7))
    assert seen == [7]


def test_publishing_from_many_threads_delivers_every_event_once() -> None:
    bus = LocalBus()
    seen: list[int] = []
    lock = threading.Lock()

    def record(e: Event) -> None:
        with lock:
            seen.append(e.revision)

    bus.subscribe(record)
    threads = [
        threading.Thread(
            target=lambda base=base: [bus.publish(event(revision=base + i)) for i in range(200)]
        )
        for base in range(0, 800, 200)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(800))


def test_events_are_immutable_values_that_round_trip() -> None:
    original = event(TASK_CREATED, 42)
    assert Event.from_dict(original.to_dict()) == original
    assert pickle.loads(pickle.dumps(original)) == original
    assert original.to_dict()["ids"] == ["3"]
