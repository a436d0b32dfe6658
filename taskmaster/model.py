"""The task document, as claude-task-master stores it, kept as plain JSON values.

Tasks and subtasks stay the dicts they were parsed into. That is what lets every key we do not
know about (at the document, tag, metadata, task and subtask level) survive a read-modify-write
untouched, in its original order, and it keeps a 5,000-task transaction cheap. This module
normalises what the reference tool writes inconsistently (string ids such as ``"5"``), checks
the shape once on load, and serialises with 2-space indentation like the reference tool.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
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

MAX_ID = 2**53 - 1
"""The largest id: the reference tool reads ids as JavaScript numbers, exact only below 2^53."""
_ID_TEXT = re.compile(r"\s*([0-9]+)(?:\.([0-9]+))?\s*", re.ASCII)
"""ASCII digits only: `int()` also reads '١' and '１', which would silently name task 1."""
_DIGITS = re.compile(r"\s*[0-9]+\s*", re.ASCII)
MAX_JSON_DEPTH = 254
"""The deepest nesting of objects and lists the task file can be written with (orjson, the
serialiser, stops at 255 while it reads up to 1,024). A document deeper than this can be read
but never saved, so every value that enters the document is checked against it."""


def is_id_text(value: str) -> bool:
    """True for a string that is a plain id in ASCII digits, such as ``"5"`` or ``" 12 "``."""
    return _DIGITS.fullmatch(value) is not None


def _bounded(number: int, value: object) -> int:
    if number < 1 or number > MAX_ID:
        raise InvalidInput(
            f"invalid task id {_shown(value)}: ids are whole numbers from 1 to {MAX_ID}"
        )
    return number


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...{text[-10:]} ({len(text)} characters)"


@dataclass(frozen=True, order=True, slots=True)
class TaskId:
    """`N` for a task, `N.M` for subtask M of task N (subtasks do not nest)."""

    task: int
    sub: int | None = None

    @classmethod
    def parse(cls, value: str | int | TaskId) -> TaskId:
        if isinstance(value, TaskId):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(_bounded(value, value))
        match = _ID_TEXT.fullmatch(value) if isinstance(value, str) else None
        if not match:
            raise InvalidInput(
                f"invalid task id {_shown(value)}: expected N or N.M, for example 3 or 3.2"
            )
        task, sub = match.group(1), match.group(2)
        # Bound the digit count before int(): a 5,000-digit id must be refused, not converted.
        limit = len(str(MAX_ID))
        if len(task) > limit or (sub is not None and len(sub) > limit):
            _bounded(MAX_ID + 1, value)
        return cls(
            _bounded(int(task), value), _bounded(int(sub), value) if sub is not None else None
        )

    @property
    def is_subtask(self) -> bool:
        return self.sub is not None

    @property
    def parent(self) -> TaskId:
        return TaskId(self.task)

    def __str__(self) -> str:
        return f"{self.task}" if self.sub is None else f"{self.task}.{self.sub}"


def parse_ids(text: str | Iterable[str | int | TaskId]) -> list[TaskId]:
    """Parse `"1,2.3, 4"` (or a sequence of ids) into TaskIds, keeping order, dropping repeats."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    ids: list[TaskId] = []
    for part in parts:
        if isinstance(part, str) and not part.strip():
            continue
        task_id = TaskId.parse(part)
        if task_id not in ids:
            ids.append(task_id)
    if not ids:
        raise InvalidInput("no task id given")
    return ids


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


def subtask_dependency_id(parent: int, dep: int | str) -> TaskId:
    """In a subtask a bare number is a sibling; a dotted string is a full reference."""
    if isinstance(dep, int):
        return TaskId(parent, dep)
    return TaskId.parse(dep)


def sibling(item: TaskId, dep: TaskId) -> TaskId:
    """A dependency of subtask `item` (or of a new subtask of task `item`) as a front end was
    given it: a bare number names a sibling, as the file format stores it, since a subtask
    cannot depend on a task."""
    return dep if dep.is_subtask else TaskId(item.task, dep.task)


def task_dependency_id(dep: int | str) -> TaskId:
    return TaskId.parse(dep)


def dependency_value(dep: TaskId) -> int | str:
    """How a task stores a dependency on `dep`: an integer for a task, `"N.M"` for a subtask."""
    return dep.task if dep.sub is None else str(dep)


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
        return [name for name, value in self.data.items() if _is_tag(value)]

    def has_tag(self, name: str) -> bool:
        if self.flat:
            return name == DEFAULT_TAG
        return _is_tag(self.data.get(name))

    def tag(self, name: str) -> dict[str, Any]:
        if self.flat and name == DEFAULT_TAG:
            return self.data
        if not self.flat and _is_tag(self.data.get(name)):
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
            _normalise_tag(data, path, where="")
            return cls(data, flat=True)
        tags = [(name, value) for name, value in data.items() if _is_tag(value)]
        if "tasks" in data and not tags:
            _normalise_tag(data, path, where="")  # raises: "tasks" holds the wrong type
        if data and not tags:
            # Any other JSON object (package.json, a config file): a write would add a
            # `master` tag to it and re-indent it, so it is refused, for every front end.
            raise NotATaskFile.at(
                path, "a JSON object with neither a 'tasks' list nor a tag holding one"
            )
        for name, value in tags:
            _normalise_tag(value, path, where=f"{name}.")
        return cls(data, flat=False)


def next_id(ids: Iterable[object]) -> int:
    """The id after the largest positive one (1 if there is none): ids of 0 or below in a file
    are not ids a command accepts, so new ids never continue from them."""
    largest = max((value for value in ids if type(value) is int and value > 0), default=0)
    if largest >= MAX_ID:
        raise InvalidInput(f"no task id is left: ids stop at {MAX_ID}")
    return largest + 1


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


def _is_tag(value: object) -> bool:
    return isinstance(value, dict) and "tasks" in value


def json_type_name(value: object) -> str:
    """How a person would name the JSON type of `value` in an error message."""
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _as_id(value: object, path: Path | str, where: str) -> int:
    # Ids of 0 or below are read (validation reports them, a repair renumbers them); an id
    # beyond MAX_ID is not one the reference tool can hold, and no command could name it.
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and is_id_text(value) and len(value.strip()) <= 16:
        number = int(value)
    if number is not None and number <= MAX_ID:
        return number
    raise CorruptTaskFile.at(
        path,
        f"'id' must be an integer up to {MAX_ID}, found {found_value(value)}",
        where=where,
    )


def found_value(value: object) -> str:
    """A stored value as an error message shows it: its type, and the value if it is short and
    readable (a huge integer parses as a float: name it instead of printing 1e+23)."""
    if isinstance(value, float) and value.is_integer() and abs(value) > MAX_ID:
        return "a number too large to be an id"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, int) and value > MAX_ID:
            return f"a number too large to be an id ({len(str(value))} digits)"
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {_shown(value)}"
    return json_type_name(value)


_TEXT_FIELDS = ("title", "description", "details", "testStrategy", "status", "priority")


def _is_clean(item: object) -> bool:
    """True for the common case: right types, nothing to normalise.

    Loading checks every task of every tag on every transaction, so this path is kept tight
    (exact `type` checks, no string building); anything unusual goes to `_normalise_item`,
    which fixes what it can and explains what it cannot.
    """
    if type(item) is not dict or type(item.get("id")) is not int or item["id"] > MAX_ID:
        return False
    for field in _TEXT_FIELDS:
        value = item.get(field)
        if value is not None and type(value) is not str:
            return False
    deps = item.get("dependencies")
    if deps is None:
        return True
    if type(deps) is not list:
        return False
    for dep in deps:
        if type(dep) is not int and (type(dep) is not str or is_id_text(dep)):
            return False
    return True


def _normalise_item(item: object, kind: str, path: Path | str, where: str) -> None:
    if not isinstance(item, dict):
        raise CorruptTaskFile.at(
            path, f"a {kind} must be an object, found {json_type_name(item)}", where=where
        )
    item["id"] = _as_id(item.get("id"), path, where)
    for field in _TEXT_FIELDS:
        value = item.get(field)
        if value is not None and not isinstance(value, str):
            raise CorruptTaskFile.at(
                path, f"'{field}' must be a string, found {json_type_name(value)}", where=where
            )
    deps = item.get("dependencies")
    if deps is None:
        return
    if not isinstance(deps, list):
        raise CorruptTaskFile.at(
            path, f"'dependencies' must be a list, found {json_type_name(deps)}", where=where
        )
    for index, dep in enumerate(deps):
        if isinstance(dep, bool) or not isinstance(dep, int | str):
            raise CorruptTaskFile.at(
                path,
                f"a dependency must be an id, found {json_type_name(dep)}",
                where=f"{where}.dependencies[{index}]",
            )
        # "5" is the integer id 5 in either context; "2.3" stays a dotted reference. A digit
        # string too long to be an id stays as it is: validation reports it as unreadable.
        if isinstance(dep, str) and is_id_text(dep) and len(dep.strip()) <= 16:
            deps[index] = int(dep)


def _normalise_tag(tag: dict[str, Any], path: Path | str, where: str) -> None:
    tasks = tag.get("tasks")
    if not isinstance(tasks, list):
        raise CorruptTaskFile.at(
            path, f"'tasks' must be a list, found {json_type_name(tasks)}", where=f"{where}tasks"
        )
    metadata = tag.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise CorruptTaskFile.at(
            path,
            f"'metadata' must be an object, found {json_type_name(metadata)}",
            where=f"{where}metadata",
        )
    for index, task in enumerate(tasks):
        if not _is_clean(task):
            _normalise_item(task, "task", path, f"{where}tasks[{index}]")
        subtasks = task.get("subtasks")
        if subtasks is None:
            continue
        if type(subtasks) is not list:
            raise CorruptTaskFile.at(
                path,
                f"'subtasks' must be a list, found {json_type_name(subtasks)}",
                where=f"{where}tasks[{index}].subtasks",
            )
        for sub_index, sub in enumerate(subtasks):
            if not _is_clean(sub):
                place = f"{where}tasks[{index}].subtasks[{sub_index}]"
                _normalise_item(sub, "subtask", path, place)
