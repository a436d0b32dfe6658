"""Finding a project on disk: its directory, its task file, and the files beside them."""

from __future__ import annotations

import os
from collections.abc import Iterable
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
SIDECAR_PATTERNS = ("*.tm-lock", "*.tm-rev", "*.tm-journal", "*.tm-last", ".*.json.*.tmp")


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
    return gitignore if add_missing_lines(gitignore, GITIGNORE_HEADER, SIDECAR_PATTERNS) else None


def add_missing_lines(path: Path, header: str, lines: Iterable[str]) -> bool:
    """Append to the text file `path` (created if missing) those of `lines` it lacks, after
    `header` unless that is there already; whether anything was added. A line counts as
    present whatever the spaces around it, so running it again changes nothing."""
    try:
        existing = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        existing = ""
    present = {line.strip() for line in existing.splitlines()}
    missing = [line for line in lines if line not in present]
    if not missing:
        return False
    block = ([header] if header not in present else []) + missing
    separator = "" if not existing or existing.endswith("\n") else "\n"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(separator + "\n".join(block) + "\n")
    return True


STORAGE_FILE = "storage.toml"
"""`.taskmaster/storage.toml`: the backend of a project kept elsewhere than in its task file.

A file of our own: claude-task-master reads `config.json`, `state.json` and the task file,
never this one, so naming a database here cannot confuse it."""


def storage_file(root: Path) -> Path:
    return root / PROJECT_DIR / STORAGE_FILE


def read_storage_url(root: Path) -> str | None:
    """The storage URL `.taskmaster/storage.toml` names (`url = "postgresql://..."`), or None
    when the project has no such file (its tasks are then in its task file)."""
    path = storage_file(root)
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    # Imported only for a project that has the file: the TOML parser costs every command
    # of every other project a few milliseconds of start-up.
    import tomllib

    from taskmaster.errors import CorruptStateFile

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise CorruptStateFile.at(path, str(err)) from None
    url = data.get("url")
    if not isinstance(url, str) or not url.strip():
        raise CorruptStateFile.at(path, 'expected a line url = "postgresql://..."')
    return url.strip()


STORAGE_FILE_TEMPLATE = """\
# Where Task Master Pro keeps this project's tasks (`tm init --storage URL` wrote this file).
# claude-task-master does not read it: `tm storage export --to .taskmaster/tasks/tasks.json`
# gives it a copy. Keep passwords out of this file: libpq reads them from PGPASSWORD or
# ~/.pgpass (a password in the URL below would make this file a secret).
url = {url}
"""


def write_storage_url(root: Path, url: str) -> Path:
    """Write `.taskmaster/storage.toml` naming `url` (its directory must exist)."""
    import json

    path = storage_file(root)
    # A JSON string is a valid TOML basic string: quotes and backslashes escaped alike.
    path.write_text(STORAGE_FILE_TEMPLATE.format(url=json.dumps(url)), encoding="utf-8")
    return path
