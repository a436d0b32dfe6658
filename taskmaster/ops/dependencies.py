"""Adding, removing, validating and fixing dependencies."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from taskmaster.errors import DependencyCycle, DependencyError
from taskmaster.model import Document, Task, TaskId, next_id, subtask_view
from taskmaster.ops._graph import TagGraph, cycle_names
from taskmaster.ops._refs import encode, items_with_parent, own_id, resolve, set_parent_link

IssueKind = Literal["self", "missing", "duplicate", "cycle", "invalid", "duplicate-id", "bad-id"]
"""Entry issues, and two about ids themselves: an id several items share (`duplicate-id`) and
an id of 0 or below (`bad-id`); for those `dependency` is empty."""


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
    if doc.find(tag, dep) is None:  # DuplicateId for an ambiguous target
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


def _check_entry(
    me: TaskId, parent: int | None, raw: object, seen: set[TaskId], graph: TagGraph, tag: str
) -> TaskId | tuple[IssueKind, str, str]:
    """The entry's absolute target, or what is wrong with it: (kind, dependency, message)."""
    target = resolve(parent, raw)
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
    if target in seen:
        return "duplicate", str(target), f"task {me} lists dependency {target} twice"
    if graph.item(target) is None:
        return (
            "missing",
            str(target),
            f"task {me} depends on {target}, which does not exist in tag '{tag}'",
        )
    return target


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
            checked = _check_entry(me, parent, raw, seen, graph, tag)
            if not isinstance(checked, TaskId):
                kind, dependency, message = checked
                findings.append((DependencyIssue(kind, str(me), dependency, message), item, index))
                continue
            seen.add(checked)
            out.append((checked, index))
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


# ids --------------------------------------------------------------------------------------------

Renumbering = tuple[DependencyIssue, Task, Task | None, int]
"""An id issue, the item with the bad id, its parent (None for a task), and its new id."""


def _id_issues(doc: Document, tag: str) -> list[Renumbering]:
    """Items whose id is shared with an earlier item of the same list, or is 0 or below, with
    the id a repair gives each: one past the largest id of its list, in file order.

    References to a shared id keep naming the first item with it (the one every lookup found
    so far): which twin a reference meant cannot be known, so the later copies give way."""
    tasks = doc.tasks(tag)
    found: list[Renumbering] = []
    next_task = next_id(task["id"] for task in tasks)
    seen: set[int] = set()
    for task in tasks:
        number = task["id"]
        if number < 1 or number in seen:
            issue = _id_issue(f"task {number}", f"tag '{tag}'", number < 1, next_task)
            found.append((issue, task, None, next_task))
            next_task += 1
        seen.add(number)
        subs = task.get("subtasks") or ()
        next_sub = next_id(sub["id"] for sub in subs)
        seen_subs: set[int] = set()
        for sub in subs:
            sub_number = sub["id"]
            if sub_number < 1 or sub_number in seen_subs:
                name = f"subtask {number}.{sub_number}"
                issue = _id_issue(name, f"task {number}", sub_number < 1, next_sub)
                found.append((issue, sub, task, next_sub))
                next_sub += 1
            seen_subs.add(sub_number)
    return found


def _id_issue(name: str, where: str, not_positive: bool, new_id: int) -> DependencyIssue:
    item = name.split(" ", 1)[1]
    if not_positive:
        reason = f"{name} has an id of 0 or below, which no command can name"
        return DependencyIssue("bad-id", item, "", f"{reason}; a repair renumbers it to {new_id}")
    reason = f"{name} appears more than once in {where}"
    return DependencyIssue(
        "duplicate-id",
        item,
        "",
        f"{reason}; a repair gives this later copy id {new_id} (references keep naming the first)",
    )


def _renumber(doc: Document, tag: str, renumberings: list[Renumbering]) -> None:
    """Apply the new ids. A reference to an id of 0 or below follows its (first) item, so it
    keeps its meaning; references to a shared id already name the first item and stay."""
    tasks = doc.tasks(tag)
    task_moves: dict[int, int] = {}
    sub_moves: dict[int, dict[int, int]] = {}
    for _, item, parent, new_id in renumberings:
        old = item["id"]
        if parent is None:
            if old < 1:
                task_moves.setdefault(old, new_id)
            item["id"] = new_id
            for sub in item.get("subtasks") or ():
                set_parent_link(sub, new_id)
        else:
            if old < 1:
                sub_moves.setdefault(id(parent), {}).setdefault(old, new_id)
            item["id"] = new_id
    if not task_moves and not sub_moves:
        return
    for task in tasks:
        _follow(task, task_moves)
        for sub in task.get("subtasks") or ():
            _follow(sub, sub_moves.get(id(task), {}))


def _follow(item: Task, moves: dict[int, int]) -> None:
    """Rewrite bare-number entries (a task in a task, a sibling in a subtask) that moved."""
    deps = item.get("dependencies")
    if moves and isinstance(deps, list):
        deps[:] = [moves.get(dep, dep) if type(dep) is int else dep for dep in deps]


def validate_dependencies(doc: Document, tag: str) -> list[DependencyIssue]:
    """Every id several items share and every id of 0 or below; then every bad dependency
    entry of the tag: self, missing, duplicate, invalid (unreadable, or a subtask naming a
    task), and each cycle once, reported at the entry that closes it."""
    ids = [issue for issue, _, _, _ in _id_issues(doc, tag)]
    return ids + [issue for issue, _, _ in _scan(doc, tag)]


def fix_dependencies(doc: Document, tag: str) -> list[DependencyIssue]:
    """Repair what `validate_dependencies` reports: give later copies of a shared id, and ids
    of 0 or below, new ids (see `_id_issues`); then remove every bad entry (for a cycle, the
    closing entry). Afterwards it reports nothing. Returns the issues fixed."""
    renumberings = _id_issues(doc, tag)
    _renumber(doc, tag, renumberings)
    fixed = [issue for issue, _, _, _ in renumberings]
    findings = _scan(doc, tag)
    doomed: dict[int, tuple[Task, set[int]]] = {}
    for _, item, index in findings:
        doomed.setdefault(id(item), (item, set()))[1].add(index)
    for item, indexes in doomed.values():
        deps = item["dependencies"]
        deps[:] = [dep for index, dep in enumerate(deps) if index not in indexes]
    return fixed + [issue for issue, _, _ in findings]


__all__ = [
    "DependencyIssue",
    "add_dependency",
    "fix_dependencies",
    "remove_dependency",
    "validate_dependencies",
]
