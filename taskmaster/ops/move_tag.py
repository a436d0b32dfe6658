"""Moving tasks from one tag to another."""

from __future__ import annotations

from collections.abc import Sequence

from taskmaster.errors import DependenciesLeftBehind, InvalidInput, TaskNotFound
from taskmaster.model import MAX_ID, Document, Task, TaskId
from taskmaster.ops._refs import (
    absolute_entries,
    check_unambiguous,
    find_in,
    items_with_parent,
    own_id,
    remap,
    set_parent_link,
    task_index,
    write_entries,
)


def _outside(index: dict[int, Task], moving: set[int]) -> list[tuple[TaskId, TaskId]]:
    """(item, dependency) pairs where a moving item depends on an existing item that stays."""
    found: list[tuple[TaskId, TaskId]] = []
    for task_number in sorted(moving):
        for parent, item in items_with_parent([index[task_number]]):
            for entry in absolute_entries(parent, item):
                if (
                    isinstance(entry, TaskId)
                    and entry.task not in moving
                    and find_in(index, entry) is not None
                ):
                    found.append((own_id(parent, item), entry))
    return found


def move_to_tag(
    doc: Document,
    ids: Sequence[int],
    from_tag: str,
    to_tag: str,
    *,
    with_dependencies: bool = False,
    ignore_dependencies: bool = False,
) -> list[Task]:
    """Move tasks (with their subtasks) from `from_tag` to the end of `to_tag`.

    A moved task that depends on a task staying behind: `with_dependencies` moves that one too
    (transitively), `ignore_dependencies` drops the dependency, neither raises DependencyError
    listing them; dependencies on items that do not exist are dropped, as they would otherwise
    name whatever has that id in the new tag. Ids already used in `to_tag` are replaced by the
    next free ones and references follow; tasks left behind lose their dependencies on moved
    ones. Returns the moved tasks in their source order.
    """
    if with_dependencies and ignore_dependencies:
        raise InvalidInput("choose either with_dependencies or ignore_dependencies, not both")
    if from_tag == to_tag:
        raise InvalidInput(f"tasks are already in tag '{to_tag}'")
    source, destination = doc.tasks(from_tag), doc.tasks(to_tag)
    index = task_index(source)
    moving: set[int] = set()
    for raw in ids:
        task_id = TaskId.parse(raw)
        if task_id.sub is not None:
            raise InvalidInput(f"{task_id} is a subtask; only whole tasks move between tags")
        if task_id.task not in index:
            raise TaskNotFound.for_id(task_id, from_tag)
        moving.add(task_id.task)
    if not moving:
        raise InvalidInput("no task id given")

    outside = _outside(index, moving)
    if with_dependencies:
        while outside:
            moving.update(dep.task for _, dep in outside)
            outside = _outside(index, moving)
    elif outside and not ignore_dependencies:
        listed = ", ".join(f"{item} -> {dep}" for item, dep in outside)
        # Neutral wording: each front end names its own option (a flag, an argument).
        raise DependenciesLeftBehind(
            f"cannot move to tag '{to_tag}': moved tasks depend on tasks staying in "
            f"'{from_tag}' ({listed}); move those as well or drop the dependencies",
            dependencies=[[str(item), str(dep)] for item, dep in outside],
        )

    check_unambiguous(source, [TaskId(number) for number in moving], from_tag)
    moved = [task for task in source if task["id"] in moving]
    # Tasks left behind lose their references to anything that leaves (old ids).
    strip: dict[TaskId, TaskId | None] = {}
    for task in moved:
        strip[TaskId(task["id"])] = None
        strip.update(
            dict.fromkeys(TaskId(task["id"], sub["id"]) for sub in task.get("subtasks") or ())
        )
    captured = [
        (parent, item, absolute_entries(parent, item))
        for parent, item in items_with_parent(moved)
        if isinstance(item.get("dependencies"), list)
    ]
    # Every reference from a moved item either stays inside the moved set (renamed if its id
    # is taken in the new tag) or is dropped: after the move it would name a task there.
    mapping: dict[TaskId, TaskId | None] = {}
    for _parent, _item, entries in captured:
        for entry in entries:
            if isinstance(entry, TaskId) and entry.task not in moving:
                mapping[entry] = None
    taken = {task["id"] for task in destination}
    next_id = max(taken | moving, default=0) + 1
    renamed: dict[int, int] = {}
    for task in moved:
        old = task["id"]
        if old not in taken:
            continue
        if next_id > MAX_ID:
            raise InvalidInput(f"no task id is left in tag '{to_tag}': ids stop at {MAX_ID}")
        renamed[old] = next_id
        mapping[TaskId(old)] = TaskId(next_id)
        for sub in task.get("subtasks") or ():
            mapping[TaskId(old, sub["id"])] = TaskId(next_id, sub["id"])
            set_parent_link(sub, next_id)
        task["id"] = next_id
        next_id += 1
    for parent, item, entries in captured:
        write_entries(
            item, None if parent is None else renamed.get(parent, parent), entries, mapping
        )

    leaving = {id(task) for task in moved}
    source[:] = [task for task in source if id(task) not in leaving]
    remap(source, strip)
    destination.extend(moved)
    return moved


__all__ = [
    "move_to_tag",
]
