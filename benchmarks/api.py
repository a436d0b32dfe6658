"""API throughput on loopback, measured by wrk, for three servers in one run.

- cached:   `tm serve` answering GET /api/v1/tasks from its revision-checked cache;
- uncached: `tm serve --no-cache`, reading and serialising the file on every request;
- ceiling:  a bare Falcon route returning the same bytes from memory (the framework's limit).

Side by side in one run, so that a noisy machine moves all three together; the figure that
matters is the ratio cached / ceiling.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from benchmarks.project import scratch_project, start_http, start_server, supervised

NAME = "api"
DESCRIPTION = "GET /api/v1/tasks (100 tasks) requests/s: cached vs uncached vs a bare route"
TASKS = 100
CONNECTIONS = 8
TARGET_RATIO = 0.8
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk(url: str, seconds: int) -> dict[str, float]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("the api benchmark needs wrk (Debian package `wrk`): apt-get install wrk")
    out = subprocess.run(
        [wrk, "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures = {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for label, key in (("50%", "median_ms"), ("99%", "p99_ms")):
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out).groups()
        figures[key] = float(value) * _UNITS[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} error responses under load")
    return figures


def run(*, quick: bool = False) -> list[dict[str, object]]:
    seconds = 3 if quick else 10
    rows: list[dict[str, object]] = []
    with (
        scratch_project(TASKS) as root,
        supervised() as supervisor,
        tempfile.TemporaryDirectory(prefix="tm-bench-body-") as scratch,
    ):
        cached, _ = start_server(supervisor, root, "cached")
        uncached, _ = start_server(supervisor, root, "uncached", "--no-cache")
        body = Path(scratch) / "tasks.json"
        with urllib.request.urlopen(f"http://127.0.0.1:{cached}/api/v1/tasks") as response:
            body.write_bytes(response.read())
        port, _ = start_http(
            supervisor,
            "ceiling",
            lambda port: [
                *(sys.executable, "-m", "benchmarks.ceiling"),
                *("--port", str(port), "--body", str(body)),
            ],
        )
        results = {}
        for case, server_port in (("ceiling", port), ("cached", cached), ("uncached", uncached)):
            url = f"http://127.0.0.1:{server_port}/api/v1/tasks"
            _wrk(url, 1)  # warm up: connections, caches, the interpreter
            results[case] = _wrk(url, seconds)
        ceiling_rps = results["ceiling"]["requests_per_s"]
        for case, figures in results.items():
            rows.append(
                {
                    "benchmark": NAME,
                    "case": f"{case}, {TASKS} tasks, {len(body.read_bytes())} B",
                    "n": int(figures["requests_per_s"] * seconds),
                    **figures,
                    "ratio_to_ceiling": figures["requests_per_s"] / ceiling_rps,
                    **({"target_ratio": TARGET_RATIO} if case == "cached" else {}),
                }
            )
    return rows
