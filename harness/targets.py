"""The two stacks every scenario runs against: `safe` (taskmaster) and `baseline` (naive).

Same scenario, same operations, same checker: only the programs differ.

    safe       the real installed `tm` (next to sys.executable), real `tm serve` processes,
               and the `TaskMaster` facade for direct writers
    baseline   `python -m harness.baseline` for the CLI and the API server, `NaiveCore` for
               direct writers: direct non-atomic writes, no lock, a TTL cache never invalidated

A target keeps its tasks in the task file of its project directory, or, when `storage` is a
PostgreSQL URL, in a database: `tm --storage URL` (no task file anywhere), or the naive
baseline's `--storage URL` (one JSON document per project, read, changed in Python and written
back without the row lock: the honest naive use of a database).

A scenario whose baseline lacks a protocol rather than a lock (the claim scenarios: agents
without claims, or without fencing tokens) says `baseline_stack = "taskmaster"`: its baseline
target keeps its name and runs taskmaster's programs (`stack`), so the protocol is all that
differs.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAFE = "safe"
BASELINE = "baseline"
TARGETS = (SAFE, BASELINE)


def tm_executable() -> str:
    beside = Path(sys.executable).parent / "tm"
    if beside.exists():
        return str(beside)
    found = shutil.which("tm")
    if found is None:
        raise FileNotFoundError("the `tm` console script is not installed next to this Python")
    return found


@dataclass(frozen=True)
class Target:
    name: str
    root: Path
    """The project directory (holds `.taskmaster/`; with `storage`, an empty directory)."""
    storage: str | None = None
    """A PostgreSQL storage URL (`postgresql://...?project=KEY`); None: the task file."""
    stack: str | None = None
    """Whose programs run, when not the target's own: a scenario whose baseline lacks a
    protocol rather than a lock (claims) runs taskmaster's programs on both targets."""

    @property
    def tasks_file(self) -> Path:
        """`.taskmaster/tasks.json`, or the reference tool's `.taskmaster/tasks/tasks.json`
        when a scenario made one (as `tm` chooses)."""
        reference = self.root / ".taskmaster" / "tasks" / "tasks.json"
        return reference if reference.exists() else self.root / ".taskmaster" / "tasks.json"

    @property
    def safe(self) -> bool:
        """Taskmaster's programs run (`tm`, `tm serve`, `tm mcp`, the facade)."""
        return (self.stack or self.name) == SAFE

    @property
    def database(self) -> bool:
        return self.storage is not None

    def where(self) -> list[str]:
        """The leading CLI arguments that say where the tasks are (same for both stacks)."""
        if self.storage is not None:
            # `tm` also gets the (empty) project directory, so that it never looks for a
            # project around the harness's own directory
            return [
                "--storage",
                self.storage,
                *(["--project", str(self.root)] if self.safe else []),
            ]
        return ["--project", str(self.root)] if self.safe else ["--file", str(self.tasks_file)]

    def cli(self, *args: str) -> list[str]:
        """The command line of one CLI invocation."""
        if self.safe:
            return [tm_executable(), *self.where(), *args]
        return [sys.executable, "-m", "harness.baseline", *self.where(), *args]

    def cli_program(self) -> tuple[str, list[str]]:
        """(program, leading args) for `harness.hooked`, which runs the CLI in-process."""
        return ("tm" if self.safe else "naive"), self.where()

    def mcp_args(self) -> list[str]:
        """`tm` arguments of the MCP server for this project."""
        return [*self.where(), "mcp"]

    def naive_location(self) -> str:
        """Where the naive stack keeps the tasks: its storage URL, or the task file."""
        return self.storage if self.storage is not None else str(self.tasks_file)

    def serve_args(self, port: int) -> list[str]:
        """CLI arguments (after `cli_program`'s) that start the API server on `port`: the
        same for `tm serve` and the naive server."""
        return ["serve", "--port", str(port)]

    def server(self, port: int) -> list[str]:
        return self.cli(*self.serve_args(port))

    def open_core(self) -> Any:
        """A direct writer in this process: the facade, or the naive equivalent."""
        if self.safe:
            import os

            from taskmaster.compose import Settings, open_project
            from taskmaster.config import storage_settings

            # What `tm` reads of the environment (TM_REFERENCE_LOCK...), read the same way.
            settings = Settings(**storage_settings(os.environ))
            if self.storage is not None:
                return open_project(self.root, storage_url=self.storage, settings=settings).core
            return open_project(self.root, settings=settings).core
        from harness.baseline import NaiveCore

        return NaiveCore(self.naive_location())

    def to_dict(self) -> dict[str, str]:
        data = {"name": self.name, "root": str(self.root)}
        if self.storage is not None:
            data["storage"] = self.storage
        if self.stack is not None:
            data["stack"] = self.stack
        return data

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Target:
        return cls(data["name"], Path(data["root"]), data.get("storage"), data.get("stack"))
