"""Write-ack -> first fresh answer, across processes; and in-process publish -> subscriber.

Another process (this one) commits a change with the core, as `tm` would; the clock starts when
the commit is acknowledged. Measured per change:
- fresh read: until a GET of that task on a running `tm serve` first shows the new value;
- event: until the server's SSE stream delivers the change (file watcher -> bus -> subscriber),
  which is also when its cache drops the old entries.
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time

from benchmarks.project import scratch_project, start_server, supervised
from benchmarks.stats import summarise
from taskmaster.bus import LocalBus
from taskmaster.core import TaskMaster
from taskmaster.events import TASK_UPDATED, Event

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


def _first_fresh(conn: http.client.HTTPConnection, task_id: int, status: str) -> float:
    while True:
        conn.request("GET", f"/api/v1/tasks/{task_id}")
        response = conn.getresponse()
        body = json.loads(response.read())
        if body.get("status") == status:
            return time.perf_counter()


def _cross_process(changes: int) -> tuple[list[float], list[float]]:
    fresh, events = [], []
    with scratch_project(TASKS) as root, supervised() as supervisor:
        port, _ = start_server(supervisor, root, "server")
        arrivals: queue.Queue[tuple[int, float]] = queue.Queue()
        ready = threading.Event()
        threading.Thread(target=_listen, args=(port, arrivals, ready), daemon=True).start()
        ready.wait(10)
        writer = TaskMaster.open(root)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for i in range(changes):
            task_id = 1 + i % TASKS
            status = ("in-progress", "done")[i // TASKS % 2]
            writer.set_status(str(task_id), status)
            acked = time.perf_counter()
            revision = writer.last_commit().revision
            fresh.append((_first_fresh(conn, task_id, status) - acked) * 1000)
            while True:
                seen, at = arrivals.get(timeout=10)
                if seen >= revision:
                    events.append((at - acked) * 1000)
                    break
        writer.close()
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


def run(*, quick: bool = False) -> list[dict[str, object]]:
    changes = 200 if quick else 500
    fresh, events = _cross_process(changes)
    gate = {"target_p99_ms": TARGET_P99_MS}
    return [
        {
            "benchmark": NAME,
            "case": "ack -> fresh GET, 1 instance",
            **summarise(fresh),
            **gate,
            "samples_ms": fresh,
        },
        {
            "benchmark": NAME,
            "case": "ack -> SSE event, 1 instance",
            **summarise(events),
            **gate,
            "samples_ms": events,
        },
        {
            "benchmark": NAME,
            "case": "in-process publish -> handler",
            **summarise(_in_process(changes)),
        },
    ]
