"""Many real `tm` processes writing one project at once: nothing acknowledged is lost.

Eight workers start together (a barrier) and each runs 25 `tm` commands one after another, so
eight `tm` processes are writing at any moment: add-task (distinct titles), set-status on the
worker's own tasks, add-dependency from its own tasks to a seed task (never a cycle). Each
worker records the commands that exited 0; at the end every one of them must be in the file.
A deadline bounds the whole run and every child is reaped, whatever happens.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest

pytestmark = pytest.mark.slow

WORKERS = 8
COMMANDS = 25  # per worker: 9 add-task, 8 set-status, 8 add-dependency
ADDS = (COMMANDS + 2) // 3
DEADLINE = 240.0
STATUSES = ("in-progress", "review", "done", "blocked")


def tm_executable() -> str:
    beside = Path(sys.executable).with_name("tm")
    if beside.exists():
        return str(beside)
    found = shutil.which("tm")
    assert found, "the `tm` entry point is not installed (pip install -e .)"
    return found


@dataclass
class Worker:
    number: int
    acknowledged_titles: dict[str, int] = field(default_factory=dict)
    final_status: dict[int, str] = field(default_factory=dict)
    dependencies: list[tuple[int, int]] = field(default_factory=list)
    commands: int = 0
    failures: list[tuple[list[str], int, str]] = field(default_factory=list)


class Runner:
    """Runs `tm` commands for the workers; kills and reaps everything at the deadline."""

    def __init__(self, root: Path, deadline: float) -> None:
        self.argv = [tm_executable(), "--project", str(root)]
        self.deadline = deadline
        self.env = {**os.environ, "NO_COLOR": "1", "TM_LOCK_TIMEOUT": "60"}
        self.env.pop("TM_PROJECT", None)
        self.lock = threading.Lock()
        self.live: set[subprocess.Popen[bytes]] = set()

    def run(self, *args: str) -> tuple[int, bytes, bytes]:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed")
        proc = subprocess.Popen(
            [*self.argv, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env
        )
        with self.lock:
            self.live.add(proc)
        try:
            out, err = proc.communicate(timeout=remaining)
            return proc.returncode, out, err
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            with self.lock:
                self.live.discard(proc)

    def kill_all(self) -> None:
        with self.lock:
            live = list(self.live)
        for proc in live:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def work(runner: Runner, worker: Worker, barrier: threading.Barrier, seed_id: int) -> Worker:
    """25 commands: add-task, then set-status and add-dependency on the task just added, ..."""
    barrier.wait(timeout=60)
    task_id: int | None = None
    for slot in range(COMMANDS):
        step = slot % 3
        if step == 0:
            title = f"worker {worker.number} task {slot // 3}"
            args = ["add-task", "--title", title, "--json"]
        elif task_id is None:
            continue  # its add-task failed: nothing of ours to change
        elif step == 1:
            status = STATUSES[(worker.number + slot) % len(STATUSES)]
            args = ["set-status", str(task_id), status]
        else:
            args = ["add-dependency", "-i", str(task_id), "-d", str(seed_id)]
        code, out, err = runner.run(*args)
        worker.commands += 1
        if code != 0:
            worker.failures.append((args, code, err.decode()))
            task_id = None if step == 0 else task_id
        elif step == 0:
            task_id = orjson.loads(out)["id"]
            worker.acknowledged_titles[title] = task_id
        elif step == 1:
            worker.final_status[task_id] = status
        else:
            worker.dependencies.append((task_id, seed_id))
    return worker


def test_concurrent_tm_processes_lose_no_acknowledged_command(tmp_path: Path) -> None:
    runner = Runner(tmp_path, time.monotonic() + DEADLINE)
    assert runner.run("init")[0] == 0
    seeds = []
    for number in range(WORKERS):
        code, out, err = runner.run("add-task", "-t", f"seed {number}", "--json")
        assert code == 0, err
        seeds.append(orjson.loads(out)["id"])

    workers = [Worker(number) for number in range(WORKERS)]
    barrier = threading.Barrier(WORKERS)
    try:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            futures = [
                pool.submit(work, runner, worker, barrier, seeds[worker.number])
                for worker in workers
            ]
            for future in futures:
                future.result(timeout=max(1.0, runner.deadline - time.monotonic()))
    finally:
        runner.kill_all()

    # Every command ran, and (with a 60 s lock timeout) every one of them succeeded.
    assert [w.commands for w in workers] == [COMMANDS] * WORKERS
    assert [f for w in workers for f in w.failures] == []

    document = orjson.loads((tmp_path / ".taskmaster" / "tasks.json").read_bytes())
    tasks = {task["id"]: task for task in document["master"]["tasks"]}
    titles = [task["title"] for task in tasks.values()]
    assert len(titles) == len(set(titles)) == WORKERS + WORKERS * ADDS
    assert len(tasks) == len(document["master"]["tasks"])  # ids are unique
    for worker in workers:
        for title, task_id in worker.acknowledged_titles.items():
            assert tasks[task_id]["title"] == title
        for task_id, status in worker.final_status.items():
            assert tasks[task_id]["status"] == status, (worker.number, task_id)
        for task_id, dep in worker.dependencies:
            assert tasks[task_id]["dependencies"] == [dep]
    # And the CLI reads the same thing back.
    code, out, _ = runner.run("list", "--json")
    assert code == 0 and orjson.loads(out)["tasks"] == document["master"]["tasks"]
