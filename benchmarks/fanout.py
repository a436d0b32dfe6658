"""Worker processes started together: forked, released at one barrier, each reporting once.

A worker is called as ``worker(*args, barrier, results)``; it opens what it needs, waits at the
barrier (so that every worker starts measuring at the same moment), and puts one report on
`results`: a tuple of its figures, or ``("error", message)`` when it could not start.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from typing import Any


def run_together(
    worker: Callable[..., None],
    argses: Sequence[tuple[Any, ...]],
    *,
    timeout: float,
    failed_to_start: str,
) -> list[tuple[Any, ...]]:
    """Run one worker per `argses` entry at once; their reports, in the order they came.
    RuntimeError(`failed_to_start`: why) if a worker could not start; every process is joined
    (or killed) before this returns."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(argses))
    results = context.Queue()
    procs = [
        context.Process(target=worker, args=(*args, barrier, results), daemon=True)
        for args in argses
    ]
    for proc in procs:
        proc.start()
    reports = []
    try:
        for _ in procs:
            report = results.get(timeout=timeout)
            if len(report) == 2:
                raise RuntimeError(f"{failed_to_start}: {report[1]}")
            reports.append(report)
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()
    return reports
