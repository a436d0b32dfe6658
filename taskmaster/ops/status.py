"""Setting statuses, with the one side effect the reference tool has: a parent follows its
subtasks."""

from __future__ import annotations

from collections.abc import Sequence

from taskmaster.errors import TaskNotFound
from taskmaster.model import (
    Document,
    Task,
    TaskId,
    check_status,
    is_done,
    status_of,
    subtask_view,
)
from taskmaster.ops._refs import find_in, named_unambiguous


def parent_status_from_subtasks(parent: Task) -> str | None:
    """The status the subtasks imply for their parent, or None to leave the parent as it is.

    The reference rules, in this order: all done -> done; any in-progress or done ->
    in-progress; all pending -> pending; anything else (say all cancelled) says nothing.
    """
    statuses = [status_of(sub) for sub in parent.get("subtasks") or ()]
    if not statuses:
        return None
    if all(is_done(status) for status in statuses):
        return "done"
    if any(status == "in-progress" or is_done(status) for status in statuses):
        return "in-progress"
    if all(status == "pending" for status in statuses):
        return "pending"
    return None


def recompute_parent(parent: Task) -> None:
    status = parent_status_from_subtasks(parent)
    if status is not None and parent.get("status") != status:
        parent["status"] = status


def set_status(doc: Document, tag: str, ids: Sequence[TaskId], status: str) -> list[Task]:
    """Set `status` on every id (tasks and `N.M` subtasks); all must exist or nothing changes.

    A parent of a changed subtask is recomputed once, after all ids are set, unless the parent
    was itself named: an explicit status wins over the derived one. Setting a parent does not
    cascade to its subtasks. Returns the named items in the order given (subtasks as views),
    including any that already had the status.
    """
    check_status(status)
    tasks = doc.tasks(tag)
    wanted = list(dict.fromkeys(TaskId.parse(raw) for raw in ids))
    index = named_unambiguous(tasks, wanted, tag)
    found: list[tuple[TaskId, Task]] = []
    for item_id in wanted:
        item = find_in(index, item_id)
        if item is None:
            raise TaskNotFound.for_id(item_id, tag)
        found.append((item_id, item))

    named_tasks = {item_id.task for item_id in wanted if item_id.sub is None}
    parents: dict[int, Task] = {}
    for item_id, item in found:
        item["status"] = status
        if item_id.sub is not None and item_id.task not in named_tasks:
            parents.setdefault(item_id.task, index[item_id.task])
    for parent in parents.values():
        recompute_parent(parent)

    return [
        item if item_id.sub is None else subtask_view(index[item_id.task], item)
        for item_id, item in found
    ]


__all__ = [
    "set_status",
]
