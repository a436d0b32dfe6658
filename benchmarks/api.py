"""API throughput on loopback, measured by wrk, for three servers in one run.

- cached:   `tm serve` answering GET /api/v1/tasks from its revision-checked cache;
- uncached: `tm serve --no-cache`, reading and serialising the file on every request;
- ceiling:  a bare Falcon route returning the same bytes from memory (the framework's limit).

Side by side in one run, so that a noisy machine moves all three together; the figure that
matters is the ratio cached / ceiling. Under load these servers switch between a fast and a
slow regime (threads convoying on the GIL), so one wrk run per server can compare a lucky one
with an unlucky one: the servers take turns over several rounds, each round's ratio pairs
measurements taken seconds apart, and the median of those ratios is reported.
"""

from __future__ import annotations

import re
import shutil
import statistics
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
TARGET_RATIO = 0.9
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


def _cached_figures(
    cached: list[dict[str, float]], uncached: list[dict[str, float]]
) -> dict[str, float]:
    """What the cache buys: its speed-up over reading the file on every request, per round."""
    speedups = [
        mine["requests_per_s"] / other["requests_per_s"]
        for mine, other in zip(cached, uncached, strict=True)
    ]
    return {"target_ratio": TARGET_RATIO, "speedup_over_uncached": statistics.median(speedups)}


def run(*, quick: bool = False) -> list[dict[str, object]]:
    rounds, seconds = (5, 2) if quick else (7, 4)
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
        servers = {"ceiling": port, "cached": cached, "uncached": uncached}
        for server_port in servers.values():
            _wrk(f"http://127.0.0.1:{server_port}/api/v1/tasks", 1)  # warm up
        runs: dict[str, list[dict[str, float]]] = {case: [] for case in servers}
        for round_ in range(rounds):
            order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
            for case in order:
                url = f"http://127.0.0.1:{servers[case]}/api/v1/tasks"
                runs[case].append(_wrk(url, seconds))
        for case, measured in runs.items():
            ratios = [
                mine["requests_per_s"] / ceiling["requests_per_s"]
                for mine, ceiling in zip(measured, runs["ceiling"], strict=True)
            ]
            rows.append(
                {
                    "benchmark": NAME,
                    "case": f"{case}, {TASKS} tasks, {len(body.read_bytes())} B",
                    "n": int(sum(m["requests_per_s"] for m in measured) * seconds),
                    "rounds": rounds,
                    **{key: statistics.median(m[key] for m in measured) for key in measured[0]},
                    "requests_per_s_each": [round(m["requests_per_s"]) for m in measured],
                    "ratio_to_ceiling": statistics.median(ratios),
                    **(_cached_figures(measured, runs["uncached"]) if case == "cached" else {}),
                }
            )
    return rows
