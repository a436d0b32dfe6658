"""Write-ack -> first fresh answer, across processes; and in-process publish -> subscriber.

Another process commits a change: this one through the core, or a whole `tm set-status`
process; the clock starts when the commit is acknowledged (the call returned, the process
exited). Measured per change, on every running `tm serve` instance at once
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
import multiprocessing
import os
import random
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path

from benchmarks.data import synthetic_document
from benchmarks.project import (
    STORAGE_URL_ENV,
    postgres_cluster,
    postgres_project,
    scraped,
    scratch_project,
    start_server,
    start_url_server,
    supervised,
)
from benchmarks.stats import summarise
from harness.redis_server import RedisServer, redis_required, redis_server_binary
from harness.targets import tm_executable
from taskmaster.bus import LocalBus
from taskmaster.commands import SetStatus
from taskmaster.compose import Settings, open_project, open_storage
from taskmaster.core import TaskMaster
from taskmaster.events import TASK_UPDATED, Event
from taskmaster.model import TaskId

NAME = "invalidation"
DESCRIPTION = "commit acknowledged -> first fresh API answer / change event (p99 gate < 10 ms)"
TASKS = 100
TARGET_P99_MS = 10.0
# Changes made before measuring: the first few pay for cold caches and connections (they were
# the slowest samples of most runs), which is not what a running server costs.
WARM_UP = 10


def _listen(ports: list[int], arrivals: Queue, ready: ProcessEvent) -> None:  # type: ignore[type-arg]
    """One process reads every instance's event stream (a thread each) and reports
    (instance, revision, time). A process of its own: listener threads in the timing process
    would compete for its GIL. perf_counter is CLOCK_MONOTONIC, the same clock in every
    process."""
    connected = threading.Barrier(len(ports) + 1)

    def follow(index: int, port: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/api/v1/events")
        response = conn.getresponse()
        connected.wait()
        while line := response.fp.readline():
            if line.startswith(b"data:"):
                event = json.loads(line[5:])
                arrivals.put((index, int(event["revision"]), time.perf_counter()))

    for index, port in enumerate(ports):
        threading.Thread(target=follow, args=(index, port), daemon=True).start()
    connected.wait()
    ready.set()
    threading.Event().wait()  # until killed


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


def _all_arrived(arrivals: Queue, instances: int, revision: int) -> float:  # type: ignore[type-arg]
    """When the last instance's event stream delivered `revision` (or a later one)."""
    pending = set(range(instances))
    last = 0.0
    while pending:
        index, seen, at = arrivals.get(timeout=10)
        if index in pending and seen >= revision:
            pending.discard(index)
            last = max(last, at)
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


def _tm_set_status(root: Path, env: dict[str, str]) -> Callable[[str, str], None]:
    """A write by a whole `tm` process: acknowledged when the process has exited. Run in
    `root`, the project directory (or, for a project named by TM_STORAGE_URL in `env`, an
    empty directory)."""

    def write(task_id: str, status: str) -> None:
        subprocess.run(
            [tm_executable(), "set-status", task_id, status],
            check=True,
            capture_output=True,
            env=env,
            cwd=root,
        )

    return write


def _cross_process(
    changes: int,
    instances: int,
    redis_url: str | None = None,
    *,
    by_tm: bool = False,
    postgres_url: str | None = None,
) -> tuple[list[float], list[float]]:
    """The samples of `changes` changes seen by `instances` servers of one project: a task
    file's, or the PostgreSQL project at `postgres_url` (each server then runs in an empty
    directory of its own, the project named by TM_STORAGE_URL only)."""
    fresh, events = [], []
    env = {"TM_REDIS_URL": redis_url, "TM_WATCH": "0"} if redis_url else None
    with contextlib.ExitStack() as stack:
        supervisor = stack.enter_context(supervised())
        if postgres_url is None:
            root = stack.enter_context(scratch_project(TASKS))
            ports = [
                start_server(supervisor, root, f"server-{i}", env=env)[0] for i in range(instances)
            ]
            writer = open_project(root, settings=Settings(redis_url=redis_url)).core
            tm_env = {}
        else:
            ports = [
                start_url_server(supervisor, _empty_directory(stack), postgres_url, f"pg-{i}")[0]
                for i in range(instances)
            ]
            writer = TaskMaster(open_storage(postgres_url, Settings()))
            root = _empty_directory(stack)
            tm_env = {STORAGE_URL_ENV: postgres_url}
        stack.callback(writer.close)
        context = multiprocessing.get_context("fork")
        arrivals, ready = context.Queue(), context.Event()
        listener = context.Process(target=_listen, args=(ports, arrivals, ready), daemon=True)
        listener.start()
        stack.callback(listener.join)
        stack.callback(listener.kill)
        ready.wait(10)
        # Bytecode caching on, as a user's `tm` has it (this sandbox may switch it off).
        tm_env.update({k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
        write = _tm_set_status(root, tm_env) if by_tm else _direct_set_status(writer)
        conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for port in ports]
        for conn in conns:
            stack.callback(conn.close)
        for i in range(-WARM_UP, changes):
            step = i % (2 * TASKS)
            task_id = 1 + step % TASKS
            status = ("in-progress", "done")[step // TASKS]
            before = writer.revision()
            write(str(task_id), status)
            acked = time.perf_counter()
            revision = writer.revision()  # the write's revision (nothing else writes here)
            assert revision > before, f"step {i} changed nothing"
            seen_fresh = _all_fresh(conns, task_id, status)
            seen_event = _all_arrived(arrivals, instances, revision)
            if i >= 0:  # the warm-up changes are not measured
                fresh.append((seen_fresh - acked) * 1000)
                events.append((seen_event - acked) * 1000)
    return fresh, events


def _empty_directory(stack: contextlib.ExitStack) -> Path:
    return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tm-bench-")))


def _direct_set_status(writer: TaskMaster) -> Callable[[str, str], object]:
    """A set-status through the facade, called like `_tm_set_status`'s function."""
    return lambda task_id, status: writer.execute(
        SetStatus(ids=(TaskId.parse(task_id),), status=status)
    )


def _summed(ports: list[int], names: tuple[str, ...]) -> list[float]:
    """Each metric of `names` summed over the servers at `ports` (one scrape each)."""
    return [sum(values) for values in zip(*(scraped(port, *names) for port in ports), strict=True)]


def _l2_hit_rate(redis_url: str, rounds: int, reads_per_write: int) -> dict[str, object]:
    """A read-heavy mix on 3 instances sharing Redis: one write, then reads spread over the
    instances (the collection and single tasks). Counts the shared cache's hits on L1 misses."""
    env = {"TM_REDIS_URL": redis_url}
    rng = random.Random(7)
    with scratch_project(TASKS) as root, supervised() as supervisor:
        ports = [start_server(supervisor, root, f"server-{i}", env=env)[0] for i in range(3)]
        writer = open_project(root, settings=Settings(redis_url=redis_url)).core
        conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for port in ports]
        names = ("tm_l2_cache_hits_total", "tm_l2_cache_misses_total")
        before = _summed(ports, names)
        for i in range(rounds):
            _direct_set_status(writer)(str(1 + i % TASKS), ("in-progress", "done")[i // TASKS % 2])
            for _ in range(reads_per_write):
                conn = rng.choice(conns)
                path = rng.choice(("/api/v1/tasks", f"/api/v1/tasks/{rng.randint(1, 5)}"))
                conn.request("GET", path)
                conn.getresponse().read()
        hits, misses = (
            after - start for after, start in zip(_summed(ports, names), before, strict=True)
        )
        writer.close()
        for conn in conns:
            conn.close()
    return {
        "benchmark": NAME,
        "case": f"L2 hit rate, 3 instances, 1 write : {reads_per_write} reads",
        "n": rounds * reads_per_write,
        "l2_hits": hits,
        "l2_misses": misses,
        "l2_hit_rate": hits / (hits + misses) if hits + misses else 0.0,
    }


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


def _rows(
    case: str, fresh: list[float], events: list[float] | None = None
) -> list[dict[str, object]]:
    gate = {"target_p99_ms": TARGET_P99_MS}
    measured = [("fresh GET", fresh)] + ([("SSE event", events)] if events is not None else [])
    return [
        {
            "benchmark": NAME,
            "case": f"ack -> {what}, {case}",
            **summarise(samples),
            **gate,
            "samples_ms": samples,
        }
        for what, samples in measured
    ]


def run(*, quick: bool = False) -> list[dict[str, object]]:
    changes = 200 if quick else 500
    rows = _rows("1 instance", *_cross_process(changes, 1))
    # Only the fresh read for `tm`: its event reaches the stream ~15 ms before the process has
    # exited (interpreter shutdown), so "ack -> event" would be negative.
    by_tm, _ = _cross_process(changes // 4, 1, by_tm=True)
    rows += _rows("tm writer, 1 instance", by_tm)
    rows += _rows("3 instances", *_cross_process(changes, 3))
    with postgres_cluster(NAME) as server:
        if server is not None:
            # No Redis, no task file: the instances learn of changes by LISTEN/NOTIFY only.
            url = postgres_project(server, synthetic_document(TASKS), "invalidation")
            rows += _rows(
                "3 instances, PostgreSQL NOTIFY", *_cross_process(changes, 3, postgres_url=url)
            )
    with _redis() as redis_url:
        if redis_url is not None:
            rows += _rows(
                "3 instances, Redis, no watcher",
                *_cross_process(changes, 3, redis_url),
            )
            rows.append(_l2_hit_rate(redis_url, rounds=20 if quick else 60, reads_per_write=30))
    rows.append(
        {
            "benchmark": NAME,
            "case": "in-process publish -> handler",
            **summarise(_in_process(changes)),
        }
    )
    return rows
