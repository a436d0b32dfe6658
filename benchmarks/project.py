"""Scratch projects and `tm serve` processes for benchmarks (process handling is the harness's)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks.data import synthetic_document
from harness.processes import Proc, Supervisor, free_port, supervised, wait_http
from harness.targets import tm_executable
from taskmaster.compose import project_at
from taskmaster.model import DEFAULT_TAG, Document
from taskmaster.project import locate
from taskmaster.storage import ProjectState


@contextlib.contextmanager
def scratch_project(tasks: int) -> Iterator[Path]:
    """A project holding `tasks` synthetic tasks, removed afterwards.

    Laid out as `tm init` (and the reference tool) leave it, state.json with the current tag
    included: a server's per-request cost depends on which of these files exist.
    """
    with tempfile.TemporaryDirectory(prefix="tm-bench-") as scratch:
        root = Path(scratch)
        create_project(root, synthetic_document(tasks))
        yield root


def create_project(root: Path, document: Document) -> Path:
    """`.taskmaster/` in `root` holding `document`, master current; the task file's path."""
    (root / ".taskmaster").mkdir()
    project = project_at(locate(root, tasks_file=root / ".taskmaster" / "tasks.json"))
    try:
        project.core.storage.create(document, ProjectState(DEFAULT_TAG))
    finally:
        project.close()
    return root / ".taskmaster" / "tasks.json"


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


__all__ = ["create_project", "scratch_project", "start_http", "start_server", "supervised"]
