"""Concurrent writers: set-status transactions from 1 to 8 processes, three stores side by side.

- taskmaster: `FileStorage.transact` as shipped (lock, re-read, durable atomic replace);
- naive:      `harness.baseline.NaiveFileStore` (no lock, truncate-and-write, no fsync);
- sqlite:     stdlib sqlite3, WAL, `synchronous=FULL`, one UPDATE per transaction.

Every transaction sets a status on the task its worker owns and increments a counter on it that
only that worker writes, so that lost updates = acknowledged - final counters. A naive read
that catches the file half written (TornRead) is a failed operation, never acknowledged; a
final naive file that does not parse counts as everything lost.
"""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.data import synthetic_document
from taskmaster.model import DEFAULT_TAG, TaskId
from taskmaster.ops.status import set_status
from taskmaster.storage import ProjectState
from taskmaster.storage.file import FileStorage

NAME = "contention"
DESCRIPTION = "set-status transactions/s and lost updates by writer processes (100 tasks)"
TASKS = 100
WRITERS = (1, 2, 4, 8)
STORES = ("taskmaster", "naive", "sqlite")
STATUSES = ("in-progress", "done")
BUSY_TIMEOUT_MS = 10_000
START_TIMEOUT = 60.0


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


def _prepare(store: str, folder: Path) -> Path:
    if store == "sqlite":
        path = folder / "tasks.db"
        db = _sqlite_connect(path)
        db.execute("CREATE TABLE tasks (id INTEGER PRIMARY KEY, status TEXT, count INTEGER)")
        db.executemany(
            "INSERT INTO tasks VALUES (?, 'pending', 0)", [(i,) for i in range(1, TASKS + 1)]
        )
        db.close()
        return path
    path = folder / "tasks.json"
    FileStorage(path).create(synthetic_document(TASKS), ProjectState())
    return path


def _writer(
    store: str,
    path: Path,
    task_id: int,
    seconds: float,
    barrier: Any,
    results: Any,
) -> None:
    """Transactions on `task_id` for `seconds` after the barrier; reports (acked, failed, s)."""
    if store == "taskmaster":
        storage = FileStorage(path)

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


def _final_counts(store: str, path: Path) -> dict[int, int]:
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
    tasks = data[DEFAULT_TAG]["tasks"] if DEFAULT_TAG in data else data["tasks"]
    return {int(task["id"]): int(task.get("count", 0)) for task in tasks}


def measure(store: str, writers: int, seconds: float) -> dict[str, Any]:
    context = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="tm-bench-") as scratch:
        path = _prepare(store, Path(scratch))
        barrier = context.Barrier(writers)
        results = context.Queue()
        procs = [
            context.Process(
                target=_writer,
                args=(store, path, task_id, seconds, barrier, results),
                daemon=True,
            )
            for task_id in range(1, writers + 1)
        ]
        for proc in procs:
            proc.start()
        reports = []
        try:
            for _ in procs:
                reports.append(results.get(timeout=START_TIMEOUT + seconds + 30))
        finally:
            for proc in procs:
                proc.join(timeout=10)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
        counts = _final_counts(store, path)
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


def run(*, quick: bool = False) -> list[dict[str, object]]:
    seconds = 1.5 if quick else 4.0
    rows: list[dict[str, object]] = []
    for store in STORES:
        for writers in WRITERS:
            figures = measure(store, writers, seconds)
            rows.append(
                {
                    "benchmark": NAME,
                    "case": f"{store}, {writers} writer{'s' if writers > 1 else ''}",
                    "store": store,
                    "writers": writers,
                    "tasks": TASKS,
                    **figures,
                }
            )
    return rows
