"""Scratch projects and `tm serve` processes for benchmarks (process handling is the harness's)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks.data import synthetic_document
from harness.processes import Proc, Supervisor, free_port, supervised, wait_http
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


def start_http(
    supervisor: Supervisor,
    name: str,
    argv: Callable[[int], list[str]],
    *,
    env: dict[str, str] | None = None,
) -> tuple[int, Proc]:
    """Spawn the server `argv(port)` on a free port; returns the port and process once healthy."""
    port = free_port()
    proc = supervisor.spawn(name, argv(port), env=env)
    wait_http(port, "/api/v1/health", proc)
    return port, proc


def start_server(
    supervisor: Supervisor, root: Path, name: str, *extra: str, env: dict[str, str] | None = None
) -> tuple[int, Proc]:
    """`tm serve` on a free port for the project at `root`, once healthy."""
    return start_http(
        supervisor,
        name,
        lambda port: [
            tm_executable(),
            "--project",
            str(root),
            "serve",
            "--port",
            str(port),
            *extra,
        ],
        env=env,
    )


__all__ = ["scratch_project", "start_http", "start_server", "supervised"]
