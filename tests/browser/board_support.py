"""Helpers of the board's browser tests and timing script (no tests here).

A real `tm serve` process on a free port over a scratch project, Debian's Chromium driven by
Playwright (never a downloaded browser), and the scratch projects the tests fill.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# The script (measure_board.py) runs from anywhere: the repository root holds `tests`.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.servers import Served, clean_env, free_port, tm
from tests.servers import start_server as _start_server

REQUIRE_ENV = "TM_REQUIRE_BROWSER"
SCREENSHOT_ENV = "TM_BOARD_SCREENSHOT"
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def chromium_path() -> str | None:
    """Debian's Chromium, or None when it is not installed."""
    for candidate in (shutil.which("chromium"), *CHROMIUM_PATHS):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def browser_required() -> bool:
    """TM_REQUIRE_BROWSER=1: a missing Chromium or Playwright fails instead of skipping."""
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def task(
    task_id: int,
    title: str,
    status: str = "pending",
    *,
    priority: str = "medium",
    dependencies: Iterable[int] = (),
    subtasks: Iterable[tuple[str, str]] = (),
    description: str = "",
) -> dict[str, Any]:
    return {
        "id": task_id,
        "title": title,
        "description": description,
        "details": "",
        "testStrategy": "",
        "status": status,
        "dependencies": list(dependencies),
        "priority": priority,
        "subtasks": [
            {
                "id": n,
                "title": sub_title,
                "description": "",
                "details": "",
                "status": sub_status,
                "dependencies": [],
                "parentTaskId": task_id,
            }
            for n, (sub_title, sub_status) in enumerate(subtasks, start=1)
        ],
    }


def make_project(root: Path, tasks: list[dict[str, Any]]) -> Path:
    """A project at `root` whose master tag holds `tasks` (written as an editor would)."""
    tm(root, "init")
    tasks_file = root / ".taskmaster" / "tasks.json"
    document = json.loads(tasks_file.read_text())
    document["master"]["tasks"] = tasks
    tasks_file.write_text(json.dumps(document, indent=2))
    return tasks_file


def stored_status(tasks_file: Path, task_id: int, tag: str = "master") -> str:
    document = json.loads(tasks_file.read_text())
    for each in document[tag]["tasks"]:
        if each["id"] == task_id:
            status: str = each["status"]
            return status
    raise KeyError(task_id)


def start_server(root: Path, **env: str) -> Served:
    """`tm serve` with a thread to spare for every open board's event stream."""
    return _start_server(root, threads=8, **env)


__all__ = ["Served", "clean_env", "free_port", "start_server", "tm"]
