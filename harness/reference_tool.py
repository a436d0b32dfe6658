"""The reference tool, task-master-ai, as a real program: where `.ci/reference-tool` installs it,
and how to run its non-AI commands on a project without reaching the network.

    install_dir()        ${XDG_CACHE_HOME:-~/.cache}/taskmaster-pro/reference-tool/<version>
    task_master()        its `task-master` executable there, or None
    ensure_installed()   runs `.ci/reference-tool` when it is missing (npm; skipped without npm)
    reference_env()      the environment it runs with: no auto-update check against the npm
                         registry, no colours
    set_status_argv()    `task-master set-status --id=N --status=S --project ROOT`

A missing tool skips the tests and the scenario that need it, unless
TM_REQUIRE_REFERENCE_TOOL=1 (CI sets it), which makes it a failure.

Version 0.43.1 finds its task file at `.taskmaster/tasks/tasks.json` under `--project` (its `-f`
is an output format, not a file), needs no `config.json` for set-status, and writes
`.taskmaster/state.json` on first use.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

VERSION = "0.43.1"
REQUIRE_ENV = "TM_REQUIRE_REFERENCE_TOOL"
SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "reference-tool"
MISSING = f"task-master-ai {VERSION} is not installed (.ci/reference-tool installs it with npm)"


def install_dir(version: str = VERSION, environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    cache = environ.get("XDG_CACHE_HOME") or str(
        Path(environ.get("HOME", "~")).expanduser() / ".cache"
    )
    return Path(cache) / "taskmaster-pro" / "reference-tool" / version


def task_master(version: str = VERSION) -> Path | None:
    """The installed `task-master` executable, or None."""
    folder = install_dir(version)
    program = folder / "node_modules" / ".bin" / "task-master"
    if (folder / ".installed").exists() and os.access(program, os.X_OK):
        return program
    return None


def required() -> bool:
    """TM_REQUIRE_REFERENCE_TOOL=1: a missing tool fails instead of skipping (CI sets it)."""
    return os.environ.get(REQUIRE_ENV, "").strip() == "1"


def ensure_installed() -> Path | None:
    """The executable, installing it first when missing (None: it could not be installed,
    e.g. no npm; the script said why on stderr)."""
    program = task_master()
    if program is None and SCRIPT.exists():
        subprocess.run([str(SCRIPT)], check=False)
        program = task_master()
    return program


def reference_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the reference tool runs with in tests and scenarios: it must not check
    the npm registry for a newer version (and install it), nor colour its output."""
    env = dict(os.environ if base is None else base)
    env.update(
        TASKMASTER_SKIP_AUTO_UPDATE="1",
        NO_COLOR="1",
        FORCE_COLOR="0",
        TASK_MASTER_NO_COLOR="true",
    )
    return env


def set_status_argv(
    program: Path | str, root: Path | str, task_id: int | str, status: str
) -> list[str]:
    return [
        str(program),
        "set-status",
        f"--id={task_id}",
        f"--status={status}",
        "--project",
        str(root),
    ]


def reference_tasks_file(root: Path | str) -> Path:
    """Where the reference tool keeps a project's tasks (`tm` finds it there too)."""
    return Path(root) / ".taskmaster" / "tasks" / "tasks.json"
