"""Reading and rewriting dependency entries, the one thing every structural operation shares.

A dependency entry means different things in different places: in a task, ``5`` is task 5 and
``"2.3"`` is subtask 3 of task 2; in a subtask of task 4, ``2`` is the sibling ``4.2``. So every
rewrite resolves an entry to an absolute `TaskId` in the context of the item that holds it, maps
it, and encodes it back for the context the item is in *after* the change. Entries we cannot
understand (``"abc"``, ``0``) are never touched here: validation reports them, fix removes them.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from taskmaster.errors import DuplicateId, InvalidInput
from taskmaster.model import Task, TaskId, dependency_value, is_id_text, subtask_dependency_id

Entry = TaskId | Any
"""An absolute id, or the raw stored value when it does not resolve."""


def resolve(parent: int | None, dep: object) -> TaskId | None:
    """The id a stored entry refers to (`parent` is None for a task), or None if unreadable."""
    if type(dep) is int:  # the common case, kept cheap: remap runs over whole tags
        if dep < 1:
            return None
        return TaskId(dep) if parent is None else TaskId(parent, dep)
    if not isinstance(dep, str):
        return None  # bool, float, null, list...: nothing an id can be
    try:
        if parent is None:
            return TaskId.parse(dep)
        return subtask_dependency_id(parent, dep)
    except InvalidInput:
        return None


def encode(parent: int | None, target: TaskId) -> int | str | None:
    """How an item in `parent`'s subtasks (None: a task) stores `target`; None if it cannot."""
    if parent is None:
        return dependency_value(target)
    if target.sub is None:
        return None  # a bare number in a subtask means a sibling, never a task
    return target.sub if target.task == parent else str(target)


def items_with_parent(tasks: Iterable[Task]) -> Iterator[tuple[int | None, Task]]:
    """Every task (parent None) and subtask (parent = its task's id) of a task list."""
    for task in tasks:
        yield None, task
        for sub in task.get("subtasks") or ():
            yield task["id"], sub


def own_id(parent: int | None, item: Task) -> TaskId:
    return TaskId(item["id"]) if parent is None else TaskId(parent, item["id"])


def task_index(tasks: list[Task]) -> dict[int, Task]:
    """Task id -> task; on a (corrupt) repeated id the first one wins, as `Document.find_task`."""
    return {task["id"]: task for task in reversed(tasks)}


def shared_ids(tasks: Iterable[Task]) -> set[TaskId]:
    """Ids more than one item has: tasks of the list (with their subtasks, whose ids are
    ambiguous through them), subtasks within their task."""
    tasks = list(tasks)
    shared: set[TaskId] = set()
    seen: set[int] = set()
    twins: set[int] = set()
    for task in tasks:
        number = task["id"]
        if number in seen:
            twins.add(number)
        seen.add(number)
    for task in tasks:
        number = task["id"]
        if twins and number in twins:
            shared.add(TaskId(number))
            shared.update(TaskId(number, sub["id"]) for sub in task.get("subtasks") or ())
        subs = task.get("subtasks")
        if subs and len(subs) > 1:
            sub_ids = [sub["id"] for sub in subs]
            if len(set(sub_ids)) < len(sub_ids):
                shared.update(
                    TaskId(number, sub_id) for sub_id in sub_ids if sub_ids.count(sub_id) > 1
                )
    return shared


def tasks_named(tasks: list[Task], numbers: Iterable[int], tag: str) -> dict[int, Task]:
    """The tasks of the list with these numbers (those found), for the few ids a command
    names; DuplicateId when one of them is shared by several tasks. The ids are listed and
    searched in C: at 10,000 tasks a loop over them in Python costs more than the write.
    A list that knows where its ids are (`id_positions()`, offered by a backend that keeps
    its document between transactions) is asked instead."""
    lookup = getattr(tasks, "id_positions", None)
    positions = lookup() if lookup is not None else None
    if positions is not None:
        known: dict[int, Task] = {}
        for number in numbers:
            index = positions.get(number)
            if index == -1:
                raise DuplicateId.of(f"task {number}", f"tag '{tag}'")
            if index is not None:
                known[number] = tasks[index]
        return known
    try:
        ids = list(map(_id_of, tasks))
    except KeyError:  # a task without an id (not yet checked): compare what there is
        ids = [task.get("id") for task in tasks]
    found: dict[int, Task] = {}
    for number in numbers:
        count = ids.count(number)
        if count > 1:
            raise DuplicateId.of(f"task {number}", f"tag '{tag}'")
        if count:
            found[number] = tasks[ids.index(number)]
    return found


_id_of = operator.itemgetter("id")


def check_unambiguous(tasks: list[Task], ids: Iterable[TaskId], tag: str) -> None:
    """Refuse (DuplicateId) when an id a command names is shared by several tasks of the tag,
    or several subtasks of its task: an index keeps only the first, and acting on it (or on
    every item with that number) would not be what the caller asked for."""
    named_unambiguous(tasks, ids, tag)


def named_unambiguous(tasks: list[Task], ids: Iterable[TaskId], tag: str) -> dict[int, Task]:
    """`check_unambiguous`, returning the named tasks found (by number) from the same scan."""
    ids = list(ids)
    seen = tasks_named(tasks, dict.fromkeys(item_id.task for item_id in ids), tag)
    for item_id in ids:
        parent = seen.get(item_id.task)
        if item_id.sub is None or parent is None:
            continue
        subs = [sub for sub in parent.get("subtasks") or () if sub.get("id") == item_id.sub]
        if len(subs) > 1:
            raise DuplicateId.of(f"subtask {item_id}", f"task {item_id.task}")
    return seen


def find_in(index: Mapping[int, Task], item_id: TaskId) -> Task | None:
    task = index.get(item_id.task)
    if task is None or item_id.sub is None:
        return task
    subtasks: Iterable[Task] = task.get("subtasks") or ()
    for sub in subtasks:
        if sub.get("id") == item_id.sub:
            return sub
    return None


def absolute_entries(parent: int | None, item: Task) -> list[Entry]:
    """The item's dependencies as absolute ids, captured before the item changes context."""
    entries: list[Entry] = []
    for dep in item.get("dependencies") or ():
        target = resolve(parent, dep)
        entries.append(dep if target is None else target)
    return entries


def write_entries(
    item: Task,
    parent: int | None,
    entries: Iterable[Entry],
    mapping: Mapping[TaskId, TaskId | None],
) -> None:
    """Store `entries` in `item` for its new context: mapped, deduplicated, self and
    unrepresentable references dropped, unreadable raw values kept as they were."""
    me = own_id(parent, item)
    stored: list[Any] = []
    seen: set[TaskId] = set()
    for entry in entries:
        if not isinstance(entry, TaskId):
            stored.append(entry)
            continue
        target = mapping.get(entry, entry)
        if target is None or target == me or target in seen:
            continue
        value = encode(parent, target)
        if value is not None:
            seen.add(target)
            stored.append(value)
    item["dependencies"] = stored


def remap(tasks: Iterable[Task], mapping: Mapping[TaskId, TaskId | None]) -> None:
    """Rewrite, in every item of `tasks`, each entry whose target is a key of `mapping`: to the
    new id, or dropped when it maps to None (or cannot be stored there).

    Call it after the structure has changed: each item's *current* parent is the context. That
    is right for every item that kept its parent id (or moved together with all its siblings).
    An item that changes context on its own must not be in `tasks` yet: capture its entries
    with `absolute_entries` first and store them with `write_entries` once it is in place.
    """
    if not mapping:
        return
    for parent, item in items_with_parent(tasks):
        deps = item.get("dependencies")
        if not deps or not isinstance(deps, list):
            continue
        targets = [resolve(parent, dep) for dep in deps]
        if not any(target in mapping for target in targets):
            continue  # the common case: leave the list object alone
        me = own_id(parent, item)
        present = {target for target in targets if target is not None and target not in mapping}
        rebuilt: list[Any] = []
        for dep, target in zip(deps, targets, strict=True):
            if target is None or target not in mapping:
                rebuilt.append(dep)
                continue
            new = mapping[target]
            if new is None or new == me or new in present:
                continue  # dropped: removed, now on itself, or listed already
            value = encode(parent, new)
            if value is not None:
                present.add(new)
                rebuilt.append(value)
        deps[:] = rebuilt


def set_parent_link(sub: Task, parent_id: int) -> None:
    """Point a subtask's parent link at `parent_id`, in the form the file already uses."""
    if "parentId" in sub:
        old = sub["parentId"]
        # One writer stores "undefined"; only a link that names a task is worth updating.
        if isinstance(old, str) and is_id_text(old):
            sub["parentId"] = str(parent_id)
        elif isinstance(old, int) and not isinstance(old, bool):
            sub["parentId"] = parent_id
    if "parentTaskId" in sub or "parentId" not in sub:
        sub["parentTaskId"] = parent_id


def reorder_keys(item: Task, leading: Iterable[str]) -> None:
    """Put the `leading` keys first (those present), everything else after in its old order.
    In place, so the dict keeps its identity."""
    leading = [key for key in leading if key in item]
    rest = [key for key in item if key not in leading]
    rebuilt = {key: item[key] for key in (*leading, *rest)}
    item.clear()
    item.update(rebuilt)


def insert_by_id(items: list[Task], item: Task) -> None:
    """Insert before the first item with a larger id: a list sorted by id stays sorted."""
    for index, other in enumerate(items):
        if isinstance(other.get("id"), int) and other["id"] > item["id"]:
            items.insert(index, item)
            return
    items.append(item)


def remove_item(items: list[Task], item: Task) -> None:
    """Remove this very dict (list.remove compares by value and could hit an equal twin)."""
    for index, other in enumerate(items):
        if other is item:
            del items[index]
            return
    raise ValueError("item is not in the list")
