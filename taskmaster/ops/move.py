"""Moving tasks and subtasks within a tag: reorder, renumber, task <-> subtask, re-parent."""

from __future__ import annotations

from collections.abc import Sequence

from taskmaster.errors import InvalidInput, TaskNotFound
from taskmaster.model import Document, Task, TaskId, find_subtask, subtask_view
from taskmaster.ops._atomic import all_or_nothing
from taskmaster.ops._convert import (
    renumber_subtask,
    renumber_task,
    subtask_to_parent,
    subtask_to_task,
    task_to_subtask,
)
from taskmaster.ops._refs import remove_item
from taskmaster.ops.subtasks import next_subtask_id

Placed = tuple[Task, Task | None]
"""A moved item and its parent (None for a task), to build the result once all moves are done."""


def move_tasks(
    doc: Document, tag: str, from_ids: Sequence[TaskId], to_ids: Sequence[TaskId]
) -> list[Task]:
    """Move each `from_ids[i]` to `to_ids[i]`, in order, each seeing the result of the last.

    - task -> unused task id: renumber it (references follow), placed in id order;
    - task -> existing task id: refused, as in the reference tool (`place_before` reorders);
    - task -> ``P.S``: it becomes a subtask of P at position S, with id S if free (else the
      next free one); it must not have subtasks;
    - subtask -> unused task id: promote it to a task with that id;
    - subtask -> ``Q.R`` of another parent: re-parent it (id R if free, else the next free) at
      position R; within the same parent: before subtask R if it exists, else renumber to R.

    References stay consistent; an id collision, a missing item or a cycle raises and leaves
    the document as it was. Returns the moved items (subtasks as views) in the given order.
    """
    sources = [TaskId.parse(raw) for raw in from_ids]
    targets = [TaskId.parse(raw) for raw in to_ids]
    if len(sources) != len(targets):
        raise InvalidInput(
            f"move needs as many destinations as sources ({len(sources)} from, {len(targets)} to)"
        )
    if not sources:
        raise InvalidInput("nothing to move: no source ids given")
    placed: list[Placed] = []
    with all_or_nothing(doc, tag):
        for source, target in zip(sources, targets, strict=True):
            placed.append(_move_one(doc, tag, source, target))
    return [item if parent is None else subtask_view(parent, item) for item, parent in placed]


def _move_one(doc: Document, tag: str, source: TaskId, target: TaskId) -> Placed:
    if source == target:
        raise InvalidInput(f"cannot move {source} onto itself")
    tasks = doc.tasks(tag)
    if source.sub is None:
        task = doc.task(tag, source.task)
        if target.sub is None:
            return _task_to_task(tasks, task, doc.find_task(tag, target.task), target.task), None
        return _task_to_slot(doc, tag, task, target)
    parent = doc.task(tag, source.task)
    sub = find_subtask(parent, source.sub)
    if sub is None:
        raise TaskNotFound.for_id(source, tag)
    if target.sub is None:
        if doc.find_task(tag, target.task) is not None:
            raise InvalidInput(
                f"cannot move subtask {source} to task {target}: task {target} already exists "
                "(a subtask is promoted to an unused task id)"
            )
        subtask_to_task(tasks, parent, sub, target.task)
        return sub, None
    if target.task == source.task:
        before = find_subtask(parent, target.sub)
        if before is None:
            renumber_subtask(tasks, parent, sub, target.sub)
        else:
            siblings = parent["subtasks"]
            remove_item(siblings, sub)
            siblings.insert(_index_of(siblings, before), sub)
        return sub, parent
    new_parent = doc.task(tag, target.task)
    subtask_to_parent(tasks, parent, sub, new_parent, *_slot(new_parent, target.sub))
    return sub, new_parent


def _task_to_task(tasks: list[Task], task: Task, existing: Task | None, new_id: int) -> Task:
    if existing is not None:
        # As the reference tool: a destination names a new id; reordering is `place_before`.
        raise InvalidInput(f"task {new_id} already exists: use a different destination id")
    renumber_task(tasks, task, new_id)
    return task


def place_before(doc: Document, tag: str, task_id: TaskId, before: TaskId) -> Task:
    """Put task `task_id` just before task `before` in the tag's list; no id changes."""
    source, anchor = TaskId.parse(task_id), TaskId.parse(before)
    if source.sub is not None or anchor.sub is not None:
        raise InvalidInput("only tasks are reordered this way (ids N, not N.M)")
    if source == anchor:
        raise InvalidInput(f"cannot place task {source} before itself")
    task, other = doc.task(tag, source.task), doc.task(tag, anchor.task)
    tasks = doc.tasks(tag)
    remove_item(tasks, task)
    tasks.insert(_index_of(tasks, other), task)
    return task


def _task_to_slot(doc: Document, tag: str, task: Task, target: TaskId) -> Placed:
    if target.task == task["id"]:
        raise InvalidInput(f"task {task['id']} cannot become a subtask of itself")
    parent = doc.task(tag, target.task)
    if task.get("subtasks"):
        raise InvalidInput(
            f"task {task['id']} has subtasks and cannot become a subtask: subtasks do not nest"
        )
    assert target.sub is not None
    task_to_subtask(doc.tasks(tag), task, parent, *_slot(parent, target.sub))
    return task, parent


def _slot(parent: Task, wanted: int) -> tuple[int, int]:
    """The id (`wanted` if free, else the next free one) and list index for slot `wanted`."""
    new_id = wanted if find_subtask(parent, wanted) is None else next_subtask_id(parent)
    return new_id, wanted - 1


def _index_of(items: list[Task], item: Task) -> int:
    return next(index for index, other in enumerate(items) if other is item)


__all__ = [
    "move_tasks",
    "place_before",
]
