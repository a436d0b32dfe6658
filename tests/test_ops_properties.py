"""Properties of the operations over generated documents.

- unknown keys at every level survive every operation;
- an operation that raises leaves the document byte-for-byte unchanged, read-only ones always;
- after any sequence of operations: no cycle, no dangling or bad dependency, no repeated id;
- `next_task` never offers an item with an unsatisfied dependency.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from strategies import ITEM_KEYS, TAG_KEYS, TAG_METADATA_KEYS, documents, json_values

from taskmaster import ops
from taskmaster.errors import TaskMasterError
from taskmaster.model import (
    PRIORITIES,
    STATUSES,
    Document,
    TaskId,
    is_done,
    subtask_dependency_id,
    task_dependency_id,
)

NOW = "2025-06-01T00:00:00.000Z"
Call = Callable[[Document], Any]

# Random operations ------------------------------------------------------------------------------


_GOOD_MOSTLY = st.sampled_from([True, True, True, True, False])


def _mostly(data: st.DataObject, good: list[Any], bad: list[Any], label: str) -> Any:
    """Usually one of `good`, one time in five (or when there is no good one) one of `bad`:
    random operations should mostly succeed, and sometimes exercise their errors."""
    # Hypothesis favours the first element of a sampled list (and shrinks towards it), so
    # "good" goes first; an integer draw would favour its bounds instead.
    if good and (not bad or data.draw(_GOOD_MOSTLY, f"{label} is good")):
        return data.draw(st.sampled_from(good), label)
    return data.draw(st.sampled_from(bad or good), label)


def _tag(data: st.DataObject, doc: Document, label: str = "tag") -> str:
    return _mostly(data, doc.tag_names(), ["ghost"], label)


def _existing(doc: Document, tag: str) -> list[TaskId]:
    return [item_id for item_id, _ in doc.iter_items(tag)] if doc.has_tag(tag) else []


def _unused(doc: Document, tag: str) -> list[TaskId]:
    """Ids that do not exist yet: new task ids and the next free subtask slot of each task."""
    if not doc.has_tag(tag):
        return [TaskId(1), TaskId(1, 1)]
    next_id = doc.next_task_id(tag)
    unused = [TaskId(next_id), TaskId(next_id + 2)]
    for task in doc.tasks(tag):
        last = max((sub["id"] for sub in task.get("subtasks") or ()), default=0)
        unused.append(TaskId(task["id"], last + 1))
    return unused


def _one_of_groups(data: st.DataObject, groups: dict[str, list[Any]], label: str) -> Any:
    """Pick a non-empty group, then an element: sampled_from favours the front of a list, so
    a flat list of every id would almost always give the first task."""
    names = [name for name, members in groups.items() if members]
    group = data.draw(st.sampled_from(names), f"{label} kind")
    return data.draw(st.sampled_from(groups[group]), label)


def _an_id(data: st.DataObject, doc: Document, tag: str, label: str = "id") -> TaskId:
    existing = _existing(doc, tag)
    tasks = [item_id for item_id in existing if item_id.sub is None]
    subtasks = [item_id for item_id in existing if item_id.sub is not None]
    if data.draw(_GOOD_MOSTLY, f"{label} exists") and existing:
        return _one_of_groups(data, {"task": tasks, "subtask": subtasks}, label)
    return data.draw(st.sampled_from(_unused(doc, tag)), label)


def _a_task_id(data: st.DataObject, doc: Document, tag: str, label: str = "task") -> int:
    tasks = [item_id for item_id in _existing(doc, tag) if item_id.sub is None]
    return _mostly(data, tasks, _unused(doc, tag)[:1], label).task


def _some_ids(data: st.DataObject, doc: Document, tag: str, label: str = "ids") -> list[TaskId]:
    count = data.draw(st.integers(min_value=1, max_value=3), f"{label} count")
    return [_an_id(data, doc, tag, label) for _ in range(count)]


def _good_or_bad(data: st.DataObject, good: tuple[str, ...], bad: str, label: str) -> str:
    return _mostly(data, list(good), [bad], label)


def op_add_task(data: st.DataObject, doc: Document) -> Call:
    tag = _tag(data, doc)
    deps = [_an_id(data, doc, tag, "dep") for _ in range(data.draw(st.integers(0, 2)))]
    title = _good_or_bad(data, ("A task",), "", "title")
    priority = _good_or_bad(data, PRIORITIES, "urgent", "priority")
    status = _good_or_bad(data, STATUSES, "bogus", "status")
    return lambda d: ops.add_task(
        d, tag, title=title, dependencies=deps, priority=priority, status=status
    )


def op_update_task(data: st.DataObject, doc: Document) -> Call:
    tag = _tag(data, doc)
    item_id = _an_id(data, doc, tag)
    fields = data.draw(
        st.fixed_dictionaries(
            {},
            optional={
                "title": st.sampled_from(["New title", "", "x"]),
                "details": st.text(max_size=5),
                "status": st.sampled_from([*STATUSES, "bogus"]),
                "priority": st.sampled_from(PRIORITIES),
                "metadata": st.dictionaries(st.text(max_size=3), json_values, max_size=2),
            },
        ),
        "fields",
    )
    if data.draw(st.integers(min_value=0, max_value=9), "unknown field") == 0:
        fields["subtasks"] = []
    return lambda d: ops.update_task(d, tag, item_id, fields)


def op_set_status(data: st.DataObject, doc: Document) -> Call:
    tag = _tag(data, doc)
    ids = _some_ids(data, doc, tag)
    status = _good_or_bad(data, STATUSES, "bogus", "status")
    return lambda d: ops.set_status(d, tag, ids, status)


def op_remove_task(data: st.DataObject, doc: Document) -> Call:
    tag = _tag(data, doc)
    ids = _some_ids(data, doc, tag)
    return lambda d: ops.remove_task(d, tag, ids)


def op_add_subtask(data: st.DataObject, doc: Document) -> Call:
    tag = _tag(data, doc)
    parent = _a_task_id(data, doc, tag, "parent")
    subs = [item_id for item_id in _existing(doc, tag) if item_id.sub is not None]
    deps = [
        _mostly(data, subs, _existing(doc, tag) + _unused(doc, tag), "dep")
        for _ in range(data.draw(st.integers(0, 2)))
    ]
    return lambda d: ops.add_subtask(d, tag, parent, title="sub", dependencies=deps)


def op_convert(data: st.DataObject, doc: Document) -> Call:
    tag = _tag(data, doc)
    tasks = (
        [task["id"] for task in doc.tasks(tag) if not task.get("subtasks")]
        if doc.has_tag(tag)
        else []
    )
    task_id = _mostly(
        data, tasks, [i.task for i in _existing(doc, tag) + _unused(doc, tag)], "task"
    )
    others = [i.task for i in _existing(doc, tag) if i.sub is None and i.task != task_id]
    parent = _mostly(
        data, others, [task_id, doc.next_task_id(tag) if doc.has_tag(tag) else 1], "parent"
    )
    return lambda d: ops.convert_task_to_subtask(d, tag, task_id, parent)


def op_remove_subtask(data: st.DataObject, doc: Document) -> Call:
    tag = _tag(data, doc)
    subs = [item_id for item_id in _existing(doc, tag) if item_id.sub is not None]
    ids = [
        _mostly(data, subs, _existing(doc, tag) + _unused(doc, tag), "id")
        for _ in range(data.draw(st.integers(1, 2)))
    ]
    convert = data.draw(st.booleans(), "convert")
    return lambda d: ops.remove_subtask(d, tag, ids, convert=convert)


def op_clear_subtasks(data: st.DataObject, doc: Document) -> Call:
    tag = _tag(data, doc)
    ids = None if data.draw(st.booleans(), "all") else [_a_task_id(data, doc, tag)]
    return lambda d: ops.clear_subtasks(d, tag, ids)


def op_add_dependency(data: st.DataObject, doc: Document) -> Call:
    tag = _tag(data, doc)
    item = _an_id(data, doc, tag, "item")
    others = [i for i in _existing(doc, tag) if i != item and (item.sub is None or i.sub)]
    target = _mostly(data, others, [item, *_existing(doc, tag), *_unused(doc, tag)], "target")
    return lambda d: ops.add_dependency(d, tag, item, target)


def op_remove_dependency(data: st.DataObject, doc: Document) -> Call:
    tag = _tag(data, doc)
    item = _an_id(data, doc, tag, "item")
    stored = doc.find(tag, item) if doc.has_tag(tag) else None
    parent = None if item.sub is None else item.task
    current = [
        task_dependency_id(dep) if parent is None else subtask_dependency_id(parent, dep)
        for dep in (stored or {}).get("dependencies") or ()
    ]
    target = _mostly(data, current, _existing(doc, tag) + _unused(doc, tag), "target")
    return lambda d: ops.remove_dependency(d, tag, item, target)


def op_fix_dependencies(data: st.DataObject, doc: Document) -> Call:
    tag = _tag(data, doc)
    return lambda d: ops.fix_dependencies(d, tag)


def op_move_tasks(data: st.DataObject, doc: Document) -> Call:
    tag = _tag(data, doc)
    count = data.draw(st.integers(min_value=1, max_value=2), "pairs")
    sources = [_an_id(data, doc, tag, "from") for _ in range(count)]
    slots = [
        TaskId(task, data.draw(st.integers(1, 4))) for task in {i.task for i in _existing(doc, tag)}
    ]
    targets = [
        _mostly(data, _unused(doc, tag) + _existing(doc, tag) + slots, [], "to")
        for _ in range(count)
    ]
    return lambda d: ops.move_tasks(d, tag, sources, targets)


def op_move_to_tag(data: st.DataObject, doc: Document) -> Call:
    source = _tag(data, doc, "from tag")
    target = _mostly(data, [t for t in doc.tag_names() if t != source], [source, "ghost"], "to")
    ids = [_a_task_id(data, doc, source) for _ in range(data.draw(st.integers(1, 2), "count"))]
    flags = data.draw(st.sampled_from([(False, False), (True, False), (False, True)]), "flags")
    return lambda d: ops.move_to_tag(
        d, ids, source, target, with_dependencies=flags[0], ignore_dependencies=flags[1]
    )


def _new_tag_name(data: st.DataObject, doc: Document, label: str = "name") -> str:
    fresh = [name for name in ("feature", "v2", "x_y-z") if not doc.has_tag(name)]
    return _mostly(data, fresh, ["master", "bad name", "tasks", *doc.tag_names()], label)


def op_add_tag(data: st.DataObject, doc: Document) -> Call:
    name = _new_tag_name(data, doc)
    copy_from = data.draw(st.none() | st.sampled_from(doc.tag_names()), "copy_from")
    return lambda d: ops.add_tag(d, name, copy_from=copy_from, now=NOW)


def op_copy_tag(data: st.DataObject, doc: Document) -> Call:
    source, dest = _tag(data, doc), _new_tag_name(data, doc, "dest")
    return lambda d: ops.copy_tag(d, source, dest, now=NOW)


def op_rename_tag(data: st.DataObject, doc: Document) -> Call:
    others = [name for name in doc.tag_names() if name != "master"]
    old = _mostly(data, others, ["master", "ghost"], "old")
    new = _new_tag_name(data, doc, "new")
    return lambda d: ops.rename_tag(d, old, new)


def op_delete_tag(data: st.DataObject, doc: Document) -> Call:
    others = [name for name in doc.tag_names() if name != "master"]
    name = _mostly(data, others, ["master", "ghost"], "tag")
    return lambda d: ops.delete_tag(d, name)


WRITES: dict[str, Callable[[st.DataObject, Document], Call]] = {
    "add_task": op_add_task,
    "update_task": op_update_task,
    "set_status": op_set_status,
    "remove_task": op_remove_task,
    "add_subtask": op_add_subtask,
    "convert_task_to_subtask": op_convert,
    "remove_subtask": op_remove_subtask,
    "clear_subtasks": op_clear_subtasks,
    "add_dependency": op_add_dependency,
    "remove_dependency": op_remove_dependency,
    "fix_dependencies": op_fix_dependencies,
    "move_tasks": op_move_tasks,
    "move_to_tag": op_move_to_tag,
    "add_tag": op_add_tag,
    "copy_tag": op_copy_tag,
    "rename_tag": op_rename_tag,
    "delete_tag": op_delete_tag,
}
REMOVING = {"remove_task", "remove_subtask", "clear_subtasks", "delete_tag"}
READS: dict[str, Callable[[Document, str], Any]] = {
    "next_task": ops.next_task,
    "ready_ids": ops.ready_ids,
    "validate_dependencies": ops.validate_dependencies,
    "list_tags": lambda doc, _tag: ops.list_tags(doc),
}


def apply(call: Call, doc: Document) -> bool:
    """Run an operation; if it raises, the document must be exactly as before."""
    before = doc.to_json()
    try:
        call(doc)
    except TaskMasterError:
        assert doc.to_json() == before, "a failed operation changed the document"
        return False
    return True


# Checks -----------------------------------------------------------------------------------------

MARK = "x-test-marker"


def _levels(doc: Document):
    """(object, its known keys) for every tag, tag metadata, task and subtask."""
    for name in doc.tag_names():
        tag = doc.tag(name)
        yield tag, TAG_KEYS
        if isinstance(tag.get("metadata"), dict):
            yield tag["metadata"], TAG_METADATA_KEYS
        for task in tag["tasks"]:
            yield task, ITEM_KEYS
            for sub in task.get("subtasks") or ():
                yield sub, ITEM_KEYS


def mark(doc: Document) -> None:
    for number, (obj, _) in enumerate(_levels(doc)):
        obj[MARK] = number


def extras(doc: Document) -> tuple[dict[str, Any], dict[int, list[dict[str, Any]]]]:
    """Unknown top-level keys, and the unknown keys of every marked object by marker."""
    top = {key: value for key, value in doc.data.items() if not doc.has_tag(key)}
    marked: dict[int, list[dict[str, Any]]] = {}
    for obj, known in _levels(doc):
        if MARK in obj:
            unknown = {key: value for key, value in obj.items() if key not in known}
            marked.setdefault(obj[MARK], []).append(unknown)
    return top, marked


def check_extras_kept(before, after, *, may_remove: bool) -> None:
    top_before, marked_before = before
    top_after, marked_after = after
    assert top_after == top_before
    for marker, found in marked_after.items():
        assert all(unknown == marked_before[marker][0] for unknown in found), marker
    if not may_remove:
        assert set(marked_after) >= set(marked_before)


def _resolved(doc: Document, tag: str) -> dict[TaskId, list[TaskId]]:
    """Every item's dependencies as ids, resolved here with the model's own rules (not the
    code under test): a bare number in a subtask is a sibling."""
    graph: dict[TaskId, list[TaskId]] = {}
    for item_id, item in doc.iter_items(tag):
        deps = item.get("dependencies") or []
        if item_id.sub is None:
            graph[item_id] = [task_dependency_id(dep) for dep in deps]
        else:
            graph[item_id] = [subtask_dependency_id(item_id.task, dep) for dep in deps]
    return graph


def check_structure(doc: Document) -> None:
    """Unique ids; every dependency names another existing item, once, and a subtask only
    subtasks; no cycle (counting parent -> subtask edges); the document still round-trips.
    Checked independently of `validate_dependencies`, which must agree."""
    assert Document.from_json(doc.to_json()).data == doc.data
    for tag in doc.tag_names():
        task_ids = [task["id"] for task in doc.tasks(tag)]
        assert len(task_ids) == len(set(task_ids)), f"repeated task id in {tag}: {task_ids}"
        for task in doc.tasks(tag):
            sub_ids = [sub["id"] for sub in task.get("subtasks") or ()]
            assert len(sub_ids) == len(set(sub_ids)), f"repeated subtask id in {task['id']}"
        graph = _resolved(doc, tag)
        for item_id, deps in graph.items():
            assert len(deps) == len(set(deps)), f"{item_id} repeats a dependency: {deps}"
            for dep in deps:
                assert dep != item_id and dep in graph, f"{item_id} -> {dep} in {tag}"
                assert item_id.sub is None or dep.sub is not None, f"{item_id} -> task {dep}"
        # Kahn's algorithm over item -> dependency and parent -> subtask edges.
        edges = {node: set(deps) for node, deps in graph.items()}
        for node in graph:
            if node.sub is not None:
                edges[node.parent].add(node)
        waiting = {node: 0 for node in graph}
        for targets in edges.values():
            for target in targets:
                waiting[target] += 1
        ready = [node for node, count in waiting.items() if count == 0]
        seen = 0
        while ready:
            node = ready.pop()
            seen += 1
            for target in edges[node]:
                waiting[target] -= 1
                if waiting[target] == 0:
                    ready.append(target)
        assert seen == len(graph), f"dependency cycle in tag {tag}"
        assert ops.validate_dependencies(doc, tag) == [], tag


def marked_edges(doc: Document) -> set[tuple[int, int]]:
    """Dependencies between marked objects, by marker: ids change when items move, markers do
    not, so a rewrite that points a dependency at the wrong item shows up here."""
    found: set[tuple[int, int]] = set()
    for tag in doc.tag_names():
        items = dict(doc.iter_items(tag))
        for item_id, deps in _resolved(doc, tag).items():
            source = items[item_id].get(MARK)
            for dep in deps:
                target = items.get(dep, {}).get(MARK)
                if source is not None and target is not None:
                    found.add((source, target))
    return found


def parent_links(doc: Document) -> set[tuple[int, int]]:
    """(subtask, its parent) by marker: the edge a subtask promoted to a task gains."""
    return {
        (sub[MARK], task[MARK])
        for tag in doc.tag_names()
        for task in doc.tasks(tag)
        for sub in task.get("subtasks") or ()
        if MARK in sub and MARK in task
    }


def check_no_new_edges(
    before: set[tuple[int, int]],
    after: set[tuple[int, int]],
    name: str,
    links: set[tuple[int, int]],
) -> None:
    """Only add_dependency creates a dependency between existing items (one at most), and
    remove_subtask --convert one from each promoted subtask to its old parent (`links`, taken
    before the operation); every other operation keeps them (following moves) or drops them."""
    new = after - before
    if name == "remove_subtask":
        new -= links
    assert len(new) <= (1 if name == "add_dependency" else 0), (name, new)


def check_next(doc: Document) -> None:
    """What `next_task` offers is workable and has every dependency done (checked here
    independently of the implementation), and it is among `ready_ids`."""
    for tag in doc.tag_names():
        found = ops.next_task(doc, tag)
        if found is None:
            continue
        item_id = TaskId.parse(found["id"])
        item = doc.get(tag, item_id)
        assert item.get("status") in ("pending", "in-progress")
        if item_id.sub is not None:
            assert doc.task(tag, item_id.task)["status"] == "in-progress"
        for dep in item.get("dependencies") or ():
            target = (
                task_dependency_id(dep)
                if item_id.sub is None
                else subtask_dependency_id(item_id.task, dep)
            )
            target_item = doc.find(tag, target)
            assert target_item is not None and is_done(target_item.get("status")), (item_id, dep)
        assert item_id in ops.ready_ids(doc, tag)


# Properties -------------------------------------------------------------------------------------


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents(min_tasks=2), data=st.data(), name=st.sampled_from(sorted(WRITES)))
def test_unknown_keys_survive_every_operation(doc: Document, data, name: str) -> None:
    mark(doc)
    before, edges_before, links = extras(doc), marked_edges(doc), parent_links(doc)
    apply(WRITES[name](data, doc), doc)
    check_extras_kept(before, extras(doc), may_remove=name in REMOVING)
    check_no_new_edges(edges_before, marked_edges(doc), name, links)


@settings(max_examples=40, deadline=None)
@given(doc=documents(), name=st.sampled_from(sorted(READS)))
def test_reads_change_nothing(doc: Document, name: str) -> None:
    before = doc.to_json()
    for tag in doc.tag_names():
        READS[name](doc, tag)
    assert doc.to_json() == before


@settings(max_examples=80, deadline=None)
@given(doc=documents())
def test_next_task_only_offers_items_whose_dependencies_are_done(doc: Document) -> None:
    check_next(doc)


@st.composite
def damaged_documents(draw: st.DrawFn) -> Document:
    """Valid documents with random entries appended: self, missing, repeated, unreadable, and
    references that close cycles."""
    doc = draw(documents(max_tags=1))
    items = [(item_id, item) for item_id, item in doc.iter_items("master")]
    if not items:
        return doc
    raw = st.sampled_from(
        [str(item_id) for item_id, _ in items]
        + [item_id.task for item_id, _ in items]
        + [item_id.sub for item_id, _ in items if item_id.sub]
        + [99, "99.1", "abc", 0, "1.2.3"]
    )
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        _, item = draw(st.sampled_from(items))
        item.setdefault("dependencies", []).append(draw(raw))
    return Document.from_json(doc.to_json())  # as loaded from a file: "5" becomes 5


@settings(max_examples=100, deadline=None)
@given(doc=damaged_documents())
def test_fix_dependencies_leaves_nothing_to_report(doc: Document) -> None:
    reported = ops.validate_dependencies(doc, "master")
    fixed = ops.fix_dependencies(doc, "master")
    assert fixed == reported
    check_structure(doc)
    check_next(doc)


class OperationSequences(RuleBasedStateMachine):
    """Random operations, one after another, on one document; invariants after each."""

    doc: Document

    @initialize(doc=documents(min_tasks=2))
    def start(self, doc: Document) -> None:
        self.doc = doc
        mark(doc)
        self.extras = extras(doc)
        self.removed = False

    @rule(data=st.data(), name=st.sampled_from(sorted(WRITES)))
    def write(self, data: st.DataObject, name: str) -> None:
        edges_before, links = marked_edges(self.doc), parent_links(self.doc)
        if apply(WRITES[name](data, self.doc), self.doc):
            self.removed = self.removed or name in REMOVING
        check_no_new_edges(edges_before, marked_edges(self.doc), name, links)

    @invariant()
    def structure_is_valid(self) -> None:
        check_structure(self.doc)

    @invariant()
    def next_task_is_ready(self) -> None:
        check_next(self.doc)

    @invariant()
    def unknown_keys_are_kept(self) -> None:
        check_extras_kept(self.extras, extras(self.doc), may_remove=self.removed)


TestOperationSequences = OperationSequences.TestCase
TestOperationSequences.settings = settings(max_examples=60, stateful_step_count=20, deadline=None)
