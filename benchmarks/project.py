"""Scratch projects and `tm serve` processes for benchmarks (process handling is the harness's)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from benchmarks.data import synthetic_document
from harness.processes import Supervisor, free_port, supervised, wait_http
from harness.targets import tm_executable
from taskmaster.storage import FileStorage


@contextlib.contextmanager
def scratch_project(tasks: int) -> Iterator[Path]:
    """A project holding `tasks` synthetic tasks, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="tm-bench-") as scratch:
        root = Path(scratch)
        (root / ".taskmaster").mkdir()
        FileStorage(root / ".taskmaster" / "tasks.json").create(synthetic_document(tasks))
        yield root


def start_server(
    supervisor: Supervisor, root: Path, name: str, *extra: str, env: dict[str, str] | None = None
) -> int:
    """`tm serve` on a free port for the project at `root`; returns the port once healthy."""
    port = free_port()
    proc = supervisor.spawn(
        name,
        [tm_executable(), "--project", str(root), "serve", "--port", str(port), *extra],
        env=env,
    )
    wait_http(port, "/api/v1/health", proc)
    return port


__all__ = ["scratch_project", "start_server", "supervised"]
