"""Adding, removing, validating and fixing dependencies."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from taskmaster.errors import DependencyCycle, DependencyError
from taskmaster.model import Document, Task, TaskId, subtask_view
from taskmaster.ops._graph import TagGraph, cycle_names
from taskmaster.ops._refs import encode, items_with_parent, own_id, resolve

IssueKind = Literal["self", "missing", "duplicate", "cycle", "invalid"]


@dataclass(frozen=True, slots=True)
class DependencyIssue:
    """One bad dependency entry: `item` lists `dependency`, which is wrong for `kind`."""

    kind: IssueKind
    item: str
    dependency: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _view(doc: Document, tag: str, task_id: TaskId, item: Task) -> Task:
    if task_id.sub is None:
        return item
    return subtask_view(doc.task(tag, task_id.task), item)


def add_dependency(doc: Document, tag: str, task_id: TaskId, depends_on: TaskId) -> Task:
    """Make `task_id` depend on `depends_on`; refuses self, missing targets, cycles and what a
    subtask cannot store (a task). Already present: nothing changes. Returns the item (view)."""
    task_id, dep = TaskId.parse(task_id), TaskId.parse(depends_on)
    item = doc.get(tag, task_id)
    if dep == task_id:
        raise DependencyError(f"task {task_id} cannot depend on itself", task_id=str(task_id))
    graph = TagGraph(doc.tasks(tag))
    if graph.item(dep) is None:
        raise DependencyError(
            f"cannot make {task_id} depend on {dep}: task {dep} does not exist in tag '{tag}'",
            task_id=str(task_id),
            tag=tag,
        )
    parent = task_id.task if task_id.sub is not None else None
    if parent is not None and dep.sub is None:
        if dep.task == parent:
            # The parent finishes after its subtasks, so this is the simplest possible cycle.
            raise DependencyCycle.through([str(task_id), str(dep), str(task_id)])
        raise DependencyError(
            f"subtask {task_id} cannot depend on task {dep}: a subtask's dependencies can only "
            "name subtasks (N.M); make the parent task depend on it instead",
            task_id=str(task_id),
            tag=tag,
        )
    deps = item.setdefault("dependencies", [])
    if any(resolve(parent, entry) == dep for entry in deps):
        return _view(doc, tag, task_id, item)
    back = graph.path(dep, task_id)
    if back is not None:
        raise DependencyCycle.through(cycle_names([task_id, *back]))
    deps.append(encode(parent, dep))
    return _view(doc, tag, task_id, item)


def remove_dependency(doc: Document, tag: str, task_id: TaskId, depends_on: TaskId) -> Task:
    """Remove every entry of `task_id` that names `depends_on`. Returns the item (view)."""
    task_id, dep = TaskId.parse(task_id), TaskId.parse(depends_on)
    item = doc.get(tag, task_id)
    parent = task_id.task if task_id.sub is not None else None
    deps = item.get("dependencies") or []
    kept = [entry for entry in deps if resolve(parent, entry) != dep]
    if len(kept) == len(deps):
        raise DependencyError(
            f"task {task_id} does not depend on {dep}", task_id=str(task_id), tag=tag
        )
    deps[:] = kept
    return _view(doc, tag, task_id, item)


# validation -------------------------------------------------------------------------------------

Finding = tuple[DependencyIssue, Task, int]
"""An issue, the item holding the entry, and the entry's index in its dependency list."""


def _entry_issue(
    me: TaskId, parent: int | None, raw: object, target: TaskId | None
) -> tuple[IssueKind, str, str] | None:
    if target is None:
        return "invalid", str(raw), f"task {me} has an unreadable dependency {raw!r}"
    if parent is not None and target.sub is None:
        return (
            "invalid",
            str(target),
            f"subtask {me} depends on task {target}, but a subtask can only depend on subtasks",
        )
    if target == me:
        return "self", str(target), f"task {me} depends on itself"
    return None


def _scan(doc: Document, tag: str) -> list[Finding]:
    tasks = doc.tasks(tag)
    graph = TagGraph(tasks)
    findings: list[Finding] = []
    # Valid edges only: node -> [(target, entry index)]; bad entries are reported on their own.
    edges: dict[TaskId, list[tuple[TaskId, int]]] = {}
    holders: dict[TaskId, Task] = {}
    for parent, item in items_with_parent(tasks):
        me = own_id(parent, item)
        holders.setdefault(me, item)
        out = edges.setdefault(me, [])
        seen: set[TaskId] = set()
        deps = item.get("dependencies")
        for index, raw in enumerate(deps if isinstance(deps, list) else ()):
            target = resolve(parent, raw)
            problem = _entry_issue(me, parent, raw, target)
            if problem is None and target in seen:
                problem = ("duplicate", str(target), f"task {me} lists dependency {target} twice")
            if problem is None and graph.item(target) is None:
                problem = (
                    "missing",
                    str(target),
                    f"task {me} depends on {target}, which does not exist in tag '{tag}'",
                )
            if problem is not None:
                kind, dependency, message = problem
                findings.append((DependencyIssue(kind, str(me), dependency, message), item, index))
                continue
            seen.add(target)
            out.append((target, index))
        if parent is None:
            # Implicit parent -> subtask edges; index -1 marks that they are not entries.
            out.extend((TaskId(me.task, sub["id"]), -1) for sub in item.get("subtasks") or ())
    findings.extend(_cycle_findings(edges, holders))
    return findings


def _cycle_findings(
    edges: dict[TaskId, list[tuple[TaskId, int]]], holders: dict[TaskId, Task]
) -> list[Finding]:
    """One finding per back edge of a depth-first search: removing all of them leaves no
    cycle, and each closes exactly the cycle reported with it."""
    findings: list[Finding] = []
    state: dict[TaskId, int] = {}  # 1: on the current path, 2: finished
    for root in edges:
        if root in state:
            continue
        state[root] = 1
        path = [root]
        position = {root: 0}
        stack = [iter(edges[root])]
        while stack:
            for target, index in stack[-1]:
                seen = state.get(target)
                if seen is None:
                    state[target] = 1
                    position[target] = len(path)
                    path.append(target)
                    stack.append(iter(edges.get(target, ())))
                    break
                if seen == 1 and index >= 0:
                    # Implicit edges cannot close a cycle (no subtask can reach a task), so
                    # `index >= 0` only guards against a future change of the edge rules.
                    node = path[-1]
                    cycle = cycle_names([*path[position[target] :], target])
                    issue = DependencyIssue(
                        "cycle",
                        str(node),
                        str(target),
                        f"dependency cycle: {' -> '.join(cycle)} ({node} -> {target} closes it)",
                    )
                    findings.append((issue, holders[node], index))
            else:
                state[path[-1]] = 2
                del position[path[-1]]
                path.pop()
                stack.pop()
    return findings


def validate_dependencies(doc: Document, tag: str) -> list[DependencyIssue]:
    """Every bad dependency entry of the tag: self, missing, duplicate, invalid (unreadable, or
    a subtask naming a task), and each cycle once, reported at the entry that closes it."""
    return [issue for issue, _, _ in _scan(doc, tag)]


def fix_dependencies(doc: Document, tag: str) -> list[DependencyIssue]:
    """Remove every entry `validate_dependencies` reports (for a cycle, the closing entry);
    afterwards it reports nothing. Returns the issues fixed."""
    findings = _scan(doc, tag)
    doomed: dict[int, tuple[Task, set[int]]] = {}
    for _, item, index in findings:
        doomed.setdefault(id(item), (item, set()))[1].add(index)
    for item, indexes in doomed.values():
        deps = item["dependencies"]
        deps[:] = [dep for index, dep in enumerate(deps) if index not in indexes]
    return [issue for issue, _, _ in findings]


__all__ = [
    "DependencyIssue",
    "add_dependency",
    "fix_dependencies",
    "remove_dependency",
    "validate_dependencies",
]
