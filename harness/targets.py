"""The two stacks every scenario runs against: `safe` (taskmaster) and `baseline` (naive).

Same scenario, same operations, same checker: only the programs differ.

    safe       the real installed `tm` (next to sys.executable), real `tm serve` processes,
               and the `TaskMaster` facade for direct writers
    baseline   `python -m harness.baseline` for the CLI and the API server, `NaiveCore` for
               direct writers: direct non-atomic writes, no lock, a TTL cache never invalidated
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
    """The project directory (holds `.taskmaster/`)."""

    @property
    def tasks_file(self) -> Path:
        return self.root / ".taskmaster" / "tasks.json"

    @property
    def safe(self) -> bool:
        return self.name == SAFE

    def cli(self, *args: str) -> list[str]:
        """The command line of one CLI invocation."""
        if self.safe:
            return [tm_executable(), "--project", str(self.root), *args]
        return [sys.executable, "-m", "harness.baseline", "--file", str(self.tasks_file), *args]

    def cli_program(self) -> tuple[str, list[str]]:
        """(program, leading args) for `harness.hooked`, which runs the CLI in-process."""
        if self.safe:
            return "tm", ["--project", str(self.root)]
        return "naive", ["--file", str(self.tasks_file)]

    def serve_args(self, port: int) -> list[str]:
        """CLI arguments (after `cli_program`'s) that start the API server on `port`: the
        same for `tm serve` and the naive server."""
        return ["serve", "--port", str(port)]

    def server(self, port: int) -> list[str]:
        return self.cli(*self.serve_args(port))

    def open_core(self) -> Any:
        """A direct writer in this process: the facade, or the naive equivalent."""
        if self.safe:
            from taskmaster.compose import open_project

            return open_project(self.root).core
        from harness.baseline import NaiveCore

        return NaiveCore(self.tasks_file)

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "root": str(self.root)}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Target:
        return cls(data["name"], Path(data["root"]))
