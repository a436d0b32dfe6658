"""Concurrent writers: set-status transactions from 1 to 8 processes, four stores side by side.

- taskmaster: `FileStorage.transact` as shipped (lock, re-read, durable atomic replace);
- postgresql: the PostgreSQL backend as shipped (`open_storage(URL)`, one database transaction
              per write, the project's row lock), on a cluster the benchmark starts itself with
              fsync and synchronous_commit on: every acknowledged commit is on disk, the same
              durability as SQLite's synchronous=FULL;
- naive:      `harness.baseline.NaiveFileStore` (no lock, truncate-and-write, no fsync);
- sqlite:     stdlib sqlite3, WAL, `synchronous=FULL`, one UPDATE per transaction.

Every writer count of every store is measured in the same run, writer count by writer count,
in rounds (the four stores take turns, three times), so that the ratio of PostgreSQL to SQLite
at a count compares measurements taken a second apart, and a moment when the machine's disk is
busy with something else slows a round of each store rather than one store's whole figure.

Every transaction sets a status on the task its worker owns and increments a counter on it that
only that worker writes, so that lost updates = acknowledged - final counters. A naive read
that catches the file half written (TornRead) is a failed operation, never acknowledged; a
final naive file that does not parse counts as everything lost.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.data import synthetic_document
from benchmarks.fanout import run_together
from benchmarks.project import POSTGRES_DURABILITY, postgres_cluster, postgres_project
from harness.postgres_server import PostgresServer
from taskmaster.compose import Settings, open_storage
from taskmaster.model import DEFAULT_TAG, TaskId
from taskmaster.ops.status import set_status
from taskmaster.storage import ProjectState, Storage
from taskmaster.storage.file import FileStorage

NAME = "contention"
DESCRIPTION = (
    "set-status transactions/s and lost updates by writer processes (100 tasks); "
    f"sqlite: WAL, synchronous=FULL; postgresql: {POSTGRES_DURABILITY}"
)
TASKS = 100
WRITERS = (1, 2, 4, 8)
STORES = ("taskmaster", "postgresql", "naive", "sqlite")
DURABILITY = {
    "taskmaster": "fsync before rename",
    "postgresql": POSTGRES_DURABILITY,
    "naive": "none",
    "sqlite": "WAL, synchronous=FULL",
}
ROUNDS = 3
"""Each store's measurement at a writer count is split into this many rounds, the stores
taking turns."""
TARGET_RATIO_TO_SQLITE = 0.5
"""PostgreSQL at 8 writers >= this x SQLite WAL at 8 writers, the same run (the gate)."""
STATUSES = ("in-progress", "done")
BUSY_TIMEOUT_MS = 10_000
START_TIMEOUT = 60.0


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


def _prepare(store: str, folder: Path, server: PostgresServer | None) -> str:
    """The store's location: a file's path, or a PostgreSQL project's URL."""
    if store == "postgresql":
        assert server is not None
        return postgres_project(server, synthetic_document(TASKS), "contention")
    if store == "sqlite":
        path = folder / "tasks.db"
        db = _sqlite_connect(path)
        db.execute("CREATE TABLE tasks (id INTEGER PRIMARY KEY, status TEXT, count INTEGER)")
        db.executemany(
            "INSERT INTO tasks VALUES (?, 'pending', 0)", [(i,) for i in range(1, TASKS + 1)]
        )
        db.close()
        return str(path)
    path = folder / "tasks.json"
    FileStorage(path).create(synthetic_document(TASKS), ProjectState())
    return str(path)


def _taskmaster_storage(store: str, location: str) -> Storage:
    if store == "postgresql":
        return open_storage(location, Settings())
    return FileStorage(Path(location))


def _writer(
    store: str,
    location: str,
    task_id: int,
    seconds: float,
    barrier: Any,
    results: Any,
) -> None:
    """Transactions on `task_id` for `seconds` after the barrier; reports (acked, failed, s),
    or (task_id, error) when the store cannot even be opened."""
    try:
        transaction = _transaction(store, location, task_id)
    except Exception as err:  # reported, so that the run stops with the reason at once
        results.put((task_id, f"{type(err).__name__}: {err}"))
        barrier.abort()
        return
    acknowledged = failed = 0
    barrier.wait(timeout=START_TIMEOUT)
    start = time.monotonic()
    end = start + seconds
    now = start
    # Bounded by the clock: a failed operation is counted and the next one starts, no retry.
    while now < end:
        try:
            transaction(STATUSES[acknowledged % 2])
        except Exception:  # TornRead, LockTimeout, "database is locked"...
            failed += 1
        else:
            acknowledged += 1
        now = time.monotonic()
    results.put((task_id, acknowledged, failed, now - start))


def _transaction(store: str, location: str, task_id: int) -> Callable[[str], None]:
    """The function one transaction of the store's writer calls, its store opened."""
    path = Path(location)
    if store in ("taskmaster", "postgresql"):
        storage = _taskmaster_storage(store, location)
        storage.read()  # connected and the document loaded before the clock starts

        def transaction(status: str) -> None:
            def operation(draft: Any) -> None:
                doc = draft.document
                set_status(doc, DEFAULT_TAG, [TaskId(task_id)], status)
                task = doc.task(DEFAULT_TAG, task_id)
                task["count"] = task.get("count", 0) + 1

            storage.transact(operation)

    elif store == "naive":
        from harness.baseline import NaiveFileStore, find_task

        naive = NaiveFileStore(path)

        def transaction(status: str) -> None:
            def operation(data: Any) -> None:
                task = find_task(data, task_id)
                task["status"] = status
                task["count"] = task.get("count", 0) + 1

            naive.transact(operation)

    else:
        db = _sqlite_connect(path)

        def transaction(status: str) -> None:
            db.execute("UPDATE tasks SET status=?, count=count+1 WHERE id=?", (status, task_id))

    return transaction


def _counts(data: dict[str, Any]) -> dict[int, int]:
    tasks = data[DEFAULT_TAG]["tasks"] if DEFAULT_TAG in data else data["tasks"]
    return {int(task["id"]): int(task.get("count", 0)) for task in tasks}


def _final_counts(store: str, location: str) -> dict[int, int]:
    path = Path(location)
    if store == "postgresql":
        storage = _taskmaster_storage(store, location)
        try:
            return _counts(storage.read().document.data)
        finally:
            storage.close()
    if store == "sqlite":
        db = sqlite3.connect(path)
        try:
            return dict(db.execute("SELECT id, count FROM tasks"))
        finally:
            db.close()
    try:
        data = json.loads(path.read_bytes())
    except ValueError:
        return {}  # a torn final file: every update is lost
    return _counts(data)


def measure(
    store: str, writers: int, seconds: float, server: PostgresServer | None = None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tm-bench-") as scratch:
        location = _prepare(store, Path(scratch), server)
        reports = run_together(
            _writer,
            [(store, location, task_id, seconds) for task_id in range(1, writers + 1)],
            timeout=START_TIMEOUT + seconds + 30,
            failed_to_start=f"a {store} writer could not open its store",
        )
        counts = _final_counts(store, location)
    acknowledged = sum(report[1] for report in reports)
    failed = sum(report[2] for report in reports)
    elapsed = max(report[3] for report in reports)
    final = sum(counts.get(report[0], 0) for report in reports)
    return {
        "n": acknowledged,
        "acknowledged": acknowledged,
        "failed": failed,
        "lost_updates": acknowledged - final,
        "torn_final_file": store == "naive" and not counts,
        "seconds": elapsed,
        "ops_per_s": acknowledged / elapsed,
    }


def case_name(store: str, writers: int) -> str:
    return f"{store}, {writers} writer{'s' if writers > 1 else ''}"


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Give every taskmaster and postgresql row its throughput over SQLite's at the same writer
    count (rows of one run), and the 8-writer PostgreSQL row its target."""
    sqlite = {row["writers"]: row["ops_per_s"] for row in rows if row["store"] == "sqlite"}
    for row in rows:
        if row["store"] in ("taskmaster", "postgresql") and sqlite.get(row["writers"]):
            row["ratio_to_sqlite"] = row["ops_per_s"] / sqlite[row["writers"]]
            if row["store"] == "postgresql" and row["writers"] == max(WRITERS):
                row["target_ratio_to_sqlite"] = TARGET_RATIO_TO_SQLITE


def combine(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of several rounds of one store at one writer count, as one: throughput is
    everything acknowledged over all the time measured."""
    acknowledged = sum(part["acknowledged"] for part in parts)
    seconds = sum(part["seconds"] for part in parts)
    return {
        "n": acknowledged,
        "acknowledged": acknowledged,
        "failed": sum(part["failed"] for part in parts),
        "lost_updates": sum(part["lost_updates"] for part in parts),
        "torn_final_file": any(part["torn_final_file"] for part in parts),
        "seconds": seconds,
        "ops_per_s": acknowledged / seconds,
        "rounds": len(parts),
        "round_ops_per_s": [part["ops_per_s"] for part in parts],
    }


def run(*, quick: bool = False) -> list[dict[str, object]]:
    seconds = 0.6 if quick else 1.5
    rows: list[dict[str, Any]] = []
    with postgres_cluster(NAME) as server:
        stores = [store for store in STORES if store != "postgresql" or server is not None]
        for writers in WRITERS:
            # The stores take turns, ROUNDS times: a burst of someone else's disk flushes
            # then slows a round of each, not the whole of one store's figure.
            parts: dict[str, list[dict[str, Any]]] = {store: [] for store in stores}
            for _ in range(ROUNDS):
                for store in stores:
                    parts[store].append(measure(store, writers, seconds, server))
            for store in stores:
                rows.append(
                    {
                        "benchmark": NAME,
                        "case": case_name(store, writers),
                        "store": store,
                        "writers": writers,
                        "tasks": TASKS,
                        "durability": DURABILITY[store],
                        **combine(parts[store]),
                    }
                )
    add_ratios(rows)
    rows.sort(key=lambda row: (STORES.index(row["store"]), row["writers"]))
    return rows
