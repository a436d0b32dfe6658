"""One set-status transaction, fsync included, on task files of growing size.

Measured through the `TaskMaster` facade, so the figure is what a user pays per write: lock,
read and parse, operation, serialise, durable atomic replace, revision update.

Samples are taken in rounds with a pause between them. The table reports the median of all
samples and the best round's median: a busy neighbour (another job's processes, a disk flush)
can slow a whole round but never speed one up, so the fastest round is what the code costs.

Beside every transaction the benchmark times a floor: the work no JSON-file store can skip for
the same change (parse the file, serialise it, then write it durably and atomically: temporary
file, fsync, one journal line appended and flushed before the rename as an exact journal needs,
rename, directory fsync), written here with bare `os` calls so that it shares no code with
taskmaster. Both are timed alternately, so a slow disk or CPU moves both; the gate
reads their ratio (the median of the rounds' ratios), which a regression in taskmaster raises
on any machine, while whether the absolute target (3 ms at 100 tasks) is met is decided mostly
by the machine's disk and CPU.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from benchmarks.data import synthetic_document
from benchmarks.project import create_project
from benchmarks.stats import summarise
from taskmaster.commands import SetStatus
from taskmaster.compose import open_project
from taskmaster.core import TaskMaster
from taskmaster.model import TaskId

NAME = "transaction"
DESCRIPTION = (
    "median latency of one set-status transaction (fsync included) by file size; the "
    "journal's cost per write (journaled over not, interleaved)"
)
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
    command = SetStatus(ids=(TaskId(task_id),), status=STATUSES[(step // tasks) % 2])
    if not project.execute(command).changed:
        raise RuntimeError(f"step {step} changed nothing: it would time a no-op, not a write")


FLOOR_JOURNAL_LINE = orjson.dumps(
    {
        "base": 0,
        "sha": "0" * 64,
        "entry": {
            "actor": "floor",
            "command": "set-status",
            "changes": [{"tag": "master", "id": "1", "field": "status", "after": "done"}],
        },
    }
)
"""What a journaled store appends for one change, about the size of a real entry."""


def floor_write(source: Path, target: Path) -> None:
    """Parse `source`, serialise it, append one journal line and flush it (a store that
    journals every commit exactly must, before its rename), then replace `target` durably and
    atomically."""
    data = orjson.dumps(orjson.loads(source.read_bytes()), option=orjson.OPT_INDENT_2)
    durable_replace(data, target, journal_line=FLOOR_JOURNAL_LINE)


def durable_replace(data: bytes, target: Path, *, journal_line: bytes | None = None) -> None:
    """Replace `target` by `data` durably and atomically with bare os calls: temporary file,
    fsync, (`journal_line` appended and flushed, when given), rename, directory fsync."""
    temporary = target.with_name(target.name + ".floor-tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if journal_line is not None:
        journal = os.open(
            target.with_name(target.name + ".floor-journal"),
            os.O_WRONLY | os.O_CREAT | os.O_APPEND,
            0o644,
        )
        try:
            os.write(journal, journal_line + b"\n")
            os.fdatasync(journal)
        finally:
            os.close(journal)
    os.replace(temporary, target)
    directory = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def measure(tasks: int, detail_words: int, rounds: int, per_round: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="tm-bench-") as scratch:
        root = Path(scratch)
        path = create_project(root, synthetic_document(tasks, detail_words=detail_words))
        size = path.stat().st_size
        floor_target = root / "floor.json"  # same file system, same size
        project = open_project(root).core
        step = 0
        for _ in range(WARM_UP_CHANGES):
            real_change(project, step, tasks)
            floor_write(path, floor_target)
            step += 1
        round_samples: list[list[float]] = []
        floor_samples: list[list[float]] = []
        for round_number in range(rounds):
            if round_number:
                time.sleep(PAUSE_BETWEEN_ROUNDS_S)
            samples, floors = [], []
            for _ in range(per_round):
                start = time.perf_counter()
                floor_write(path, floor_target)
                floors.append(_ms_since(start))
                start = time.perf_counter()
                real_change(project, step, tasks)
                samples.append(_ms_since(start))
                step += 1
            round_samples.append(samples)
            floor_samples.append(floors)
        project.close()
        round_medians = [statistics.median(samples) for samples in round_samples]
        floor_medians = [statistics.median(floors) for floors in floor_samples]
        return {
            "file_bytes": size,
            **summarise([sample for samples in round_samples for sample in samples]),
            "round_medians_ms": round_medians,
            "best_round_median_ms": min(round_medians),
            "floor_round_medians_ms": floor_medians,
            "floor_best_round_median_ms": min(floor_medians),
            # Each round pairs samples taken together: the median of the rounds' ratios.
            "ratio_to_floor": statistics.median(
                ours / floor for ours, floor in zip(round_medians, floor_medians, strict=True)
            ),
        }


JOURNAL_SIZES = (100, 10000)
"""Sizes at which the journal's cost per write is measured (benchmarks/journal_cost.py)."""


def run(*, quick: bool = False) -> list[dict[str, object]]:
    from benchmarks import journal_cost

    rows: list[dict[str, object]] = []
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
    for tasks in JOURNAL_SIZES:
        # A write at 10,000 tasks takes ~0.1 s: fewer of them, in as many rounds.
        per_round = (12 if quick else 40) if tasks <= 1000 else (4 if quick else 10)
        rows.append(
            journal_cost.measure(
                NAME, journal_cost.file_pair, "file", tasks, 5 if quick else 6, per_round
            )
        )
    return rows
