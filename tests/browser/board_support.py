"""Helpers of the board's browser tests and timing script (no tests here).

A real `tm serve` process on a free port over a scratch project, Debian's Chromium driven by
Playwright (never a downloaded browser), and the scratch projects the tests fill.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TM = str(Path(sys.executable).with_name("tm"))
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the caller's TM_* settings (a TM_API_TOKEN would change what
    the tests see), plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TM_")}
    env.update(extra)
    return env


def tm(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TM, "--project", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=clean_env(),
    )


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


@dataclass
class Served:
    root: Path
    port: int
    process: subprocess.Popen[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(root: Path, **env: str) -> Served:
    port = free_port()
    process = subprocess.Popen(
        [TM, "--project", str(root), "serve", "--port", str(port), "--threads", "8"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(**env),
    )
    served = Served(root, port, process)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            out, err = process.communicate()
            raise RuntimeError(f"tm serve exited with {process.returncode}:\n{out}\n{err}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status == 200:
                conn.close()
                return served
        except OSError:
            pass
        if time.monotonic() > deadline:
            served.stop()
            raise RuntimeError("tm serve did not become healthy within 30 s")
        time.sleep(0.05)
