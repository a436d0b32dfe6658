"""What the change journal costs per write: the same set-status series on two projects holding
the same document, one journaled and one opened with `journal=False` (the storage's switch for
this measurement only), one write on each in turn.

Interleaving is what makes the ratio fair on a shared machine: a slow moment slows the write
with the journal and the one without alike. Each round's ratio is the median of its journaled
writes over the median of its unjournaled ones; the row's `journal_ratio` is the median of the
rounds' ratios, so one disturbed round does not decide it.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.data import synthetic_document
from benchmarks.project import create_project, postgres_project
from benchmarks.stats import summarise
from benchmarks.transaction import real_change
from harness.postgres_server import PostgresServer
from taskmaster.core import TaskMaster
from taskmaster.project import locate
from taskmaster.storage.file import FileStorage
from taskmaster.storage.postgres import PostgresStorage

TARGET_JOURNAL_RATIO = 1.10
"""A journaled write costs at most this x the same write without the journal (the target
shown met or missed with every run; the gate's bound is in gates.toml)."""
WARM_UP = 5
PAUSE_BETWEEN_ROUNDS_S = 0.2


def case_name(backend: str, tasks: int) -> str:
    return f"journal cost, {backend} set-status, {tasks} tasks"


def interleaved(
    journaled: TaskMaster, bare: TaskMaster, tasks: int, rounds: int, per_round: int
) -> tuple[list[list[float]], list[list[float]]]:
    """`rounds` rounds of `per_round` writes on each facade, alternately (which goes first
    alternates too); the samples in ms per round, journaled then bare."""
    step = 0
    for _ in range(WARM_UP):
        real_change(journaled, step, tasks)
        real_change(bare, step, tasks)
        step += 1
    with_rounds: list[list[float]] = []
    without_rounds: list[list[float]] = []
    for round_number in range(rounds):
        if round_number:
            time.sleep(PAUSE_BETWEEN_ROUNDS_S)
        with_journal: list[float] = []
        without: list[float] = []
        for i in range(per_round):
            pair = [(journaled, with_journal), (bare, without)]
            for facade, samples in pair if i % 2 == 0 else reversed(pair):
                start = time.perf_counter()
                real_change(facade, step, tasks)
                samples.append((time.perf_counter() - start) * 1000)
            step += 1
        with_rounds.append(with_journal)
        without_rounds.append(without)
    return with_rounds, without_rounds


def row(
    benchmark: str,
    backend: str,
    tasks: int,
    with_rounds: list[list[float]],
    without_rounds: list[list[float]],
) -> dict[str, Any]:
    """The row of one backend and size: the journaled writes' figures, the bare ones' median,
    the median of the rounds' ratios and the target."""
    ratios = [
        statistics.median(ours) / statistics.median(bare)
        for ours, bare in zip(with_rounds, without_rounds, strict=True)
    ]
    without = [sample for samples in without_rounds for sample in samples]
    return {
        "benchmark": benchmark,
        "case": case_name(backend, tasks),
        "backend": backend,
        "measure": "journal cost",
        "tasks": tasks,
        **summarise([sample for samples in with_rounds for sample in samples]),
        "without_journal_median_ms": statistics.median(without),
        "round_journal_ratios": ratios,
        "journal_ratio": statistics.median(ratios),
        "target_journal_ratio": TARGET_JOURNAL_RATIO,
    }


@contextlib.contextmanager
def file_pair(tasks: int) -> Iterator[tuple[TaskMaster, TaskMaster]]:
    """Two task files of `tasks` tasks in one scratch directory (same file system): a facade
    on each, the first journaled."""
    with tempfile.TemporaryDirectory(prefix="tm-bench-") as scratch:
        facades = []
        try:
            for name, journal in (("with", True), ("without", False)):
                root = Path(scratch) / name
                root.mkdir()
                create_project(root, synthetic_document(tasks))
                paths = locate(root, tasks_file=root / ".taskmaster" / "tasks.json")
                storage = FileStorage(
                    paths.tasks_file,
                    state_file=paths.state_file,
                    config_file=paths.config_file,
                    journal=journal,
                )
                facades.append(TaskMaster(storage))
            yield facades[0], facades[1]
        finally:
            for facade in facades:
                facade.close()


@contextlib.contextmanager
def postgres_pair(server: PostgresServer, tasks: int) -> Iterator[tuple[TaskMaster, TaskMaster]]:
    """Two projects of `tasks` tasks in the cluster: a facade on each, the first journaled."""
    facades = []
    try:
        for journal in (True, False):
            url = postgres_project(server, synthetic_document(tasks), f"journal{tasks}")
            facades.append(TaskMaster(PostgresStorage(url, journal=journal)))
        yield facades[0], facades[1]
    finally:
        for facade in facades:
            facade.close()


def measure(
    benchmark: str,
    pair: Callable[[int], contextlib.AbstractContextManager[tuple[TaskMaster, TaskMaster]]],
    backend: str,
    tasks: int,
    rounds: int,
    per_round: int,
) -> dict[str, Any]:
    with pair(tasks) as (journaled, bare):
        return row(
            benchmark, backend, tasks, *interleaved(journaled, bare, tasks, rounds, per_round)
        )
