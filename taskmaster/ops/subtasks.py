"""Subtasks: add, convert a task into one, remove (or promote back to a task), clear."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taskmaster.errors import DependencyError, InvalidInput, TaskNotFound
from taskmaster.model import Document, Task, TaskId, next_id, subtask_view
from taskmaster.ops._atomic import all_or_nothing
from taskmaster.ops._convert import check_no_cycle, subtask_to_task, task_to_subtask
from taskmaster.ops._graph import TagGraph, cycle_names
from taskmaster.ops._refs import (
    check_unambiguous,
    encode,
    find_in,
    remap,
    remove_item,
    task_index,
)
from taskmaster.ops.tasks import check_new_dependencies, new_item_fields


def task_number(value: int | str | TaskId, role: str) -> int:
    """A task id where a subtask id makes no sense (a parent, a task to convert)."""
    task_id = TaskId.parse(value)
    if task_id.sub is not None:
        raise InvalidInput(f"the {role} must be a task id (N), not the subtask {task_id}")
    return task_id.task


def next_subtask_id(parent: Task) -> int:
    return next_id(sub["id"] for sub in parent.get("subtasks") or ())


def add_subtask(doc: Document, tag: str, parent: int, **values: Any) -> Task:
    """Append a subtask (id = the parent's max subtask id + 1) and return its view. `values`
    are its fields by stored name (see `taskmaster.fields`).

    A dependency on a sibling is stored as a bare number, any other subtask as ``"N.M"``; a
    top-level task cannot be expressed in a subtask's dependencies and is refused.
    """
    fields = new_item_fields(values, subtask=True)
    parent_task = doc.task(tag, task_number(parent, "parent"))
    new = TaskId(parent_task["id"], next_subtask_id(parent_task))
    deps = list(dict.fromkeys(TaskId.parse(raw) for raw in fields.get("dependencies", ())))
    for dep in deps:
        if dep.sub is None:
            raise DependencyError(
                f"subtask {new} cannot depend on task {dep}: a subtask's dependencies can "
                "only name subtasks (N.M)",
                task_id=str(new),
                tag=tag,
            )
    check_new_dependencies(doc, tag, new, deps)
    fields["dependencies"] = [encode(new.task, dep) for dep in deps]
    sub: Task = {"id": new.sub, **fields, "parentTaskId": new.task}
    parent_task.setdefault("subtasks", []).append(sub)
    return subtask_view(parent_task, sub)


def convert_task_to_subtask(doc: Document, tag: str, task_id: int, parent: int) -> Task:
    """Make task `task_id` the last subtask of `parent` and return its view.

    References to the task become references to the subtask; its dependencies on subtasks are
    kept. Refused if the task has subtasks (subtasks do not nest), depends on a task (a subtask
    cannot store that), if the parent already depends on the task (directly or not), or if the
    result would close a cycle.
    """
    number = task_number(task_id, "task to convert")
    parent_number = task_number(parent, "parent")
    if number == parent_number:
        raise InvalidInput(f"task {number} cannot become a subtask of itself")
    task = doc.task(tag, number)
    parent_task = doc.task(tag, parent_number)
    if task.get("subtasks"):
        raise InvalidInput(
            f"task {number} has subtasks and cannot become a subtask: subtasks do not nest"
        )
    tasks = doc.tasks(tag)
    # As the reference tool refuses it: the parent waiting on the task is what made it a
    # separate piece of work, and folding it in would have the parent wait on itself.
    back = TagGraph(tasks).path(TaskId(parent_number), TaskId(number))
    if back is not None:
        raise DependencyError(
            f"cannot make task {number} a subtask of task {parent_number}: task "
            f"{parent_number} depends on it ({' -> '.join(cycle_names(back))}), which would "
            "create a circular dependency",
            task_id=str(number),
            tag=tag,
        )
    with all_or_nothing(doc, tag):
        task_to_subtask(tasks, task, parent_task, next_subtask_id(parent_task))
    return subtask_view(parent_task, task)


def _subtask_ids(ids: Sequence[TaskId]) -> list[TaskId]:
    wanted = list(dict.fromkeys(TaskId.parse(raw) for raw in ids))
    for item_id in wanted:
        if item_id.sub is None:
            raise InvalidInput(
                f"{item_id} is not a subtask id (expected N.M); use remove_task for tasks"
            )
    return wanted


def remove_subtask(
    doc: Document, tag: str, ids: Sequence[TaskId], *, convert: bool = False
) -> list[Task]:
    """Remove subtasks (all must exist or nothing changes).

    Without `convert` every reference to them is stripped and their views are returned. With
    `convert` each becomes a new task (next free id) that depends on its old parent, as in the
    reference tool, and references from tasks follow it; the created tasks are returned.
    """
    wanted = _subtask_ids(ids)
    tasks = doc.tasks(tag)
    check_unambiguous(tasks, wanted, tag)
    index = task_index(tasks)
    pairs: list[tuple[Task, Task]] = []
    for item_id in wanted:
        sub = find_in(index, item_id)
        if sub is None:
            raise TaskNotFound.for_id(item_id, tag)
        pairs.append((index[item_id.task], sub))
    if not convert:
        removed = [subtask_view(parent, sub) for parent, sub in pairs]
        for parent, sub in pairs:
            remove_item(parent["subtasks"], sub)
        remap(tasks, dict.fromkeys(wanted))
        return removed
    created: list[Task] = []
    with all_or_nothing(doc, tag):
        for parent, sub in pairs:
            new_id = doc.next_task_id(tag)
            subtask_to_task(tasks, parent, sub, new_id)
            # As the reference tool does: the promoted task keeps a link to the work it came
            # from by depending on its old parent (refused if that closes a cycle).
            if parent["id"] not in sub["dependencies"]:
                sub["dependencies"].append(parent["id"])
                check_no_cycle(tasks, [TaskId(new_id)])
            created.append(sub)
    return created


def clear_subtasks(doc: Document, tag: str, ids: Sequence[int] | None) -> list[Task]:
    """Remove all subtasks of the given tasks (None: of every task in the tag) and strip
    references to them. All ids must exist or nothing changes. Returns the tasks that had
    subtasks, in order."""
    tasks = doc.tasks(tag)
    if ids is None:
        targets = list(tasks)
    else:
        index = task_index(tasks)
        targets = []
        for raw in dict.fromkeys(TaskId.parse(raw) for raw in ids):
            if raw.sub is not None:
                raise InvalidInput(f"{raw} is a subtask id; clear_subtasks takes task ids")
            if raw.task not in index:
                raise TaskNotFound.for_id(raw, tag)
            check_unambiguous(tasks, [raw], tag)
            targets.append(index[raw.task])
    changed = [task for task in targets if task.get("subtasks")]
    mapping: dict[TaskId, None] = {}
    for task in changed:
        mapping.update(dict.fromkeys(TaskId(task["id"], sub["id"]) for sub in task["subtasks"]))
        task["subtasks"].clear()
    remap(tasks, mapping)
    return changed


def append_subtask_details(
    doc: Document, tag: str, subtask_id: TaskId, text: str, *, now: str
) -> Task:
    """Append a timestamped note to a subtask's details and return its view.

    The note is wrapped as ``<info added on NOW>`` ... ``</info added on NOW>`` on its own
    lines, the block claude-task-master's `update-subtask` appends, so both tools read a log
    of notes the same way. Earlier details are kept as they are.
    """
    subtask_id = TaskId.parse(subtask_id)
    if subtask_id.sub is None:
        raise InvalidInput(f"{subtask_id} is a task id; give a subtask id such as {subtask_id}.1")
    note = str(text).strip()
    if not note:
        raise InvalidInput("nothing to add: the text is empty")
    parent = doc.task(tag, subtask_id.task)
    sub = doc.get(tag, subtask_id)
    block = f"<info added on {now}>\n{note}\n</info added on {now}>"
    old = sub.get("details")
    sub["details"] = f"{old}\n{block}" if isinstance(old, str) and old else block
    return subtask_view(parent, sub)


__all__ = [
    "add_subtask",
    "append_subtask_details",
    "clear_subtasks",
    "convert_task_to_subtask",
    "remove_subtask",
]
