"""PNG charts of a benchmark run (`python -m benchmarks run --plot DIR`, or of saved results:
`python -m benchmarks plot RESULTS --into DIR [--before EARLIER]`).

matplotlib is imported only here, and only when charts are asked for (`pip install matplotlib`,
or `make bench`, which installs it).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

Row = dict[str, Any]
STORE_LABELS = {"taskmaster": "taskmaster, file", "postgresql": "taskmaster, PostgreSQL"}


def write_charts(
    results: list[Row], directory: Path, before: list[Row] | None = None
) -> list[Path]:
    """Write every chart the results allow; returns the files written. With `before` (an
    earlier run's results), the charts that can show it draw both runs side by side."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg")  # no display: files only
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for chart in (_latency_cdf, _contention, _scale):
        path = chart(results, directory)
        if path is not None:
            written.append(path)
    for compared in (_serve_writes, _api):
        path = compared(results, directory, before or [])
        if path is not None:
            written.append(path)
    return written


def _latency_cdf(results: list[Row], directory: Path) -> Path | None:
    import matplotlib.pyplot as plt

    rows = [r for r in results if r.get("benchmark") == "invalidation" and r.get("samples_ms")]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    for row in rows:
        samples = sorted(row["samples_ms"])
        fractions = [(i + 1) / len(samples) for i in range(len(samples))]
        ax.step(samples, fractions, where="post", label=row["case"])
    ax.axvline(10, color="red", linestyle="--", linewidth=1, label="gate: p99 < 10 ms")
    ax.set(xlabel="latency (ms)", ylabel="fraction of changes", title="Invalidation latency (CDF)")
    ax.set_xscale("log")
    ax.grid(True, which="both", alpha=0.3)
    # Below the axes: with a series per case, a legend inside would hide the curves.
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    return _save(fig, directory / "invalidation-cdf.png")


def _contention(results: list[Row], directory: Path) -> Path | None:
    import matplotlib.pyplot as plt

    series: dict[str, list[tuple[int, float, int]]] = defaultdict(list)
    for row in results:
        if row.get("benchmark") == "contention" and "ops_per_s" in row:
            series[row["store"]].append((row["writers"], row["ops_per_s"], row["lost_updates"]))
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for store, points in sorted(series.items()):
        points.sort()
        lost = sum(p[2] for p in points)
        ax.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            marker="o",
            label=f"{STORE_LABELS.get(store, store)} ({lost} updates lost)",
        )
    ax.set(xlabel="writer processes", ylabel="transactions/s", title="Writers on one project")
    ax.set_yscale("log")
    ax.set_xticks(sorted({p[0] for points in series.values() for p in points}))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, directory / "contention.png")


def _scale(results: list[Row], directory: Path) -> Path | None:
    import matplotlib.pyplot as plt

    series: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    for row in results:
        if row.get("benchmark") == "scale" and "median_ms" in row:
            backend = row.get("backend", "file")
            series[backend, row["measure"]].append((row["tasks"], row["median_ms"]))
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 5))
    # One colour per measure, one line style per backend: the same measure of both backends
    # side by side.
    measures = sorted({measure for _, measure in series})
    colours = {measure: f"C{i}" for i, measure in enumerate(measures)}
    for (backend, measure), points in sorted(series.items()):
        points.sort()
        ax.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            marker="o" if backend == "file" else "s",
            linestyle="-" if backend == "file" else "--",
            color=colours[measure],
            label=f"{backend}: {measure}",
        )
    ax.set(xlabel="tasks in the project", ylabel="median (ms)", title="Cost as the project grows")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, directory / "scale.png")


_SHARED = re.compile(r", \d+ (clients|processes|tasks)\b.*$")


def case_label(case: str) -> str:
    """A case without what every case of its benchmark shares (the clients, the tasks):
    "tm serve, TM_REFERENCE_LOCK=0, 8 clients, 100 tasks" -> "tm serve, TM_REFERENCE_LOCK=0",
    "cached, 100 tasks, 49899 B" -> "cached"."""
    return _SHARED.sub("", case)


def rates(results: list[Row], benchmark: str) -> dict[str, float]:
    """Each throughput case of one benchmark's run: its label -> requests/s, in run order."""
    return {
        case_label(str(r["case"])): float(r["requests_per_s"])
        for r in results
        if r.get("benchmark") == benchmark and isinstance(r.get("requests_per_s"), float)
    }


def serve_writes_rates(results: list[Row]) -> dict[str, float]:
    return rates(results, "serve_writes")


def _serve_writes(results: list[Row], directory: Path, before: list[Row]) -> Path | None:
    return _rates_chart(
        serve_writes_rates(results),
        serve_writes_rates(before),
        "tm serve writes, 8 clients",
        directory / "serve-writes.png",
    )


def _api(results: list[Row], directory: Path, before: list[Row]) -> Path | None:
    return _rates_chart(
        rates(results, "api"),
        rates(before, "api"),
        "GET /api/v1/tasks (100 tasks), 8 connections",
        directory / "api.png",
    )


def _rates_chart(
    after: dict[str, float], earlier: dict[str, float], title: str, path: Path
) -> Path | None:
    """Horizontal bars of requests/s per case, an earlier run's beside them when given."""
    import matplotlib.pyplot as plt

    if not after:
        return None
    labels = list(after)
    fig, ax = plt.subplots(figsize=(7.5, 4.5 if not earlier else 5.5))
    height = 0.4 if earlier else 0.8
    rows = range(len(labels))
    if earlier:
        old = ax.barh(
            [y - height / 2 for y in rows],
            [earlier.get(label, 0.0) for label in labels],
            height,
            label="before",
            color="#b0b0b0",
        )
        ax.bar_label(old, fmt="%.0f", padding=3, fontsize="small")
    new = ax.barh(
        [y + height / 2 for y in rows] if earlier else list(rows),
        [after[label] for label in labels],
        height,
        label="after" if earlier else None,
    )
    ax.bar_label(new, fmt="%.0f", padding=3, fontsize="small")
    ax.set_yticks(list(rows), labels)
    ax.invert_yaxis()  # in the table's order
    ax.set(xlabel="requests/s (median of rounds)", title=title)
    if earlier:
        ax.legend(loc="lower right")
    ax.grid(True, axis="x", alpha=0.3)
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
