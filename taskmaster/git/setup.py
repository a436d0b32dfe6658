"""Making git use the task-file merge: `.gitattributes`, the repository's git config, and
`.gitignore` lines for the files our writers keep beside the task file.

Everything here is idempotent: each step looks at what is there and adds only what is missing,
so `tm git install` can be run again (after moving the virtual environment, say) safely.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskmaster.errors import TaskMasterError
from taskmaster.project import ProjectPaths, add_missing_lines, ignore_sidecars

DRIVER = "taskmaster"
"""The merge driver's name: `merge=taskmaster` in .gitattributes, `merge.taskmaster.*` in
the git config."""
DRIVER_NAME = "Task Master Pro: three-way merge of tasks.json by tag, task and field"
ATTRIBUTES_HEADER = "# Task Master Pro: merge the task file by task, not by line (tm git install)"
GIT_TIMEOUT_S = 30


class GitError(TaskMasterError):
    """git is missing, the project is in no git repository, or a git command failed."""


def driver_command(executable: str | None = None) -> str:
    """The command git runs to merge the task file (through a shell, with %O %A %B %P
    replaced by the ancestor's, ours' and theirs' temporary files and the file's path).

    The interpreter running now, by absolute path, with `-m taskmaster`: git runs drivers
    with its own environment (a hook, an IDE, a shell without the virtual environment on
    PATH), where a bare `tm` may be missing or another installation's.
    """
    python = shlex.quote(executable or sys.executable)
    return f"{python} -m taskmaster git merge-driver %O %A %B %P"


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", str(cwd), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
        )
    except FileNotFoundError:
        raise GitError("git is not installed (no `git` command on PATH)") from None
    except (OSError, subprocess.TimeoutExpired) as err:
        raise GitError(f"could not run git: {err}") from None


def repository_root(start: Path) -> Path:
    """The top directory of the git work tree holding `start` (GitError outside one)."""
    done = _git(start, "rev-parse", "--show-toplevel")
    top = done.stdout.strip()
    if done.returncode != 0 or not top:
        raise GitError(
            f"{start} is not inside a git work tree (run `git init` first, or `tm --project "
            "DIR git install` for a project that is in one)",
            path=str(start),
        )
    return Path(top).resolve()


def attributes_pattern(relative: str) -> str:
    """A .gitattributes pattern naming exactly the file at `relative` (a path from the
    repository root): anchored with a leading '/', special characters escaped."""
    escaped = "".join("\\" + char if char in "*?[\\!#" else char for char in relative)
    if " " in escaped or '"' in escaped:
        # git reads a pattern in double quotes C-style; that is the only way to say a space.
        escaped = '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return escaped[0] + "/" + escaped[1:]
    return "/" + escaped


@dataclass(slots=True)
class Installed:
    repository: Path
    tasks_file: str
    """The task file's path from the repository root."""
    attributes: Path
    command: str
    changed: list[str] = field(default_factory=list)
    """What was added or set: paths of files and `git config` keys."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "repository": str(self.repository),
            "tasksFile": self.tasks_file,
            "attributes": str(self.attributes),
            "driver": self.command,
            "changed": self.changed,
        }


def _relative(paths: ProjectPaths) -> tuple[Path, str]:
    tasks_file = paths.tasks_file.absolute()
    top = repository_root(tasks_file.parent if tasks_file.parent.is_dir() else paths.root)
    try:
        relative = tasks_file.resolve().relative_to(top)
    except ValueError:
        raise GitError(
            f"the task file {tasks_file} is outside the git work tree {top}",
            path=str(tasks_file),
        ) from None
    return top, relative.as_posix()


def install(paths: ProjectPaths, command: str | None = None) -> Installed:
    """Register the merge driver for the project's task file in its git repository."""
    top, relative = _relative(paths)
    command = command or driver_command()
    done = Installed(top, relative, top / ".gitattributes", command)
    line = f"{attributes_pattern(relative)} merge={DRIVER}"
    if add_missing_lines(done.attributes, ATTRIBUTES_HEADER, [line]):
        done.changed.append(str(done.attributes))
    for key, value in (("name", DRIVER_NAME), ("driver", command)):
        name = f"merge.{DRIVER}.{key}"
        current = _git(top, "config", "--local", "--get", name)
        if current.returncode == 0 and current.stdout.rstrip("\n") == value:
            continue
        result = _git(top, "config", "--local", name, value)
        if result.returncode != 0:
            raise GitError(f"git config {name} failed: {result.stderr.strip()}")
        done.changed.append(name)
    gitignore = ignore_sidecars(paths)
    if gitignore is not None:
        done.changed.append(str(gitignore))
    return done


def uninstall(paths: ProjectPaths) -> Installed:
    """Undo `install`: the .gitattributes line and the git config section (the .gitignore
    lines stay: the files they name should never be committed in any case)."""
    top, relative = _relative(paths)
    done = Installed(top, relative, top / ".gitattributes", "")
    line = f"{attributes_pattern(relative)} merge={DRIVER}"
    if _remove_lines(done.attributes, {line, ATTRIBUTES_HEADER}):
        done.changed.append(str(done.attributes))
    for key in ("name", "driver"):
        name = f"merge.{DRIVER}.{key}"
        if _git(top, "config", "--local", "--get", name).returncode == 0:
            result = _git(top, "config", "--local", "--unset-all", name)
            if result.returncode != 0:
                raise GitError(f"git config --unset {name} failed: {result.stderr.strip()}")
            done.changed.append(name)
    return done


def status(paths: ProjectPaths) -> dict[str, Any]:
    """Whether git would use the driver for the task file, as git itself answers it."""
    top, relative = _relative(paths)
    attr = _git(top, "check-attr", "merge", "--", relative)
    value = attr.stdout.rsplit(": ", 1)[-1].strip() if attr.returncode == 0 else ""
    driver = _git(top, "config", "--get", f"merge.{DRIVER}.driver")
    command = driver.stdout.rstrip("\n") if driver.returncode == 0 else None
    return {
        "repository": str(top),
        "tasksFile": relative,
        "mergeAttribute": value or None,
        "driver": command,
        "installed": value == DRIVER and command is not None,
    }


def _remove_lines(path: Path, lines: set[str]) -> bool:
    try:
        existing = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    kept = [line for line in existing.splitlines(keepends=True) if line.strip() not in lines]
    if len(kept) == len(existing.splitlines()):
        return False
    path.write_text("".join(kept), encoding="utf-8")
    return True
