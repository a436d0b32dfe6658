"""The shape check of a loaded task file: what the reference tool writes inconsistently is
normalised (string ids such as ``"5"``), and what cannot be a task file is refused with the
place it was found, once, when the file is read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from taskmaster.errors import CorruptTaskFile
from taskmaster.ids import MAX_ID, is_id_text, shown


def is_tag(value: object) -> bool:
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
        return f"the string {shown(value)}"
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


def normalise_tag(tag: dict[str, Any], path: Path | str, where: str) -> None:
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


def is_clean_task(task: object) -> bool:
    """Whether a task and its subtasks need no normalisation (the common case, checked fast)."""
    if not _is_clean(task):
        return False
    assert isinstance(task, dict)
    subtasks = task.get("subtasks")
    if subtasks is None:
        return True
    return type(subtasks) is list and all(_is_clean(sub) for sub in subtasks)
