"""The task document, as claude-task-master stores it, kept as plain JSON values.

Tasks and subtasks stay the dicts they were parsed into. That is what lets every key we do not
know about (at the document, tag, metadata, task and subtask level) survive a read-modify-write
untouched, in its original order, and it keeps a 5,000-task transaction cheap. This module
normalises what the reference tool writes inconsistently (string ids such as ``"5"``), checks
the shape once on load, and serialises with 2-space indentation like the reference tool.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from taskmaster.errors import (
    CorruptTaskFile,
    DuplicateId,
    InvalidInput,
    NotATaskFile,
    TagNotFound,
    TaskNotFound,
)

# Ids and the shape check live in their own modules; their public names are part of the
# model's, so every caller imports them from here.
from taskmaster.ids import MAX_ID as MAX_ID
from taskmaster.ids import TaskId as TaskId
from taskmaster.ids import dependency_value as dependency_value
from taskmaster.ids import is_id_text as is_id_text
from taskmaster.ids import next_id as next_id
from taskmaster.ids import parse_ids as parse_ids
from taskmaster.ids import sibling as sibling
from taskmaster.ids import subtask_dependency_id as subtask_dependency_id
from taskmaster.ids import task_dependency_id as task_dependency_id
from taskmaster.shape import found_value as found_value
from taskmaster.shape import is_tag, normalise_tag
from taskmaster.shape import json_type_name as json_type_name

Task = dict[str, Any]
"""A task or subtask exactly as stored (unknown keys included)."""

DEFAULT_TAG = "master"
STATUSES = ("pending", "in-progress", "done", "review", "deferred", "cancelled", "blocked")
DONE_STATUSES = frozenset({"done", "completed"})
"""`completed` is accepted on read as done-equivalent; we never write it."""
PRIORITIES = ("low", "medium", "high", "critical")
DEFAULT_PRIORITY = "medium"
PRIORITY_RANK = {name: rank for rank, name in enumerate(PRIORITIES)}
TASK_KEYS = (
    "id",
    "title",
    "description",
    "details",
    "testStrategy",
    "status",
    "dependencies",
    "priority",
    "subtasks",
)
"""The keys of a task, in the order the reference tool writes them (new tasks follow it)."""
SUBTASK_KEYS = ("id", "title", "description", "details", "status", "dependencies", "parentTaskId")
TAG_NAME = re.compile(r"[A-Za-z0-9_-]+")
"""A tag name; always checked with `fullmatch` (`$` would let a trailing newline through)."""

MAX_JSON_DEPTH = 254
"""The deepest nesting of objects and lists the task file can be written with (orjson, the
serialiser, stops at 255 while it reads up to 1,024). A document deeper than this can be read
but never saved, so every value that enters the document is checked against it."""


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise InvalidInput(f"invalid status {status!r}: expected one of {', '.join(STATUSES)}")
    return status


def check_priority(priority: str) -> str:
    if priority not in PRIORITIES:
        raise InvalidInput(
            f"invalid priority {priority!r}: expected one of {', '.join(PRIORITIES)}"
        )
    return priority


def check_tag_name(name: str) -> str:
    if not isinstance(name, str) or not TAG_NAME.fullmatch(name):
        raise InvalidInput(f"invalid tag name {name!r}: use letters, digits, '-' and '_' only")
    return name


DEFAULT_STATUS = "pending"


def status_of(item: Task) -> object:
    """An item's status with one meaning everywhere: none stored (or empty) is pending, as the
    reference tool and every listing show it."""
    return item.get("status") or DEFAULT_STATUS


def is_done(status: object) -> bool:
    return status in DONE_STATUSES


class Document:
    """A parsed task file: tagged (`{tag: {tasks, metadata}}`) or flat (`{tasks, metadata}`).

    ``data`` is the top-level JSON object; tags are its values (or the object itself when flat).
    Top-level keys that are not task lists are kept as they are and are not tags.
    """

    __slots__ = ("data", "flat")

    def __init__(self, data: dict[str, Any], *, flat: bool = False) -> None:
        self.data = data
        self.flat = flat

    @classmethod
    def empty(cls) -> Document:
        return cls({DEFAULT_TAG: {"tasks": [], "metadata": {}}})

    # tags ---------------------------------------------------------------------------------
    def tag_names(self) -> list[str]:
        if self.flat:
            return [DEFAULT_TAG]
        return [name for name, value in self.data.items() if is_tag(value)]

    def has_tag(self, name: str) -> bool:
        if self.flat:
            return name == DEFAULT_TAG
        return is_tag(self.data.get(name))

    def tag(self, name: str) -> dict[str, Any]:
        if self.flat and name == DEFAULT_TAG:
            return self.data
        if not self.flat and is_tag(self.data.get(name)):
            value: dict[str, Any] = self.data[name]
            return value
        raise TagNotFound.named(name)

    def tasks(self, tag: str) -> list[Task]:
        tasks: list[Task] = self.tag(tag).setdefault("tasks", [])
        return tasks

    def put_tag(self, name: str, value: dict[str, Any], *, after: str | None = None) -> None:
        """Add or replace a tag; a flat document becomes tagged when a second tag appears."""
        if self.flat and name != DEFAULT_TAG:
            self.data = {DEFAULT_TAG: self.data}
            self.flat = False
        if self.flat:
            self.data = value
            return
        if after is None or after not in self.data:
            self.data[name] = value
            return
        # Rebuild to keep a renamed tag where it was: order is what a person sees in a diff.
        rebuilt: dict[str, Any] = {}
        for key, existing in self.data.items():
            rebuilt[key] = existing
            if key == after:
                rebuilt[name] = value
        self.data = rebuilt

    def drop_tag(self, name: str) -> dict[str, Any]:
        value = self.tag(name)
        if self.flat:
            raise InvalidInput("cannot remove the only tag of a flat task file")
        del self.data[name]
        return value

    # tasks --------------------------------------------------------------------------------
    def find_task(self, tag: str, task_id: int) -> Task | None:
        """The task with that id, or None; DuplicateId if several share it (whichever one we
        picked, a command could act on the wrong one)."""
        found = None
        for task in self.tasks(tag):
            if task.get("id") == task_id:
                if found is not None:
                    raise DuplicateId.of(f"task {task_id}", f"tag '{tag}'")
                found = task
        return found

    def task(self, tag: str, task_id: int) -> Task:
        found = self.find_task(tag, task_id)
        if found is None:
            raise TaskNotFound.for_id(task_id, tag)
        return found

    def find(self, tag: str, task_id: TaskId) -> Task | None:
        """The task or subtask with that id, or None."""
        task = self.find_task(tag, task_id.task)
        if task is None or task_id.sub is None:
            return task
        return find_subtask(task, task_id.sub)

    def get(self, tag: str, task_id: TaskId) -> Task:
        found = self.find(tag, task_id)
        if found is None:
            raise TaskNotFound.for_id(task_id, tag)
        return found

    def view(self, tag: str, task_id: TaskId) -> Task:
        """A task as stored, or a subtask as `subtask_view` shows it."""
        item = self.get(tag, task_id)
        if task_id.sub is None:
            return item
        return subtask_view(self.task(tag, task_id.task), item)

    def iter_items(self, tag: str) -> Iterator[tuple[TaskId, Task]]:
        """Every task and subtask of a tag with its id, tasks before their subtasks."""
        for task in self.tasks(tag):
            yield TaskId(task["id"]), task
            for sub in task.get("subtasks") or ():
                yield TaskId(task["id"], sub["id"]), sub

    def next_task_id(self, tag: str) -> int:
        return next_id(task["id"] for task in self.tasks(tag))

    # serialisation ------------------------------------------------------------------------
    def to_json(self) -> bytes:
        """The document as the task file stores it; refused (CorruptTaskFile) if it nests
        deeper than the file can be written with, so a change to such a file is never saved."""
        try:
            return orjson.dumps(self.data, option=orjson.OPT_INDENT_2) + b"\n"
        except orjson.JSONEncodeError:
            depth = json_depth(self.data)
            if depth <= MAX_JSON_DEPTH:
                raise
            reason = (
                f"it nests {depth} levels deep and at most {MAX_JSON_DEPTH} can be written, so "
                "no change can be saved; flatten the deepest values (usually a task's "
                "'metadata') with an editor"
            )
            raise CorruptTaskFile(
                f"the task file cannot be written back: {reason}; the file was left unchanged",
                reason=reason,
                depth=depth,
            ) from None

    @classmethod
    def from_json(cls, raw: bytes, path: Path | str = "<memory>") -> Document:
        """Parse and validate; raises CorruptTaskFile naming the place and the reason."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            reason = str(err).split(": line")[0] if raw.strip() else "the file is empty"
            line, column = (err.lineno, err.colno) if raw.strip() else (None, None)
            raise CorruptTaskFile.at(path, reason, line=line, column=column) from None
        return cls.from_data(data, path)

    @classmethod
    def from_data(cls, data: Any, path: Path | str = "<memory>") -> Document:
        if not isinstance(data, dict):
            raise CorruptTaskFile.at(
                path, f"expected a JSON object at the top level, found {json_type_name(data)}"
            )
        if isinstance(data.get("tasks"), list):
            normalise_tag(data, path, where="")
            return cls(data, flat=True)
        tags = [(name, value) for name, value in data.items() if is_tag(value)]
        if "tasks" in data and not tags:
            normalise_tag(data, path, where="")  # raises: "tasks" holds the wrong type
        if data and not tags:
            # Any other JSON object (package.json, a config file): a write would add a
            # `master` tag to it and re-indent it, so it is refused, for every front end.
            raise NotATaskFile.at(
                path, "a JSON object with neither a 'tasks' list nor a tag holding one"
            )
        for name, value in tags:
            normalise_tag(value, path, where=f"{name}.")
        return cls(data, flat=False)


def json_depth(value: object) -> int:
    """How many objects and lists nest in `value` at its deepest (a scalar is 0). Iterative,
    level by level: the values it measures may be deeper than Python's recursion limit."""
    depth = 0
    level = [value]
    while True:
        containers = [item for item in level if isinstance(item, dict | list)]
        if not containers:
            return depth
        depth += 1
        level = [
            child
            for item in containers
            for child in (item.values() if isinstance(item, dict) else item)
        ]


def check_json_depth(value: object, *, what: str, inside: int = 0) -> object:
    """Refuse (InvalidInput) a value that would nest the document deeper than it can be written
    with, given that it is stored `inside` levels deep (see `depth_of_item_field`)."""
    depth = json_depth(value)
    if inside + depth > MAX_JSON_DEPTH:
        raise InvalidInput(
            f"{what} nests {depth} levels deep; at most {MAX_JSON_DEPTH - inside} fit there "
            f"(a task file holds at most {MAX_JSON_DEPTH} levels)"
        )
    return value


def depth_of_item_field(task_id: TaskId) -> int:
    """How many containers enclose a field of task or subtask `task_id` in a tagged file:
    document, tag, task list, task (then subtask list, subtask)."""
    return 4 if task_id.sub is None else 6


def find_subtask(task: Task, sub_id: int) -> Task | None:
    """The subtask with that id, or None; DuplicateId if several share it."""
    found = None
    for sub in task.get("subtasks") or ():
        if sub.get("id") == sub_id:
            if found is not None:
                raise DuplicateId.of(f"subtask {task['id']}.{sub_id}", f"task {task['id']}")
            found = sub
    return found


def subtask_view(parent: Task, sub: Task) -> Task:
    """A subtask as the front ends show it: `"id": "N.M"` and `"parentId": N`."""
    view = dict(sub)
    view["id"] = f"{parent['id']}.{sub['id']}"
    view["parentId"] = parent["id"]
    return view


# validation -----------------------------------------------------------------------------------
