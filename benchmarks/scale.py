"""How the costs grow with the task file: 100, 1,000 and 10,000 tasks.

- set-status: one transaction through the `TaskMaster` facade (fsync included);
- list_tasks: one read through the facade, in process (the revision check and parse included);
- tm list:    wall time of a whole `tm list` process, start-up included;
- serve:      peak resident memory (VmHWM) of `tm serve` after a few GET /api/v1/tasks.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from benchmarks.project import scratch_project, start_server, supervised
from benchmarks.stats import summarise
from benchmarks.transaction import real_change
from harness.processes import Supervisor
from harness.targets import tm_executable
from taskmaster.compose import open_project

NAME = "scale"
DESCRIPTION = "transaction, read, `tm list` and server memory at 100, 1,000 and 10,000 tasks"
SIZES = (100, 1000, 10000)
GETS = 5


def _repeats(size: int, quick: bool, small: int, large: int) -> int:
    """`small` repetitions up to 1,000 tasks, `large` at 10,000; a quarter of each if quick."""
    count = small if size <= 1000 else large
    return max(3, count // 4) if quick else count


def _timed(action: Callable[[int], object], repeats: int) -> list[float]:
    samples = []
    for i in range(repeats):
        start = time.perf_counter()
        action(i)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _in_process(root: Path, size: int, quick: bool) -> dict[str, list[float]]:
    project = open_project(root).core
    try:
        writes = _timed(lambda i: real_change(project, i, size), _repeats(size, quick, 200, 40))
        project.list_tasks()  # warm up
        reads = _timed(lambda i: project.list_tasks(), _repeats(size, quick, 200, 40))
    finally:
        project.close()
    return {"set-status": writes, "list_tasks": reads}


def _tm_list(root: Path, size: int, quick: bool) -> list[float]:
    # As installed for a user: with bytecode caching (a sandbox may switch it off).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    command = [tm_executable(), "--project", str(root), "list"]
    subprocess.run(command, check=True, capture_output=True, env=env)  # warm caches
    return _timed(
        lambda i: subprocess.run(command, check=True, capture_output=True, env=env),
        _repeats(size, quick, 20, 12),
    )


def _vm_field(pid: int, field: str) -> float:
    """A memory figure of /proc/<pid>/status in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def _server_memory(supervisor: Supervisor, root: Path, size: int) -> dict[str, float]:
    port, proc = start_server(supervisor, root, f"serve-{size}")
    try:
        idle = _vm_field(proc.pid, "VmRSS")
        samples = []
        for _ in range(GETS):
            start = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/tasks") as response:
                body = response.read()
            samples.append((time.perf_counter() - start) * 1000)
        return {
            "peak_mib": _vm_field(proc.pid, "VmHWM"),
            "idle_rss_mib": idle,
            "body_bytes": len(body),
            "first_get_ms": samples[0],
            "n": GETS,
        }
    finally:
        proc.stop()


def run(*, quick: bool = False) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with supervised() as supervisor:
        for size in SIZES:
            with scratch_project(size) as root:
                kib = (root / ".taskmaster" / "tasks.json").stat().st_size / 1024
                measures = _in_process(root, size, quick)
                measures["tm list"] = _tm_list(root, size, quick)
                for measure, samples in measures.items():
                    rows.append(
                        {
                            "benchmark": NAME,
                            "case": f"{measure}, {size} tasks, {kib:,.0f} KiB",
                            "measure": measure,
                            "tasks": size,
                            **summarise(samples),
                        }
                    )
                rows.append(
                    {
                        "benchmark": NAME,
                        "case": f"tm serve VmHWM, {size} tasks",
                        "measure": "serve peak memory",
                        "tasks": size,
                        **_server_memory(supervisor, root, size),
                    }
                )
    return rows
