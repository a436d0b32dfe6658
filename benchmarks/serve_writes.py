"""`tm serve`'s writes: throughput under 8 clients against a durable SQLite app, and one write's
latency against a bare durable write of the same bytes.

Throughput, side by side in one run, 8 keep-alive HTTP clients (one process each), every client
changing its own task's status in a loop (two statuses in turn, so every request is a change):

- tm serve:    `PUT /api/v1/tasks/{id}/status` on `tm serve` (file storage, as shipped, the
               default thread count) over a 100-task project;
- tm serve, TM_REFERENCE_LOCK=0: the same on a second server without the reference tool's
               lock, so that `ratio_to_no_reference_lock` says what that lock costs;
- tm serve (PostgreSQL): the same on a server whose project is stored in PostgreSQL (a
               durable cluster the benchmark starts itself, as benchmarks/contention.py):
               its group commit is one database transaction and one COMMIT per group;
- sqlite http: the same route and body on a Falcon + waitress app of the benchmark's own
               (benchmarks/sqlite_app.py, same thread count), one SQLite WAL
               `synchronous=FULL` UPDATE per request: the target, tm serve >= 1.0 x this;
- health:      `GET /api/v1/health` on the same `tm serve`, which writes nothing: the HTTP
               stack's ceiling, and what the 8 clients themselves can reach;
- sqlite bare: 8 processes, each its own UPDATE-and-commit loop with no HTTP: for reference;
- tm in process: the same writes from 8 threads of the benchmark's own process, through the
               facade `tm serve` writes with (`TaskMaster.execute`: the kept document, group
               commit, a watcher) on a project of their own, with no HTTP: what the storage
               path alone costs, next to what the HTTP stack costs (health).

`cpu_ms_per_request` is the CPU time (user + system, from /proc) that the process serving a
case used over its measured rounds, per acknowledged request: with health's and tm in
process's, it says how a tm serve write's CPU divides between the HTTP stack and the storage
path, against the SQLite app's whole request; `cores_used` is that CPU time over the rounds'
length (a Python process's threads share one interpreter lock: about one core at most, but
for what they do in system calls).

Each tm serve's own counters (`/metrics`, scraped before and after the measured rounds) give
`writes_per_group`, the writes a commit held, and `wait_per_group_ms`, how long a group's leader
waited for the writers it expected (`taskmaster/group_commit.py`).

The cases take turns over rounds, in alternating order (as benchmarks/api.py), and tm serve's
ratio is the median of the rounds' ratios, so both sides of each ratio were measured seconds
apart. Every response must be 2xx; after every round the task file must hold each client's
last acknowledged status (`lost_writes` counts, over the rounds, the clients whose write it
does not hold).

Latency: sequential set-status requests on one keep-alive connection to `tm serve` at 100 and
10,000 tasks, each timed alternately with a floor, the bare durable write of the same bytes
(the document serialised as the task file is, then temporary file, fsync, rename, directory
fsync: benchmarks/transaction.py's `durable_replace`); `ratio_to_floor` is the median of the
rounds' ratios, target 1.5.
"""

from __future__ import annotations

import http.client
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from benchmarks.data import synthetic_document
from benchmarks.fanout import run_together
from benchmarks.project import (
    cpu_seconds,
    create_project,
    postgres_cluster,
    postgres_project,
    scraped,
    start_http,
    start_server,
    start_url_server,
    supervised,
)
from benchmarks.sqlite_app import connect, create_db
from benchmarks.stats import summarise
from benchmarks.transaction import durable_replace
from taskmaster.commands.tasks import SetStatus
from taskmaster.compose import Settings, open_project, open_storage
from taskmaster.config import DEFAULT_THREADS, REFERENCE_LOCK_ENV
from taskmaster.model import DEFAULT_TAG

NAME = "serve_writes"
DESCRIPTION = (
    "tm serve set-status writes/s, 8 clients, vs a durable SQLite app and GET health; one "
    "write's latency vs a bare durable write of the same bytes"
)
CLIENTS = 8
TASKS = 100
STATUSES = ("in-progress", "done")
"""Each client sets these in turn; every task starts at the second, so the first is a change."""
TARGET_RATIO_TO_SQLITE_HTTP = 1.0
UNLOCKED = "tm serve, TM_REFERENCE_LOCK=0"
POSTGRES = "tm serve (PostgreSQL)"
IN_PROCESS = "tm in process"
TARGET_RATIO_TO_FLOOR = 1.5
LATENCY_SIZES = (100, 10000)


def status_path(task_id: int) -> str:
    return f"/api/v1/tasks/{task_id}/status"


def next_status(previous: str) -> str:
    """The status that changes a task holding `previous`."""
    return STATUSES[(STATUSES.index(previous) + 1) % len(STATUSES)]


def lost_writes(acknowledged: Mapping[int, str], held: Mapping[int, Any]) -> int:
    """How many tasks do not hold the last status acknowledged for them."""
    return sum(held.get(task_id) != status for task_id, status in acknowledged.items())


def held_statuses(document: Mapping[str, Any], tag: str = DEFAULT_TAG) -> dict[int, Any]:
    """Task id -> status, as a task file (tag -> {"tasks": [...]}) holds them."""
    return {task["id"]: task.get("status") for task in document[tag]["tasks"]}


# clients ---------------------------------------------------------------------------------------


def _http_client(
    port: int,
    task_id: int | None,
    first: str,
    seconds: float,
    barrier: Any,
    results: Any,
) -> None:
    """Loop for `seconds` on one keep-alive connection: set-status on `task_id` (statuses in
    turn from `first`), or GET health when `task_id` is None. Reports (task_id, acknowledged,
    failed, last acknowledged status, first failure)."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.connect()
    except OSError as err:
        results.put(("error", f"cannot connect to port {port}: {err}"))
        return
    headers = {"Content-Type": "application/json"}
    acknowledged = failed = 0
    status, last, failure = first, None, ""
    barrier.wait()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        if task_id is None:
            connection.request("GET", "/api/v1/health")
        else:
            body = orjson.dumps({"status": status})
            connection.request("PUT", status_path(task_id), body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        if 200 <= response.status < 300:
            acknowledged += 1
            if task_id is not None:
                last, status = status, next_status(status)
        else:
            failed += 1
            failure = failure or f"{response.status} {answer[:200]!r}"
    connection.close()
    results.put((task_id, acknowledged, failed, last, failure))


def _bare_sqlite_client(
    db: str, task_id: int, first: str, seconds: float, barrier: Any, results: Any
) -> None:
    """The same writes straight into SQLite, no HTTP: one UPDATE-and-commit after another."""
    connection = connect(Path(db))
    acknowledged, status, last = 0, first, None
    barrier.wait()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("UPDATE tasks SET status = ? WHERE id = ?", (status, task_id))
        connection.execute("COMMIT")
        acknowledged += 1
        last, status = status, next_status(status)
    connection.close()
    results.put((task_id, acknowledged, 0, last, ""))


def _in_process_round(root: str, seconds: float, statuses: dict[int, str]) -> tuple[int, int, str]:
    """The clients' writes from 8 threads of this process, each its own task's status in a
    loop, through the facade a server writes with, on the project at `root` (opened for the
    round, so that no thread of it runs while the other cases fork their clients)."""
    project = open_project(Path(root), settings=Settings(keep_document=True))
    project.core.watch()  # as tm serve's: the writes' own file events reach a watcher too
    counts = dict.fromkeys(statuses, 0)
    failures: list[str] = []
    barrier = threading.Barrier(len(statuses))

    def writer(task_id: int) -> None:
        status = next_status(statuses[task_id])
        barrier.wait()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            args = {"ids": [str(task_id)], "status": status, "tag": None}
            try:
                project.core.execute(SetStatus.from_args(args))
            except Exception as err:  # counted and shown, as an HTTP client's non-2xx
                failures.append(f"{type(err).__name__}: {err}")
                continue
            counts[task_id] += 1
            statuses[task_id], status = status, next_status(status)

    threads = [threading.Thread(target=writer, args=(task_id,)) for task_id in statuses]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        project.close()
    return sum(counts.values()), len(failures), failures[0] if failures else ""


def _clients_round(
    case: str, target: int | str, seconds: float, statuses: dict[int, str]
) -> tuple[int, int, str]:
    """One timed round of the 8 clients on `case`; (acknowledged, failed, first failure).
    `statuses` (task id -> last acknowledged status) is updated for the next round."""
    if case == IN_PROCESS:
        return _in_process_round(str(target), seconds, statuses)
    if case == "sqlite bare":
        worker: Any = _bare_sqlite_client
        argses = [(target, i, next_status(statuses[i]), seconds) for i in statuses]
    elif case == "health":
        worker = _http_client
        argses = [(target, None, STATUSES[0], seconds) for _ in range(CLIENTS)]
    else:
        worker = _http_client
        argses = [(target, i, next_status(statuses[i]), seconds) for i in statuses]
    reports = run_together(
        worker, argses, timeout=seconds + 120, failed_to_start=f"a {case} client"
    )
    for task_id, _, _, last, _ in reports:
        if task_id is not None and last is not None:
            statuses[task_id] = last
    failures = [report[4] for report in reports if report[4]]
    return (
        sum(report[1] for report in reports),
        sum(report[2] for report in reports),
        failures[0] if failures else "",
    )


def _stored_statuses(url: str) -> dict[int, Any]:
    """Each task's status as the database holds it, read by a storage of its own."""
    storage = open_storage(url, Settings())
    try:
        return held_statuses(storage.read().document.data)
    finally:
        storage.close()


def _sqlite_held(db: Path) -> dict[int, Any]:
    connection = sqlite3.connect(db)
    try:
        return dict(connection.execute("SELECT id, status FROM tasks").fetchall())
    finally:
        connection.close()


def _write_groups(port: int) -> tuple[float, float, float]:
    """(commits, writes they held, seconds leaders waited) so far, as the server at `port`
    counts them."""
    groups, writes, waited = scraped(
        port,
        "tm_write_groups_total",
        "tm_write_group_writes_total",
        "tm_write_group_wait_seconds_total",
    )
    return groups, writes, waited


def throughput(rounds: int, seconds: float) -> list[dict[str, object]]:
    with (
        tempfile.TemporaryDirectory(prefix="tm-bench-serve-") as scratch,
        postgres_cluster(NAME) as cluster,
        supervised() as supervisor,
    ):
        root = Path(scratch) / "project"
        root.mkdir()
        document = synthetic_document(TASKS)
        owned = list(range(1, CLIENTS + 1))
        for task in document.data[DEFAULT_TAG]["tasks"]:
            if task["id"] in owned:
                task["status"] = STATUSES[-1]
        task_file = create_project(root, document)
        # The same server with the reference tool's lock turned off: what that lock costs.
        unlocked_root = Path(scratch) / "unlocked"
        unlocked_root.mkdir()
        unlocked_file = create_project(unlocked_root, document)
        http_db, bare_db = Path(scratch) / "http.sqlite", Path(scratch) / "bare.sqlite"
        create_db(http_db, TASKS, STATUSES[-1])
        create_db(bare_db, TASKS, STATUSES[-1])
        # The storage path alone, in this process: a project of its own.
        in_process_root = Path(scratch) / "in-process"
        in_process_root.mkdir()
        in_process_file = create_project(in_process_root, document)
        threads = str(DEFAULT_THREADS)
        tm_port, tm_proc = start_server(supervisor, root, "tm serve", "--threads", threads)
        unlocked_port, unlocked_proc = start_server(
            supervisor,
            unlocked_root,
            UNLOCKED,
            "--threads",
            threads,
            env={REFERENCE_LOCK_ENV: "0"},
        )
        sqlite_port, sqlite_proc = start_http(
            supervisor,
            "sqlite http",
            lambda port: [
                *(sys.executable, "-m", "benchmarks.sqlite_app"),
                *("--port", str(port), "--db", str(http_db), "--threads", threads),
            ],
        )
        targets: dict[str, int | str] = {
            "tm serve": tm_port,
            UNLOCKED: unlocked_port,
            "sqlite http": sqlite_port,
            "health": tm_port,
            "sqlite bare": str(bare_db),
            IN_PROCESS: str(in_process_root),
        }
        # Whose CPU time a case's requests cost: the process that served them.
        serving = {
            "tm serve": tm_proc.pid,
            UNLOCKED: unlocked_proc.pid,
            "sqlite http": sqlite_proc.pid,
            "health": tm_proc.pid,
            IN_PROCESS: os.getpid(),
        }
        holders: dict[str, Callable[[], dict[int, Any]]] = {
            "tm serve": lambda: held_statuses(orjson.loads(task_file.read_bytes())),
            UNLOCKED: lambda: held_statuses(orjson.loads(unlocked_file.read_bytes())),
            "sqlite http": lambda: _sqlite_held(http_db),
            "sqlite bare": lambda: _sqlite_held(bare_db),
            IN_PROCESS: lambda: held_statuses(orjson.loads(in_process_file.read_bytes())),
        }
        if cluster is not None:
            url = postgres_project(cluster, document, prefix="serve")
            empty = Path(scratch) / "postgres-instance"
            empty.mkdir()
            targets[POSTGRES], postgres_proc = start_url_server(
                supervisor, empty, url, POSTGRES, "--threads", threads
            )
            serving[POSTGRES] = postgres_proc.pid
            holders[POSTGRES] = lambda: _stored_statuses(url)
        statuses = {case: dict.fromkeys(owned, STATUSES[-1]) for case in targets}
        # Checked after every round, each client's last write a change from the one before:
        # a write dropped at the end of any round shows, and a store that kept nothing at all
        # cannot pass by the chance that a round ended on the status the task started with.
        lost = dict.fromkeys(holders, 0)
        for case, target in targets.items():  # warm up: connections, caches, the WAL
            _clients_round(case, target, 0.3, statuses[case])
            if case in holders:
                lost[case] += lost_writes(statuses[case], holders[case]())
        # How each server grouped the measured rounds' writes into commits, from its metrics.
        grouped_ports = {
            case: int(targets[case]) for case in ("tm serve", UNLOCKED, POSTGRES) if case in targets
        }
        before = {case: _write_groups(port) for case, port in grouped_ports.items()}
        measured: dict[str, list[tuple[int, int, str]]] = {case: [] for case in targets}
        # Each round's CPU time of the serving process (None where /proc could not say).
        spent: dict[str, list[float | None]] = {case: [] for case in serving}
        for round_ in range(rounds):
            order = list(targets) if round_ % 2 == 0 else list(reversed(targets))
            for case in order:
                pid = serving.get(case)
                started = cpu_seconds(pid) if pid is not None else None
                measured[case].append(_clients_round(case, targets[case], seconds, statuses[case]))
                if pid is not None:
                    ended = cpu_seconds(pid)
                    spent[case].append(
                        None if started is None or ended is None else ended - started
                    )
                if case in holders:
                    lost[case] += lost_writes(statuses[case], holders[case]())
        grouping: dict[str, dict[str, float]] = {}
        for case, port in grouped_ports.items():
            groups, writes, waited = (
                after - earlier
                for after, earlier in zip(_write_groups(port), before[case], strict=True)
            )
            if groups > 0:
                grouping[case] = {
                    "writes_per_group": writes / groups,
                    "wait_per_group_ms": waited / groups * 1000,
                }
    rates = {case: [ack / seconds for ack, _, _ in runs] for case, runs in measured.items()}
    rows: list[dict[str, object]] = []
    for case, runs in measured.items():
        who = {"sqlite bare": "processes, no HTTP", IN_PROCESS: "threads, no HTTP"}.get(
            case, "clients"
        )
        failures = [failure for _, _, failure in runs if failure]
        row: dict[str, object] = {
            "benchmark": NAME,
            "case": f"{case}, {CLIENTS} {who}, {TASKS} tasks",
            "n": sum(ack for ack, _, _ in runs),
            "rounds": rounds,
            "requests_per_s": statistics.median(rates[case]),
            "requests_per_s_each": [round(rate) for rate in rates[case]],
            "acknowledged": sum(ack for ack, _, _ in runs),
            "failed": sum(fail for _, fail, _ in runs),
            **({"first_failure": failures[0]} if failures else {}),
        }
        if case in lost:
            row["lost_writes"] = lost[case]
        row.update(grouping.get(case, {}))
        cpu = spent.get(case, [])
        if cpu and None not in cpu and row["acknowledged"]:
            used = sum(seconds_of for seconds_of in cpu if seconds_of is not None)
            row["cpu_ms_per_request"] = used / sum(ack for ack, _, _ in runs) * 1000
            row["cores_used"] = used / (rounds * seconds)
        if case in ("tm serve", POSTGRES, IN_PROCESS):
            row["ratio_to_sqlite_http"] = statistics.median(
                ours / theirs
                for ours, theirs in zip(rates[case], rates["sqlite http"], strict=True)
            )
        if case == "tm serve":
            row["target_ratio_to_sqlite_http"] = TARGET_RATIO_TO_SQLITE_HTTP
            row["ratio_to_no_reference_lock"] = statistics.median(
                ours / theirs for ours, theirs in zip(rates[case], rates[UNLOCKED], strict=True)
            )
        rows.append(row)
    return rows


# latency ---------------------------------------------------------------------------------------


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def latency(tasks: int, rounds: int, per_round: int) -> dict[str, object]:
    """Sequential set-status requests on one connection to `tm serve`, each followed by the
    floor: the same document, serialised as the task file is, written durably."""
    with (
        tempfile.TemporaryDirectory(prefix="tm-bench-serve-") as scratch,
        supervised() as supervisor,
    ):
        root = Path(scratch)
        document = synthetic_document(tasks)
        task_file = create_project(root, document)
        floor_target = root / "floor.json"  # same file system
        floor_document = orjson.loads(task_file.read_bytes())
        port, _ = start_server(supervisor, root, "tm serve", "--threads", str(DEFAULT_THREADS))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Content-Type": "application/json"}
        step = 0

        def write() -> None:
            nonlocal step
            # 7 is coprime with the task counts: every task in turn, the status flipping
            # from one pass to the next, so every request is a change.
            task_id = 1 + (step * 7) % tasks
            status = STATUSES[(step // tasks) % 2]
            body = orjson.dumps({"status": status})
            connection.request("PUT", status_path(task_id), body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            if response.status != 200:
                raise RuntimeError(f"set-status answered {response.status}: {answer[:200]!r}")
            step += 1

        def floor() -> None:
            # As Document.to_json serialises the task file.
            data = orjson.dumps(floor_document, option=orjson.OPT_INDENT_2) + b"\n"
            durable_replace(data, floor_target)

        for _ in range(3):
            write()
            floor()
        round_samples: list[list[float]] = []
        floor_samples: list[list[float]] = []
        for _ in range(rounds):
            samples, floors = [], []
            for _ in range(per_round):
                start = time.perf_counter()
                floor()
                floors.append(_ms_since(start))
                start = time.perf_counter()
                write()
                samples.append(_ms_since(start))
            round_samples.append(samples)
            floor_samples.append(floors)
        connection.close()
        size = task_file.stat().st_size
    round_medians = [statistics.median(samples) for samples in round_samples]
    floor_medians = [statistics.median(floors) for floors in floor_samples]
    return {
        "benchmark": NAME,
        "case": f"sequential set-status, {tasks} tasks, {size / 1024:,.0f} KiB",
        "tasks": tasks,
        "file_bytes": size,
        **summarise([sample for samples in round_samples for sample in samples]),
        "round_medians_ms": round_medians,
        "best_round_median_ms": min(round_medians),
        "floor_median_ms": statistics.median(f for floors in floor_samples for f in floors),
        "floor_round_medians_ms": floor_medians,
        "floor_best_round_median_ms": min(floor_medians),
        "ratio_to_floor": statistics.median(
            ours / bare for ours, bare in zip(round_medians, floor_medians, strict=True)
        ),
        "target_ratio_to_floor": TARGET_RATIO_TO_FLOOR,
    }


def run(*, quick: bool = False) -> list[dict[str, object]]:
    rows = throughput(*((3, 2.0) if quick else (5, 4.0)))
    for tasks in LATENCY_SIZES:
        # A write at 10,000 tasks takes ~15 ms: fewer of them per round than at 100 tasks, in
        # more rounds. Six per quick round, not three: with three, one slow write in a round
        # moved its median, and the ratio's spread over one day's runs was 0.95-1.66 x; with
        # six, 0.92-1.07 x. Nine quick rounds of eight, not five of six: single samples on a
        # shared machine vary by half either way, and one run in five rounds still read 1.55 x
        # where the others read 0.93-0.96 x; the median of nine rounds needs five disturbed.
        per_round = (10 if quick else 30) if tasks <= 1000 else 8
        rounds = 5 if tasks <= 1000 else 9
        rows.append(latency(tasks, rounds if quick else rounds + 2, per_round))
    return rows


__all__: Sequence[str] = (
    "held_statuses",
    "latency",
    "lost_writes",
    "next_status",
    "run",
    "throughput",
)
