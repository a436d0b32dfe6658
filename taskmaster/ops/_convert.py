"""Structural changes that give an item a new id or a new place: renumber, task <-> subtask,
subtask to another parent. Shared by the subtask commands and `move_tasks`.

Each function assumes its caller checked ids and existence, keeps every reference in the tag
consistent (rewritten to the new id; where the file format cannot express a reference, the
change is refused with `DependencyError` instead of dropping it), and raises `DependencyCycle`
if the new structure closes a cycle, so callers run it inside
`all_or_nothing`. The moved dict keeps its identity and its unknown keys.
"""

from __future__ import annotations

from collections.abc import Iterable

from taskmaster.errors import DependencyCycle, DependencyError
from taskmaster.model import SUBTASK_KEYS, TASK_KEYS, Task, TaskId
from taskmaster.ops._graph import TagGraph, cycle_names
from taskmaster.ops._refs import (
    absolute_entries,
    insert_by_id,
    items_with_parent,
    own_id,
    remap,
    remove_item,
    reorder_keys,
    resolve,
    set_parent_link,
    write_entries,
)


def check_no_cycle(tasks: list[Task], nodes: Iterable[TaskId]) -> None:
    """Raise DependencyCycle if a cycle passes through any of `nodes` (the moved ones: any new
    cycle must, since elsewhere only ids changed)."""
    graph = TagGraph(tasks)
    for node in nodes:
        cycle = graph.cycle_through(node)
        if cycle is not None:
            raise DependencyCycle.through(cycle_names(cycle))


def renumber_task(tasks: list[Task], task: Task, new_id: int) -> None:
    """Give a task an unused id, rewrite every reference, and place it in id order."""
    old_id = task["id"]
    subs = task.get("subtasks") or []
    mapping: dict[TaskId, TaskId | None] = {TaskId(old_id): TaskId(new_id)}
    mapping.update({TaskId(old_id, sub["id"]): TaskId(new_id, sub["id"]) for sub in subs})
    task["id"] = new_id
    for sub in subs:
        set_parent_link(sub, new_id)
    remove_item(tasks, task)
    insert_by_id(tasks, task)
    # Its subtasks moved together, so their bare sibling entries keep their meaning.
    remap(tasks, mapping)
    check_no_cycle(tasks, [TaskId(new_id), *(TaskId(new_id, sub["id"]) for sub in subs)])


def renumber_subtask(tasks: list[Task], parent: Task, sub: Task, new_sub_id: int) -> None:
    """Give a subtask an unused id within its parent, rewrite references, keep id order."""
    old = TaskId(parent["id"], sub["id"])
    new = TaskId(parent["id"], new_sub_id)
    sub["id"] = new_sub_id
    siblings = parent["subtasks"]
    remove_item(siblings, sub)
    insert_by_id(siblings, sub)
    remap(tasks, {old: new})
    check_no_cycle(tasks, [new])


def task_to_subtask(
    tasks: list[Task], task: Task, parent: Task, new_sub_id: int, position: int | None = None
) -> None:
    """Make a task (without subtasks) subtask `new_sub_id` of `parent`, at list index
    `position` (None: last). Its dependencies on subtasks are kept (``"Q.R"``, bare ``R`` for
    a new sibling); one on a task cannot be stored in a subtask, so the change is refused
    (DependencyError naming them) rather than dropping it. References to it become ``"P.k"``
    (bare ``k`` inside P)."""
    new = TaskId(parent["id"], new_sub_id)
    mapping: dict[TaskId, TaskId | None] = {TaskId(task["id"]): new}
    entries = absolute_entries(None, task)
    on_tasks = [str(entry) for entry in entries if isinstance(entry, TaskId) and not entry.sub]
    if on_tasks:
        raise DependencyError(
            f"task {task['id']} cannot become a subtask of task {parent['id']}: it depends on "
            f"task {', '.join(on_tasks)}, and a subtask can only depend on subtasks (N.M); "
            "remove those dependencies first (or make the parent depend on them)",
            task_id=str(task["id"]),
            dependencies=on_tasks,
        )
    remove_item(tasks, task)
    remap(tasks, mapping)
    if task.get("subtasks") == []:
        del task["subtasks"]  # subtasks do not nest; an empty list would only confuse readers
    task["id"] = new_sub_id
    set_parent_link(task, parent["id"])
    write_entries(task, parent["id"], entries, mapping)
    reorder_keys(task, SUBTASK_KEYS)
    siblings = parent.setdefault("subtasks", [])
    siblings.insert(len(siblings) if position is None else position, task)
    check_no_cycle(tasks, [new])


def subtask_to_task(tasks: list[Task], parent: Task, sub: Task, new_id: int) -> None:
    """Promote a subtask to task `new_id` (unused), placed in id order. Tasks that referenced
    it now reference the new task; its sibling dependencies become ``"P.M"``. A subtask that
    depends on it would have to name a task, which a subtask cannot store, so the change is
    refused (DependencyError naming them) rather than dropping those dependencies."""
    old = TaskId(parent["id"], sub["id"])
    dependents = [
        str(own_id(holder, item))
        for holder, item in items_with_parent(tasks)
        if holder is not None
        and item is not sub
        and any(resolve(holder, dep) == old for dep in item.get("dependencies") or ())
    ]
    if dependents:
        raise DependencyError(
            f"subtask {old} cannot become a task: {_subtasks_depend(dependents)} on it, and "
            "a subtask can only depend on subtasks (N.M); remove those dependencies first",
            task_id=str(old),
            dependents=dependents,
        )
    mapping: dict[TaskId, TaskId | None] = {old: TaskId(new_id)}
    entries = absolute_entries(parent["id"], sub)
    remove_item(parent["subtasks"], sub)
    remap(tasks, mapping)
    sub.pop("parentTaskId", None)
    sub.pop("parentId", None)
    sub["id"] = new_id
    sub.setdefault("title", "")
    sub.setdefault("description", "")
    sub.setdefault("details", "")
    sub.setdefault("testStrategy", "")
    sub.setdefault("status", "pending")
    sub.setdefault("priority", "medium")
    sub.setdefault("subtasks", [])
    write_entries(sub, None, entries, mapping)
    reorder_keys(sub, TASK_KEYS)
    insert_by_id(tasks, sub)
    check_no_cycle(tasks, [TaskId(new_id)])


def subtask_to_parent(
    tasks: list[Task],
    parent: Task,
    sub: Task,
    new_parent: Task,
    new_sub_id: int,
    position: int | None = None,
) -> None:
    """Move a subtask under another task as `new_sub_id` (unused there), at list index
    `position` (None: last), rewriting references both ways."""
    old = TaskId(parent["id"], sub["id"])
    new = TaskId(new_parent["id"], new_sub_id)
    mapping: dict[TaskId, TaskId | None] = {old: new}
    entries = absolute_entries(parent["id"], sub)
    remove_item(parent["subtasks"], sub)
    remap(tasks, mapping)
    sub["id"] = new_sub_id
    set_parent_link(sub, new_parent["id"])
    write_entries(sub, new_parent["id"], entries, mapping)
    siblings = new_parent.setdefault("subtasks", [])
    siblings.insert(len(siblings) if position is None else position, sub)
    check_no_cycle(tasks, [new])


def _subtasks_depend(ids: list[str]) -> str:
    return f"subtask {ids[0]} depends" if len(ids) == 1 else f"subtasks {', '.join(ids)} depend"
