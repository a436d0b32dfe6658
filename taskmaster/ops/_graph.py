"""The dependency graph of one tag, walked lazily.

Nodes are tasks ``N`` and subtasks ``N.M``. Edges: an item -> each of its dependencies, plus
an implicit edge from a task to each of its subtasks (a parent finishes after its subtasks), so
a subtask that depended on its own parent would close a cycle while a parent may depend on its
own subtask. Nothing is built up front: a path search only touches what it reaches, which keeps
`add_task` and `add_dependency` cheap on a large tag.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping

from taskmaster.model import Task, TaskId
from taskmaster.ops._refs import find_in, resolve, task_index


class TagGraph:
    """Successor lookup over a tag's task list (the list is read, never changed)."""

    __slots__ = ("index",)

    def __init__(self, tasks: list[Task]) -> None:
        self.index: Mapping[int, Task] = task_index(tasks)

    def item(self, node: TaskId) -> Task | None:
        return find_in(self.index, node)

    def successors(self, node: TaskId) -> Iterator[TaskId]:
        item = self.item(node)
        if item is None:
            return
        parent = None if node.sub is None else node.task
        deps = item.get("dependencies")
        if isinstance(deps, list):
            for dep in deps:
                target = resolve(parent, dep)
                if target is not None:
                    yield target
        if node.sub is None:
            for sub in item.get("subtasks") or ():
                yield TaskId(node.task, sub["id"])

    def path(self, start: TaskId, goal: TaskId) -> list[TaskId] | None:
        """A shortest edge path from `start` to `goal` (both included), or None."""
        if start == goal:
            return [start]
        came_from: dict[TaskId, TaskId | None] = {start: None}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            for nxt in self.successors(node):
                if nxt in came_from:
                    continue
                came_from[nxt] = node
                if nxt == goal:
                    path = [nxt]
                    while (back := came_from[path[-1]]) is not None:
                        path.append(back)
                    return path[::-1]
                queue.append(nxt)
        return None

    def cycle_through(self, node: TaskId) -> list[TaskId] | None:
        """A cycle ``[node, ..., node]`` if one passes through `node`, else None."""
        for nxt in self.successors(node):
            back = self.path(nxt, node)
            if back is not None:
                return [node, *back]
        return None


def cycle_names(cycle: list[TaskId]) -> list[str]:
    return [str(node) for node in cycle]
