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
# (tasks, words of details per task, target median): the design's task size, then tasks twice
# as verbose (no target: shown so that the cost of size is visible).
CASES = ((100, 12, 3.0), (5000, 12, 40.0), (5000, 40, None))


def measure(tasks: int, detail_words: int, repeats: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="tm-bench-") as scratch:
        root = Path(scratch)
        (root / ".taskmaster").mkdir()
        path = root / ".taskmaster" / "tasks.json"
        FileStorage(path).create(synthetic_document(tasks, detail_words=detail_words))
        size = path.stat().st_size
        project = TaskMaster.open(root)
        statuses = ("in-progress", "done")
        samples = []
        for i in range(repeats):
            # 7 is coprime with the task count, so each block of `tasks` steps visits every task
            # once; the status flips from one block to the next, so every step is a real change.
            task_id = 1 + (i * 7) % tasks
            start = time.perf_counter()
            project.set_status(str(task_id), statuses[(i // tasks) % 2])
            samples.append((time.perf_counter() - start) * 1000)
            commit = project.last_commit()
            if commit is None or not commit.changed:
                raise RuntimeError(f"step {i} changed nothing: it would time a no-op, not a write")
        project.close()
        return {"file_bytes": size, **summarise(samples)}


def run(*, quick: bool = False) -> list[dict[str, object]]:
    rows = []
    for tasks, detail_words, target in CASES:
        repeats = (60 if quick else 300) if tasks <= 1000 else (15 if quick else 60)
        figures = measure(tasks, detail_words, repeats)
        kib = figures["file_bytes"] / 1024
        rows.append(
            {
                "benchmark": NAME,
                "case": f"set-status, {tasks} tasks, {kib:,.0f} KiB",
                "tasks": tasks,
                **({"target_median_ms": target} if target else {}),
                **figures,
            }
        )
    return rows
