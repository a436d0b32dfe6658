"""How the costs grow with the project: 100, 1,000, 10,000 and 100,000 tasks, both backends.

The file backend (a task file, as `tm init` leaves it):
- set-status: one transaction through the `TaskMaster` facade (fsync included);
- list_tasks: one read through the facade, in process (the revision check and parse included);
- tm list:    wall time of a whole `tm list` process, start-up included;
- serve:      peak resident memory (VmHWM) of `tm serve` after a few GET /api/v1/tasks.

The PostgreSQL backend, on a cluster the benchmark starts itself (fsync and synchronous_commit
on), one project per size, all measured in this one long-lived process, as a server would be:
the facade keeps the document it last read, so a write costs what it changes. The sizes up to
10,000 are measured together in rounds, one write (or read) on each size in turn, so that a slow
moment of the machine slows every size alike and the ratio of 10,000 to 100 tasks (the gate)
stays fair; 100,000 tasks afterwards, with fewer samples.
- create:     creating the project from a document of that size (one sample);
- first read: the first `list_tasks` of a new facade (connecting and loading every row);
- set-status, list_tasks: as for the file, once the document is loaded;
- tm list:    a whole `tm list` process started in an empty directory, the project named by
              TM_STORAGE_URL (it connects and loads every row: no document kept there).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.data import synthetic_document
from benchmarks.project import (
    POSTGRES_DURABILITY,
    postgres_cluster,
    postgres_project,
    scratch_project,
    start_server,
    supervised,
)
from benchmarks.stats import summarise
from benchmarks.transaction import real_change
from harness.postgres_server import PostgresServer
from harness.processes import Supervisor
from harness.targets import tm_executable
from taskmaster.compose import STORAGE_URL_ENV, Settings, open_project, open_storage
from taskmaster.core import TaskMaster

NAME = "scale"
DESCRIPTION = (
    "transaction, read, `tm list` and server memory at 100 to 100,000 tasks, file and "
    f"PostgreSQL ({POSTGRES_DURABILITY}; gate: set-status at 10,000 tasks <= 2 x at 100)"
)
SIZES = (100, 1000, 10000, 100000)
GETS = 5
GATED_SIZE = 10000
TARGET_RATIO_TO_100_TASKS = 2.0
"""PostgreSQL set-status at GATED_SIZE tasks <= this x its cost at 100 tasks, same run."""
POSTGRES_WARM_UP = 5


def _repeats(size: int, quick: bool, small: int, large: int, huge: int = 3) -> int:
    """`small` repetitions up to 1,000 tasks, `large` at 10,000 (a quarter of each if quick),
    `huge` above (a file write takes a second there)."""
    if size > 10000:
        return huge
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


def _tm_list(root: Path, size: int, quick: bool, storage_url: str | None = None) -> list[float]:
    """Whole `tm list` processes on the project at `root`, or, given `storage_url`, on that
    store (TM_STORAGE_URL) from `root`, an empty directory."""
    # As installed for a user: with bytecode caching (a sandbox may switch it off).
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("TM_")
    }
    if storage_url is None:
        command = [tm_executable(), "--project", str(root), "list"]
    else:
        command = [tm_executable(), "list"]
        env[STORAGE_URL_ENV] = storage_url

    def tm_list(_: int) -> None:
        subprocess.run(command, check=True, capture_output=True, env=env, cwd=root)

    tm_list(0)  # warm caches
    return _timed(tm_list, _repeats(size, quick, 20, 12))


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


def _file_rows(quick: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
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
                            "backend": "file",
                            "measure": measure,
                            "tasks": size,
                            **summarise(samples),
                        }
                    )
                rows.append(
                    {
                        "benchmark": NAME,
                        "case": f"tm serve VmHWM, {size} tasks",
                        "backend": "file",
                        "measure": "serve peak memory",
                        "tasks": size,
                        **_server_memory(supervisor, root, size),
                    }
                )
    return rows


def _rounds(
    facades: dict[int, TaskMaster], action: Callable[[TaskMaster, int, int], object], rounds: int
) -> dict[int, list[float]]:
    """`rounds` times, `action(facade, round, size)` on every size in turn; ms per size."""
    samples: dict[int, list[float]] = {size: [] for size in facades}
    for i in range(rounds):
        for size, facade in facades.items():
            start = time.perf_counter()
            action(facade, i, size)
            samples[size].append((time.perf_counter() - start) * 1000)
    return samples


def _postgres_phase(
    server: PostgresServer,
    sizes: tuple[int, ...],
    writes: int,
    reads: int,
    measures: dict[str, dict[int, list[float]]],
    *,
    quick: bool,
) -> None:
    """Create a project per size, open a facade on each, and take `writes` set-status and
    `reads` list_tasks samples of every size, one size after the other in each round."""
    facades: dict[int, TaskMaster] = {}
    urls: dict[int, str] = {}
    try:
        for size in sizes:
            document = synthetic_document(size)
            start = time.perf_counter()
            url = urls[size] = postgres_project(server, document, f"scale{size}")
            measures["create"][size] = [(time.perf_counter() - start) * 1000]
            del document
            facade = TaskMaster(open_storage(url, Settings()))
            facades[size] = facade
            start = time.perf_counter()
            facade.list_tasks()
            measures["first read"][size] = [(time.perf_counter() - start) * 1000]
        # Connections, statements and the kept documents warm before the clock starts.
        _rounds(facades, lambda facade, i, size: real_change(facade, i, size), POSTGRES_WARM_UP)
        measures["set-status"].update(
            _rounds(
                facades,
                lambda facade, i, size: real_change(facade, POSTGRES_WARM_UP + i, size),
                writes,
            )
        )
        measures["list_tasks"].update(
            _rounds(facades, lambda facade, i, size: facade.list_tasks(), reads)
        )
        with tempfile.TemporaryDirectory(prefix="tm-bench-") as empty:
            for size, url in urls.items():
                measures["tm list"][size] = _tm_list(Path(empty), size, quick, url)
    finally:
        for facade in facades.values():
            facade.close()


def _postgres_samples(server: PostgresServer, quick: bool) -> dict[str, dict[int, list[float]]]:
    """The sizes up to GATED_SIZE together, then the larger ones: a 100,000-task document
    kept in the same process would make every write there pay for collecting its objects."""
    measures: dict[str, dict[int, list[float]]] = {
        name: {} for name in ("create", "first read", "set-status", "list_tasks", "tm list")
    }
    gated = tuple(size for size in SIZES if size <= GATED_SIZE)
    larger = tuple(size for size in SIZES if size > GATED_SIZE)
    _postgres_phase(
        server, gated, 60 if quick else 200, 30 if quick else 100, measures, quick=quick
    )
    if larger:
        _postgres_phase(
            server, larger, 20 if quick else 60, 3 if quick else 10, measures, quick=quick
        )
    return measures


def postgres_rows(measures: dict[str, dict[int, list[float]]]) -> list[dict[str, Any]]:
    """The PostgreSQL rows; every set-status row with its median over the 100-task median of
    the same run, the GATED_SIZE row with the target."""
    rows: list[dict[str, Any]] = []
    base = statistics.median(measures["set-status"][100])
    for measure, by_size in measures.items():
        for size, samples in sorted(by_size.items()):
            row: dict[str, Any] = {
                "benchmark": NAME,
                "case": f"postgresql {measure}, {size} tasks, "
                + ("a process each" if measure == "tm list" else "one process"),
                "backend": "postgresql",
                "measure": measure,
                "tasks": size,
                **summarise(samples),
            }
            if measure == "set-status":
                row["ratio_to_100_tasks"] = row["median_ms"] / base
                if size == GATED_SIZE:
                    row["target_ratio_to_100_tasks"] = TARGET_RATIO_TO_100_TASKS
            rows.append(row)
    return rows


def run(*, quick: bool = False) -> list[dict[str, object]]:
    rows = _file_rows(quick)
    file_base = next(
        r["median_ms"] for r in rows if r["measure"] == "set-status" and r["tasks"] == 100
    )
    for row in rows:
        if row["measure"] == "set-status":
            row["ratio_to_100_tasks"] = row["median_ms"] / file_base
    with postgres_cluster(NAME) as server:
        if server is not None:
            rows += postgres_rows(_postgres_samples(server, quick))
            rows += _postgres_journal_rows(server, quick)
    return rows


def _postgres_journal_rows(server: PostgresServer, quick: bool) -> list[dict[str, Any]]:
    """The journal's cost per PostgreSQL write at 100 and GATED_SIZE tasks: a journaled and
    an unjournaled project of each size, one write on each in turn (journal_cost.py)."""
    from benchmarks import journal_cost

    def pair(tasks: int) -> Any:
        return journal_cost.postgres_pair(server, tasks)

    return [
        journal_cost.measure(
            NAME, pair, "postgresql", tasks, 5 if quick else 6, 12 if quick else 40
        )
        for tasks in (100, GATED_SIZE)
    ]
