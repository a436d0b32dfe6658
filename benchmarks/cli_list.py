"""`tm list` on a 1,000-task project: wall time of the whole process, start-up included."""

from __future__ import annotations

import os
import subprocess
import time

from benchmarks.project import scratch_project
from benchmarks.stats import summarise
from harness.targets import tm_executable

NAME = "cli_list"
DESCRIPTION = "wall time of a whole `tm list` process on a 1,000-task project"
TASKS = 1000
TARGET_MEDIAN_MS = 250.0


def run(*, quick: bool = False) -> list[dict[str, object]]:
    repeats = 10 if quick else 40
    # As installed for a user: with bytecode caching (a sandbox may switch it off).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    rows = []
    with scratch_project(TASKS) as root:
        for case, args in (("tm list", ["list"]), ("tm list --json", ["list", "--json"])):
            command = [tm_executable(), "--project", str(root), *args]
            subprocess.run(command, check=True, capture_output=True, env=env)  # warm caches
            samples = []
            for _ in range(repeats):
                start = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True, env=env)
                samples.append((time.perf_counter() - start) * 1000)
            rows.append(
                {
                    "benchmark": NAME,
                    "case": f"{case}, {TASKS} tasks",
                    "target_median_ms": TARGET_MEDIAN_MS,
                    **summarise(samples),
                }
            )
    return rows
