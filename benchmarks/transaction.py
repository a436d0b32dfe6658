"""One set-status transaction, fsync included, on task files of growing size.

Measured through the `TaskMaster` facade, so the figure is what a user pays per write: lock,
read and parse, operation, serialise, durable atomic replace, revision update.

Samples are taken in rounds with a pause between them. The table reports the median of all
samples; the gate reads the best round's median, because a busy neighbour (another job's
processes, a disk flush) can slow a whole round but never speed one up, so the fastest round is
what the code costs and a regression slows every round alike.
"""

from __future__ import annotations

import statistics
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
WARM_UP_CHANGES = 5
PAUSE_BETWEEN_ROUNDS_S = 0.3


STATUSES = ("in-progress", "done")


def real_change(project: TaskMaster, step: int, tasks: int) -> None:
    """Step `step` of a set-status series that changes the file every time.

    7 is coprime with the task count, so each block of `tasks` steps visits every task once;
    the status flips from one block to the next. A step that changed nothing would time a
    no-op, not a write, so it aborts the benchmark.
    """
    task_id = 1 + (step * 7) % tasks
    project.set_status(str(task_id), STATUSES[(step // tasks) % 2])
    commit = project.last_commit()
    if commit is None or not commit.changed:
        raise RuntimeError(f"step {step} changed nothing: it would time a no-op, not a write")


def measure(tasks: int, detail_words: int, rounds: int, per_round: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="tm-bench-") as scratch:
        root = Path(scratch)
        (root / ".taskmaster").mkdir()
        path = root / ".taskmaster" / "tasks.json"
        FileStorage(path).create(synthetic_document(tasks, detail_words=detail_words))
        size = path.stat().st_size
        project = TaskMaster.open(root)
        step = 0
        for _ in range(WARM_UP_CHANGES):
            real_change(project, step, tasks)
            step += 1
        round_samples: list[list[float]] = []
        for round_number in range(rounds):
            if round_number:
                time.sleep(PAUSE_BETWEEN_ROUNDS_S)
            samples = []
            for _ in range(per_round):
                start = time.perf_counter()
                real_change(project, step, tasks)
                samples.append((time.perf_counter() - start) * 1000)
                step += 1
            round_samples.append(samples)
        project.close()
        round_medians = [statistics.median(samples) for samples in round_samples]
        return {
            "file_bytes": size,
            **summarise([sample for samples in round_samples for sample in samples]),
            "round_medians_ms": round_medians,
            "best_round_median_ms": min(round_medians),
        }


def run(*, quick: bool = False) -> list[dict[str, object]]:
    rows = []
    for tasks, detail_words, target in CASES:
        rounds = 5 if quick else 6
        per_round = (12 if quick else 50) if tasks <= 1000 else (3 if quick else 10)
        figures = measure(tasks, detail_words, rounds, per_round)
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
