"""Write-ack -> first fresh answer, across processes; and in-process publish -> subscriber.

Another process (this one) commits a change with the core, as `tm` would; the clock starts when
the commit is acknowledged. Measured per change, on every running `tm serve` instance at once
(requests go out to all instances before any answer is read; with several instances the figure
is the slowest instance's):
- fresh read: until a GET of that task first shows the new value;
- event: until the instance's SSE stream delivers the change, which is also when its cache
  drops the old entries. Without Redis the event comes from each instance's file watcher;
  in the Redis case the watchers are off, so it is the writer's pub/sub message that arrives.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import queue
import threading
import time
from collections.abc import Iterator

from benchmarks.project import scratch_project, start_server, supervised
from benchmarks.stats import summarise
from harness.redis_server import RedisServer, redis_required, redis_server_binary
from taskmaster.bus import EventBus, LocalBus
from taskmaster.core import TaskMaster
from taskmaster.events import TASK_UPDATED, Event
from taskmaster.project import locate

NAME = "invalidation"
DESCRIPTION = "commit acknowledged -> first fresh API answer / change event (p99 gate < 10 ms)"
TASKS = 100
TARGET_P99_MS = 10.0


def _listen(port: int, arrivals: queue.Queue[tuple[int, float]], ready: threading.Event) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/api/v1/events")
    response = conn.getresponse()
    ready.set()
    while True:
        line = response.fp.readline()
        if not line:
            return
        if line.startswith(b"data:"):
            event = json.loads(line[5:])
            arrivals.put((int(event["revision"]), time.perf_counter()))


def _all_fresh(conns: list[http.client.HTTPConnection], task_id: int, status: str) -> float:
    """When the last instance first answered with `status`."""
    pending = list(conns)
    last = time.perf_counter()
    while pending:
        for conn in pending:
            conn.request("GET", f"/api/v1/tasks/{task_id}")
        still = []
        for conn in pending:
            body = json.loads(conn.getresponse().read())
            if body.get("status") == status:
                last = time.perf_counter()
            else:
                still.append(conn)
        pending = still
    return last


def _all_arrived(arrivals: list[queue.Queue[tuple[int, float]]], revision: int) -> float:
    """When the last instance's event stream delivered `revision` (or a later one)."""
    last = 0.0
    for inbox in arrivals:
        while True:
            seen, at = inbox.get(timeout=10)
            if seen >= revision:
                last = max(last, at)
                break
    return last


@contextlib.contextmanager
def _redis() -> Iterator[str | None]:
    if redis_server_binary() is None:
        if redis_required():
            raise SystemExit("the invalidation benchmark's Redis case needs redis-server")
        yield None
        return
    with RedisServer(name="bench-redis") as server:
        yield server.url


def _cross_process(
    changes: int, instances: int, redis_url: str | None = None
) -> tuple[list[float], list[float]]:
    fresh, events = [], []
    env = {"TM_REDIS_URL": redis_url, "TM_WATCH": "0"} if redis_url else None
    with scratch_project(TASKS) as root, supervised() as supervisor:
        ports = [
            start_server(supervisor, root, f"server-{i}", env=env)[0] for i in range(instances)
        ]
        arrivals: list[queue.Queue[tuple[int, float]]] = []
        for port in ports:
            inbox: queue.Queue[tuple[int, float]] = queue.Queue()
            ready = threading.Event()
            threading.Thread(target=_listen, args=(port, inbox, ready), daemon=True).start()
            ready.wait(10)
            arrivals.append(inbox)
        bus: EventBus | None = None
        if redis_url:
            from taskmaster.redis import redis_bus

            bus = redis_bus(redis_url, locate(root).tasks_file)
        writer = TaskMaster.open(root, bus=bus)
        conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for port in ports]
        for i in range(changes):
            task_id = 1 + i % TASKS
            status = ("in-progress", "done")[i // TASKS % 2]
            writer.set_status(str(task_id), status)
            acked = time.perf_counter()
            commit = writer.last_commit()
            assert commit is not None
            fresh.append((_all_fresh(conns, task_id, status) - acked) * 1000)
            events.append((_all_arrived(arrivals, commit.revision) - acked) * 1000)
        writer.close()
        writer.bus.close()
        for conn in conns:
            conn.close()
    return fresh, events


def _in_process(changes: int) -> list[float]:
    bus = LocalBus()
    received: list[float] = []
    bus.subscribe(lambda event: received.append(time.perf_counter()))
    samples = []
    for i in range(changes):
        start = time.perf_counter()
        bus.publish(Event(TASK_UPDATED, i + 1, origin="bench"))
        samples.append((received[-1] - start) * 1000)
    return samples


def _rows(case: str, fresh: list[float], events: list[float]) -> list[dict[str, object]]:
    gate = {"target_p99_ms": TARGET_P99_MS}
    return [
        {"benchmark": NAME, "case": f"ack -> fresh GET, {case}", **summarise(fresh), **gate,
         "samples_ms": fresh},
        {"benchmark": NAME, "case": f"ack -> SSE event, {case}", **summarise(events), **gate,
         "samples_ms": events},
    ]  # fmt: skip


def run(*, quick: bool = False) -> list[dict[str, object]]:
    changes = 200 if quick else 500
    rows = _rows("1 instance", *_cross_process(changes, 1))
    rows += _rows("3 instances", *_cross_process(changes, 3))
    with _redis() as redis_url:
        if redis_url is not None:
            rows += _rows(
                "3 instances, Redis, no watcher",
                *_cross_process(changes, 3, redis_url),
            )
    rows.append(
        {
            "benchmark": NAME,
            "case": "in-process publish -> handler",
            **summarise(_in_process(changes)),
        }
    )
    return rows
