"""`tm generate`: one markdown file per task, for people and tools that read files, not JSON.

File names follow the reference tool: `task_001.md` for the master tag, `task_001_<tag>.md` for
the others, so several tags can share one directory. Files of the same tag whose task no
longer exists are removed; other tags' files and any other file are left alone. Each file is
replaced atomically (a reader never sees half a file) and only when its content changed.

The tag is part of every file name, and a tag name can come from the task file itself (its
keys) or from state.json, which anyone who can commit to the repository controls: the name is
checked against the tag-name rule here, whatever its source, and every file written or deleted
must resolve to a place inside the (resolved) output directory, so neither a hostile name nor
a symlinked `task_*.md` makes this write or delete anything elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taskmaster.errors import InvalidInput
from taskmaster.model import DEFAULT_TAG, Task, check_tag_name, is_done
from taskmaster.storage.atomic import replace_file


@dataclass(frozen=True, slots=True)
class GenerateResult:
    """What `write_task_files` did; paths are absolute."""

    tag: str
    output_dir: Path
    files: list[Path]
    """Every task file of the tag, in task order."""
    written: list[Path]
    """The files created or changed (a subset of `files`)."""
    removed: list[Path]
    """Stale files of this tag that were deleted."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "outputDir": str(self.output_dir),
            "files": [str(path) for path in self.files],
            "written": [str(path) for path in self.written],
            "removed": [str(path) for path in self.removed],
        }


def task_file_name(task_id: int, tag: str) -> str:
    suffix = "" if tag == DEFAULT_TAG else f"_{tag}"
    return f"task_{task_id:03d}{suffix}.md"


def task_file_pattern(tag: str) -> re.Pattern[str]:
    """Matches exactly this tag's file names (`task_007.md` is master's, not feature's)."""
    suffix = "" if tag == DEFAULT_TAG else "_" + re.escape(tag)
    return re.compile(rf"task_\d+{suffix}\.md")


# rendering -------------------------------------------------------------------------------------


def _one_line(value: object) -> str:
    return " ".join(str(value or "").split())


def _dependency_ids(item: Task, parent_id: int | None) -> list[str]:
    # In a subtask a bare number is a sibling: written out in full so the file is unambiguous.
    return [
        f"{parent_id}.{dep}" if parent_id is not None and isinstance(dep, int) else str(dep)
        for dep in item.get("dependencies") or ()
    ]


def _statuses(tasks: Iterable[Task]) -> dict[str, str]:
    result: dict[str, str] = {}
    for task in tasks:
        result[str(task["id"])] = task.get("status") or "pending"
        for sub in task.get("subtasks") or ():
            result[f"{task['id']}.{sub['id']}"] = sub.get("status") or "pending"
    return result


def _dependency_text(ids: Sequence[str], statuses: dict[str, str]) -> str:
    if not ids:
        return "none"
    return ", ".join(f"{dep} ({statuses.get(dep, 'missing')})" for dep in ids)


def _section(title: str, text: object, level: str = "##") -> list[str]:
    body = str(text or "").strip("\n")
    if not body.strip():
        return []
    return [f"{level} {title}", "", body.rstrip(), ""]


def render_task(task: Task, tag: str, statuses: dict[str, str]) -> str:
    """The markdown for one task and its subtasks."""
    lines = [
        f"# Task {task['id']}: {_one_line(task.get('title'))}",
        "",
        f"- **Status:** {task.get('status') or 'pending'}",
        f"- **Priority:** {task.get('priority') or 'medium'}",
        f"- **Dependencies:** {_dependency_text(_dependency_ids(task, None), statuses)}",
        f"- **Tag:** {tag}",
        "",
    ]
    lines += _section("Description", task.get("description"))
    lines += _section("Details", task.get("details"))
    lines += _section("Test Strategy", task.get("testStrategy"))
    subtasks = task.get("subtasks") or []
    if subtasks:
        done = sum(1 for sub in subtasks if is_done(sub.get("status")))
        lines += [f"## Subtasks ({done}/{len(subtasks)} done)", ""]
        for sub in subtasks:
            deps = _dependency_ids(sub, task["id"])
            lines += [
                f"### {task['id']}.{sub['id']}: {_one_line(sub.get('title'))}",
                "",
                f"- **Status:** {sub.get('status') or 'pending'}",
                f"- **Dependencies:** {_dependency_text(deps, statuses)}",
                "",
            ]
            if _one_line(sub.get("description")):
                lines += [str(sub["description"]).strip(), ""]
            lines += _section("Details", sub.get("details"), "####")
            lines += _section("Test Strategy", sub.get("testStrategy"), "####")
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


# writing ---------------------------------------------------------------------------------------


class OutsideOutputDir(InvalidInput, PermissionError):
    """A task file that would resolve to somewhere outside the output directory."""


def _checked(path: Path, directory: Path) -> None:
    """Refuse `path` (a name in `directory`) if a symlink or the name takes it elsewhere."""
    target = path.resolve()
    if target.parent != directory:
        raise OutsideOutputDir(
            f"refusing to touch {path}: it resolves to {target}, outside the output "
            f"directory {directory}"
        )


def write_task_files(tasks: Sequence[Task], tag: str, output_dir: Path | str) -> GenerateResult:
    """Write one file per task of `tag` into `output_dir` and delete this tag's stale files."""
    try:
        check_tag_name(tag)
    except InvalidInput as err:
        raise InvalidInput(f"{err}; no task files are named after it") from None
    directory = Path(output_dir).absolute()
    directory.mkdir(parents=True, exist_ok=True)
    # Resolved once: the names below are compared against where the directory really is.
    directory = directory.resolve()
    statuses = _statuses(tasks)
    files = [directory / task_file_name(task["id"], tag) for task in tasks]
    keep = {path.name for path in files}
    pattern = task_file_pattern(tag)
    stale = [
        path
        for path in sorted(directory.iterdir())
        if pattern.fullmatch(path.name) and path.name not in keep and path.is_file()
    ]
    # Every path is checked before the first write: a refusal leaves the directory as it was.
    for path in (*files, *stale):
        _checked(path, directory)
    written: list[Path] = []
    for task, path in zip(tasks, files, strict=True):
        data = render_task(task, tag, statuses).encode()
        try:
            if path.read_bytes() == data:
                continue  # unchanged: no write, so no spurious change for file watchers
        except FileNotFoundError:
            pass
        # Not durable: these files are derived and can always be generated again.
        replace_file(path, data, durable=False)
        written.append(path)
    removed = []
    for path in stale:
        path.unlink(missing_ok=True)
        removed.append(path)
    return GenerateResult(tag, directory, files, written, removed)


__all__ = [
    "GenerateResult",
    "OutsideOutputDir",
    "render_task",
    "task_file_name",
    "task_file_pattern",
    "write_task_files",
]
