"""Finding a project on disk: its directory, its task file, and the files beside them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from taskmaster.errors import ProjectNotFound

PROJECT_DIR = ".taskmaster"


@dataclass(frozen=True, slots=True)
class ProjectPaths:
    root: Path
    tasks_file: Path

    @property
    def config_dir(self) -> Path:
        return self.root / PROJECT_DIR

    @property
    def state_file(self) -> Path:
        return self.config_dir / "state.json"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.json"


def find_root(start: Path | str | None = None) -> Path:
    """The nearest directory at or above `start` that holds `.taskmaster/`, like git does."""
    here = Path(start if start is not None else os.getcwd()).absolute()
    for candidate in (here, *here.parents):
        if (candidate / PROJECT_DIR).is_dir():
            return candidate
    raise ProjectNotFound.below(here)


def default_tasks_file(root: Path) -> Path:
    """An existing reference-tool layout (`.taskmaster/tasks/tasks.json`) wins over ours."""
    reference = root / PROJECT_DIR / "tasks" / "tasks.json"
    if reference.exists():
        return reference
    return root / PROJECT_DIR / "tasks.json"


def locate(
    start: Path | str | None = None, *, tasks_file: Path | str | None = None
) -> ProjectPaths:
    if tasks_file is not None and start is None:
        # `--file` alone: the project is the one around the file, or the file's own folder.
        file_path = Path(tasks_file).absolute()
        try:
            root = find_root(file_path.parent)
        except ProjectNotFound:
            root = file_path.parent
        return ProjectPaths(root, file_path)
    root = find_root(start)
    path = Path(tasks_file).absolute() if tasks_file is not None else default_tasks_file(root)
    return ProjectPaths(root, path)


GITIGNORE_HEADER = "# Task Master Pro: revision files beside the task file, unfinished writes"
# The lock is an flock on the directory now; `*.tm-lock` covers what earlier versions left.
SIDECAR_PATTERNS = ("*.tm-lock", "*.tm-rev", ".*.json.*.tmp")


def ignore_sidecars(paths: ProjectPaths) -> Path | None:
    """Make git ignore the files our writers keep beside the task file; the file if changed.

    The patterns go into `.taskmaster/.gitignore` (or a `.gitignore` beside a task file kept
    elsewhere), not the project's own: claude-task-master's `init` rewrites a section of the
    root `.gitignore`, and a file of our own inside `.taskmaster/` is left alone by it. Only
    missing lines are added, so running it again changes nothing.
    """
    tasks_dir = paths.tasks_file.parent
    inside = tasks_dir == paths.config_dir or paths.config_dir in tasks_dir.parents
    gitignore = (paths.config_dir if inside else tasks_dir) / ".gitignore"
    try:
        existing = gitignore.read_text(encoding="utf-8")
    except FileNotFoundError:
        existing = ""
    present = {line.strip() for line in existing.splitlines()}
    missing = [pattern for pattern in SIDECAR_PATTERNS if pattern not in present]
    if not missing:
        return None
    lines = ([GITIGNORE_HEADER] if GITIGNORE_HEADER not in present else []) + missing
    separator = "" if not existing or existing.endswith("\n") else "\n"
    with open(gitignore, "a", encoding="utf-8") as handle:
        handle.write(separator + "\n".join(lines) + "\n")
    return gitignore
