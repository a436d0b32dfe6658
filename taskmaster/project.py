"""Finding a project on disk and the small state files beside the task file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from taskmaster.errors import CorruptStateFile, ProjectNotFound
from taskmaster.model import DEFAULT_TAG
from taskmaster.storage.atomic import replace_file
from taskmaster.storage.regular import open_regular

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


def read_json_object(path: Path) -> dict[str, Any]:
    """A small JSON settings file; absent means empty, unparsable is CorruptStateFile.

    Its own error, not the task file's: the tasks are fine, and the message says how to
    repair this file instead.
    """
    try:
        with os.fdopen(open_regular(path), "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        if not raw.strip():
            raise CorruptStateFile.at(path, "the file is empty") from None
        raise CorruptStateFile.at(
            path, str(err).split(": line")[0], line=err.lineno, column=err.colno
        ) from None
    if not isinstance(data, dict):
        raise CorruptStateFile.at(path, "expected a JSON object")
    return data


def write_json_object(path: Path, data: dict[str, Any]) -> None:
    replace_file(path, orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")


_UNUSED = object()


class CurrentTag:
    """The tag in use, re-read only when state.json (or, when it names no tag, config.json)
    changed on disk.

    A server asks on every request; a stat call replaces a file read and a JSON parse. While
    state.json names the tag, config.json cannot change the answer, so only state.json is
    watched then: every stat releases the GIL, and that showed in server throughput.
    """

    def __init__(self, paths: ProjectPaths) -> None:
        self.paths = paths
        # Plain strings: building the Path objects cost more than the stat calls.
        self._state = os.fspath(paths.state_file)
        self._config = os.fspath(paths.config_file)
        self._seen: tuple[object, object, str] | None = None
        """(state.json's stat key, config.json's or _UNUSED, the tag)."""

    def get(self) -> str:
        state_key = _stat_key(self._state)
        seen = self._seen
        if (
            seen is not None
            and seen[0] == state_key
            and (seen[1] is _UNUSED or seen[1] == _stat_key(self._config))
        ):
            return seen[2]
        # Both keys are taken before the reads: a change racing them costs a re-read later.
        config_key = _stat_key(self._config)
        tag, from_state = _current_tag(self.paths)
        self._seen = (state_key, _UNUSED if from_state else config_key, tag)
        return tag


def _stat_key(path: str) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def current_tag(paths: ProjectPaths) -> str:
    return _current_tag(paths)[0]


def _current_tag(paths: ProjectPaths) -> tuple[str, bool]:
    """The tag, and whether state.json named it (else config.json's default or master)."""
    state = read_json_object(paths.state_file)
    tag = state.get("currentTag")
    if isinstance(tag, str) and tag:
        return tag, True
    config = read_json_object(paths.config_file)
    default = config.get("global", {}).get("defaultTag") if isinstance(config, dict) else None
    return (default if isinstance(default, str) and default else DEFAULT_TAG), False


def set_current_tag(paths: ProjectPaths, tag: str) -> None:
    # Read-modify-write keeps the reference tool's other state keys; a corrupt file has none
    # worth keeping, and choosing the tag is how a user repairs it.
    try:
        state = read_json_object(paths.state_file)
    except CorruptStateFile:
        state = {}
    state["currentTag"] = tag
    write_json_object(paths.state_file, state)


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
