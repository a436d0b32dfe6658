"""Creating, editing and removing tasks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from taskmaster.errors import DependencyCycle, DependencyError, InvalidInput, TaskNotFound
from taskmaster.fields import UPDATABLE, creatable
from taskmaster.model import (
    SUBTASK_KEYS,
    TASK_KEYS,
    Document,
    Task,
    TaskId,
    check_json_depth,
    check_priority,
    check_status,
    dependency_value,
    depth_of_item_field,
    subtask_view,
)
from taskmaster.ops._graph import TagGraph, cycle_names
from taskmaster.ops._refs import check_unambiguous, find_in, remap, task_index
from taskmaster.ops.status import recompute_parent

UPDATABLE_FIELDS = UPDATABLE


def check_title(title: object) -> str:
    if not isinstance(title, str) or not title.strip():
        raise InvalidInput("a task needs a non-empty title")
    return title


def check_new_dependencies(
    doc: Document, tag: str, new_id: TaskId, dependencies: Iterable[TaskId | str | int]
) -> list[TaskId]:
    """Parse, deduplicate and check the dependencies of an item about to be created as
    `new_id`: each must exist, and none may reach `new_id` already (a dangling reference to
    the id the new item takes would otherwise close a cycle)."""
    deps = list(dict.fromkeys(TaskId.parse(raw) for raw in dependencies))
    if not deps:
        return deps
    graph = TagGraph(doc.tasks(tag))
    for dep in deps:
        if doc.find(tag, dep) is None:  # DuplicateId for an ambiguous target
            raise DependencyError(
                f"dependency {dep} does not exist in tag '{tag}'", task_id=str(new_id), tag=tag
            )
    for dep in deps:
        back = graph.path(dep, new_id)
        if back is not None:
            raise DependencyCycle.through(cycle_names([new_id, *back]))
    return deps


def new_item_fields(values: Mapping[str, Any], *, subtask: bool = False) -> dict[str, Any]:
    """The fields of a new task (or subtask): those given, the others at their defaults, all
    checked; in the order the reference tool writes them, fields it does not know after."""
    fields = {field.name: field for field in creatable(subtask=subtask)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        kind = "subtask" if subtask else "task"
        raise InvalidInput(
            f"a new {kind} takes no {', '.join(map(repr, unknown))}: "
            f"its fields are {', '.join(fields)}"
        )
    item = {
        name: values.get(name, field.default)
        for name, field in fields.items()
        if name in values or field.default is not None
    }
    check_title(item.get("title"))
    if "status" in item:
        check_status(item["status"])
    if "priority" in item:
        check_priority(item["priority"])
    order = SUBTASK_KEYS if subtask else TASK_KEYS
    return {
        **{key: item[key] for key in order if key in item},
        **{key: value for key, value in item.items() if key not in order},
    }


def add_task(doc: Document, tag: str, **values: Any) -> Task:
    """Append a task with the tag's next id (max + 1) and return it. `values` are its fields
    by stored name (`title`, `testStrategy`...; see `taskmaster.fields`)."""
    fields = new_item_fields(values)
    new_id = doc.next_task_id(tag)
    deps = check_new_dependencies(doc, tag, TaskId(new_id), fields.get("dependencies", ()))
    fields["dependencies"] = [dependency_value(dep) for dep in deps]
    task: Task = {"id": new_id, **fields, "subtasks": []}
    doc.tasks(tag).append(task)
    return task


def _check_fields(fields: Mapping[str, Any], task_id: TaskId) -> None:
    for key, value in fields.items():
        if key not in UPDATABLE_FIELDS:
            raise InvalidInput(
                f"field {key!r} cannot be updated; updatable fields: {', '.join(UPDATABLE_FIELDS)}"
            )
        if key == "title":
            check_title(value)
        elif key == "status":
            check_status(value)
        elif key == "priority":
            check_priority(value)
        elif key == "metadata":
            if not isinstance(value, dict):
                raise InvalidInput("'metadata' must be an object")
            # Refused here, not when saving: a document nested too deep could never be written.
            check_json_depth(value, what="'metadata'", inside=depth_of_item_field(task_id))
        elif not isinstance(value, str):
            raise InvalidInput(f"{key!r} must be a string")


def update_task(doc: Document, tag: str, task_id: TaskId, fields: Mapping[str, Any]) -> Task:
    """Replace the given fields of a task or subtask (all are checked before any is set).

    ``metadata`` replaces the old object. A subtask's new status recomputes its parent, as
    `set_status` does. Returns the task, or the subtask's view.
    """
    task_id = TaskId.parse(task_id)
    _check_fields(fields, task_id)
    item = doc.get(tag, task_id)
    old_status = item.get("status")
    for key, value in fields.items():
        item[key] = value
    if task_id.sub is None:
        return item
    parent = doc.task(tag, task_id.task)
    if item.get("status") != old_status:
        recompute_parent(parent)
    return subtask_view(parent, item)


def remove_task(doc: Document, tag: str, ids: Sequence[TaskId]) -> list[Task]:
    """Remove tasks (``N``) and subtasks (``N.M``); all must exist or nothing changes.

    References to a removed task are stripped from every tag (as the reference tool does);
    references to removed subtasks (including those of a removed task) from this tag. Returns
    the removed items as they were (subtasks as views), in the order given.
    """
    tasks = doc.tasks(tag)
    index = task_index(tasks)
    wanted = list(dict.fromkeys(TaskId.parse(raw) for raw in ids))
    check_unambiguous(tasks, wanted, tag)
    removed: list[Task] = []
    for item_id in wanted:
        item = find_in(index, item_id)
        if item is None:
            raise TaskNotFound.for_id(item_id, tag)
        removed.append(item if item_id.sub is None else subtask_view(index[item_id.task], item))

    gone_tasks = {item_id.task for item_id in wanted if item_id.sub is None}
    mapping: dict[TaskId, None] = {}
    for task_number in gone_tasks:
        mapping[TaskId(task_number)] = None
        for sub in index[task_number].get("subtasks") or ():
            mapping[TaskId(task_number, sub["id"])] = None
    for item_id in wanted:
        if item_id.sub is not None and item_id.task not in gone_tasks:
            mapping[item_id] = None
            parent = index[item_id.task]
            subs = parent["subtasks"]
            subs[:] = [sub for sub in subs if sub["id"] != item_id.sub]
    if gone_tasks:
        tasks[:] = [task for task in tasks if task["id"] not in gone_tasks]

    remap(tasks, mapping)
    task_only = {TaskId(number): None for number in gone_tasks}
    for other in doc.tag_names():
        if other != tag and task_only:
            remap(doc.tasks(other), task_only)
    return removed


__all__ = [
    "add_task",
    "remove_task",
    "update_task",
]
