"""One set-status transaction, fsync included, on task files of growing size.

Measured through the `TaskMaster` facade, so the figure is what a user pays per write: lock,
read and parse, operation, serialise, durable atomic replace, revision update.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.data import synthetic_document
from benchmarks.stats import summarise
from taskmaster.core import TaskMaster
from taskmaster.storage import FileStorage

NAME = "transaction"
DESCRIPTION = "median latency of one set-status transaction (fsync included) by file size"
SIZES = (100, 5000)
TARGETS_MS = {100: 3.0, 5000: 40.0}


def measure(tasks: int, repeats: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="tm-bench-") as scratch:
        root = Path(scratch)
        (root / ".taskmaster").mkdir()
        FileStorage(root / ".taskmaster" / "tasks.json").create(synthetic_document(tasks))
        project = TaskMaster.open(root)
        statuses = ("in-progress", "done")
        samples = []
        for i in range(repeats):
            task_id = 1 + (i * 7) % tasks
            start = time.perf_counter()
            project.set_status(str(task_id), statuses[i % 2])
            samples.append((time.perf_counter() - start) * 1000)
        project.close()
        return summarise(samples)


def run(*, quick: bool = False) -> list[dict[str, object]]:
    rows = []
    for tasks in SIZES:
        repeats = (60 if quick else 300) if tasks <= 1000 else (15 if quick else 60)
        figures = measure(tasks, repeats)
        rows.append(
            {
                "benchmark": NAME,
                "case": f"set-status, {tasks} tasks",
                "tasks": tasks,
                "target_median_ms": TARGETS_MS[tasks],
                **figures,
            }
        )
    return rows
