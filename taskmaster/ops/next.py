"""Which task to work on next, exactly as the reference tool decides it."""

from __future__ import annotations

from collections.abc import Collection

from taskmaster.model import (
    DEFAULT_PRIORITY,
    PRIORITY_RANK,
    Document,
    Task,
    TaskId,
    is_done,
    status_of,
    subtask_view,
)
from taskmaster.ops._refs import resolve, shared_ids

WORKABLE = frozenset({"pending", "in-progress"})


class _Done:
    """Ids with a done status: task numbers and (task, subtask) pairs, so the common integer
    entries are checked without building a TaskId (`next` runs on every `tm next`)."""

    __slots__ = ("subtasks", "tasks")

    def __init__(self, tasks: list[Task]) -> None:
        self.tasks: set[int] = set()
        self.subtasks: set[tuple[int, int]] = set()
        for task in tasks:
            if is_done(status_of(task)):
                self.tasks.add(task["id"])
            for sub in task.get("subtasks") or ():
                if is_done(status_of(sub)):
                    self.subtasks.add((task["id"], sub["id"]))

    def satisfied(self, parent: int | None, item: Task) -> bool:
        # An unreadable or missing dependency is not satisfied, and neither is a cancelled one.
        for dep in item.get("dependencies") or ():
            if type(dep) is int:
                if (dep in self.tasks) if parent is None else ((parent, dep) in self.subtasks):
                    continue
                return False
            target = resolve(parent, dep)
            if target is None:
                return False
            if target.sub is None:
                if target.task not in self.tasks:
                    return False
            elif (target.task, target.sub) not in self.subtasks:
                return False
        return True


def _rank(priority: object) -> int:
    # The reference maps an unknown priority to medium rather than failing.
    medium = PRIORITY_RANK[DEFAULT_PRIORITY]
    return PRIORITY_RANK.get(priority, medium) if isinstance(priority, str) else medium


def next_task(doc: Document, tag: str, *, exclude: Collection[TaskId] = frozenset()) -> Task | None:
    """The next item to work on, or None; never one of `exclude` (ids held by claims).

    First: pending/in-progress subtasks of in-progress parents whose dependencies are done
    (bare numbers are siblings), by priority (own, else the parent's, else medium), then fewer
    dependencies, parent id, subtask id; returned as a view with ``parentTitle``. Otherwise:
    pending/in-progress tasks whose dependencies are done, by priority, fewer dependencies, id.
    """
    tasks = doc.tasks(tag)
    done = _Done(tasks)
    # An item whose id another shares cannot be shown or changed by id: never offer it.
    shared = shared_ids(tasks)
    # Held items are skipped one by one: a claimed subtask keeps its parent out of the task
    # round, not its siblings out of the subtask round.
    held = exclude if exclude else None

    best_sub: tuple[tuple[int, int, int, int], Task, Task] | None = None
    for task in tasks:
        if status_of(task) != "in-progress" or (shared and TaskId(task["id"]) in shared):
            continue
        for sub in task.get("subtasks") or ():
            if status_of(sub) not in WORKABLE or not done.satisfied(task["id"], sub):
                continue
            if shared and TaskId(task["id"], sub["id"]) in shared:
                continue
            if held and TaskId(task["id"], sub["id"]) in held:
                continue
            priority = sub.get("priority") or task.get("priority") or DEFAULT_PRIORITY
            key = (-_rank(priority), len(sub.get("dependencies") or ()), task["id"], sub["id"])
            if best_sub is None or key < best_sub[0]:
                best_sub = (key, task, sub)
    if best_sub is not None:
        _, parent, sub = best_sub
        view = subtask_view(parent, sub)
        view["parentTitle"] = parent.get("title", "")
        return view

    best: tuple[tuple[int, int, int], Task] | None = None
    for task in tasks:
        if status_of(task) not in WORKABLE or not done.satisfied(None, task):
            continue
        if shared and TaskId(task["id"]) in shared:
            continue
        if held and TaskId(task["id"]) in held:
            continue
        task_key = (-_rank(task.get("priority")), len(task.get("dependencies") or ()), task["id"])
        if best is None or task_key < best[0]:
            best = (task_key, task)
    return None if best is None else best[1]


def ready_ids(doc: Document, tag: str) -> set[TaskId]:
    """Ids of tasks and subtasks that are pending or in-progress with every dependency done
    (a subtask does not need its parent to be in progress here)."""
    tasks = doc.tasks(tag)
    done = _Done(tasks)
    ready: set[TaskId] = set()
    shared = shared_ids(tasks)
    for task in tasks:
        if status_of(task) in WORKABLE and done.satisfied(None, task):
            ready.add(TaskId(task["id"]))
        for sub in task.get("subtasks") or ():
            if status_of(sub) in WORKABLE and done.satisfied(task["id"], sub):
                ready.add(TaskId(task["id"], sub["id"]))
    return ready - shared


__all__ = [
    "next_task",
    "ready_ids",
]
