"""Shared helpers of the CLI tests (no tests here). Import as ``from test_cli_support import Tm``.

`Tm` runs the `tm` group in-process with `CliRunner`, always with an absolute `--project`,
so no test depends on the current directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from click.testing import CliRunner, Result

from taskmaster.cli import cli

FIXTURES = Path(__file__).parent / "fixtures"


class Tm:
    """A project directory and a way to run `tm` commands against it."""

    def __init__(self, root: Path, *, tasks_file: Path | None = None) -> None:
        self.root = root.absolute()
        self.tasks_file = tasks_file or self.root / ".taskmaster" / "tasks.json"
        self.runner = CliRunner(env={"NO_COLOR": None, "TM_PROJECT": None})

    @classmethod
    def init(cls, root: Path) -> Tm:
        tm = cls(root)
        tm.ok("init")
        return tm

    def __call__(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        return self.runner.invoke(cli, ["--project", str(self.root), *args], input=input, env=env)

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, (args, result.stdout, result.stderr, result.exception)
        assert result.stderr == "", result.stderr
        return result

    def json(self, *args: str) -> Any:
        return orjson.loads(self.ok(*args, "--json").stdout)

    def fails(self, code: int, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == code, (args, result.exit_code, result.stdout, result.stderr)
        if code == 1:
            assert "Traceback" not in result.stderr
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
        return result

    def data(self) -> Any:
        return orjson.loads(self.tasks_file.read_bytes())

    def tasks(self, tag: str = "master") -> list[dict[str, Any]]:
        return self.data()[tag]["tasks"]

    def task(self, task_id: int, tag: str = "master") -> dict[str, Any]:
        return next(t for t in self.tasks(tag) if t["id"] == task_id)

    def add(self, title: str, *extra: str) -> int:
        return self.json("add-task", "--title", title, *extra)["id"]


def write_document(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
