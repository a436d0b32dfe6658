"""Undo, as a property of any sequence of commands (memory backend).

After any sequence of adds, updates, status changes, removals, subtask and dependency changes,
tag changes and moves (many of them refused as invalid, which must leave no entry):

- undoing the last entry gives back the document (and current tag) before it, but for the
  tags' `metadata.updated` stamps, which an undo stamps anew;
- undoing any earlier entry is refused exactly when a later entry overlaps it (`overlaps`),
  naming those later revisions; when it is allowed, every place it changed holds its value
  from before again.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskmaster.commands import (
    AddDependency,
    AddSubtask,
    AddTag,
    AddTask,
    DeleteTag,
    Move,
    RemoveDependency,
    RemoveSubtask,
    RemoveTask,
    SetStatus,
    Undo,
    UpdateTask,
    UseTag,
)
from taskmaster.commands.base import Command
from taskmaster.core import TaskMaster
from taskmaster.errors import TaskMasterError, UndoRefused
from taskmaster.journal.changes import STAMPS, overlaps
from taskmaster.model import DEFAULT_TAG, Document, TaskId
from taskmaster.storage import ProjectState
from taskmaster.storage.memory import MemoryStorage

TAGS = (DEFAULT_TAG, "feature", "spare")
tags = st.sampled_from(TAGS)
some_tag = st.none() | tags  # None: the current tag
numbers = st.integers(min_value=1, max_value=5)
subs = st.integers(min_value=1, max_value=3)
task_ids = st.builds(TaskId, numbers) | st.builds(TaskId, numbers, subs)
titles = st.sampled_from(["Write docs", "Fix bug", "Ünïcödé ✓"])
statuses = st.sampled_from(["pending", "in-progress", "done", "blocked"])

commands: st.SearchStrategy[Command[Any]] = st.one_of(
    st.builds(lambda title, tag: AddTask(values={"title": title}, tag=tag), titles, some_tag),
    st.builds(
        lambda i, title, status, tag: UpdateTask(
            id=i, fields={"title": title, "priority": status and "high"}, tag=tag
        ),
        task_ids,
        titles,
        st.booleans(),
        some_tag,
    ),
    st.builds(
        lambda ids, status, tag: SetStatus(ids=tuple(ids), status=status, tag=tag),
        st.lists(task_ids, min_size=1, max_size=2, unique=True),
        statuses,
        some_tag,
    ),
    st.builds(lambda i, tag: RemoveTask(ids=(i,), tag=tag), task_ids, some_tag),
    st.builds(
        lambda parent, title, tag: AddSubtask(parent=parent, values={"title": title}, tag=tag),
        numbers,
        titles,
        some_tag,
    ),
    st.builds(
        lambda n, s, tag: RemoveSubtask(ids=(TaskId(n, s),), tag=tag), numbers, subs, some_tag
    ),
    st.builds(
        lambda a, b, tag: AddDependency(id=a, depends_on=b, tag=tag), task_ids, task_ids, some_tag
    ),
    st.builds(
        lambda a, b, tag: RemoveDependency(id=a, depends_on=b, tag=tag),
        task_ids,
        task_ids,
        some_tag,
    ),
    st.builds(lambda tag, copy_from: AddTag(tag=tag, copy_from=copy_from), tags, st.none() | tags),
    st.builds(lambda tag: DeleteTag(tag=tag), tags),
    st.builds(lambda tag: UseTag(tag=tag), tags),
    st.builds(
        lambda a, b, tag: Move(sources=(a,), targets=(b,), tag=tag), task_ids, task_ids, some_tag
    ),
)


def seeded_tag(count: int) -> dict[str, Any]:
    """`count` tasks of two subtasks each, every task after the first depending on the one
    before: so that most drawn commands find what they name."""
    tasks = [
        {
            "id": n,
            "title": f"task {n}",
            "status": "pending",
            "dependencies": [n - 1] if n > 1 else [],
            "subtasks": [
                {"id": s, "title": f"step {s}", "status": "pending", "dependencies": []}
                for s in (1, 2)
            ],
        }
        for n in range(1, count + 1)
    ]
    return {"tasks": tasks, "metadata": {"created": "t0", "updated": "t0", "description": ""}}


def project() -> TaskMaster:
    storage = MemoryStorage()
    document = Document({DEFAULT_TAG: seeded_tag(4), "feature": seeded_tag(2)})
    storage.create(document, ProjectState(None))
    return TaskMaster(storage)


def without_stamps(value: Any) -> Any:
    """The document's JSON with every tag's `metadata.updated` removed."""
    value = copy.deepcopy(value)
    for tag in value.values() if isinstance(value, dict) else ():
        if isinstance(tag, dict) and isinstance(tag.get("metadata"), dict):
            for stamp in STAMPS:
                tag["metadata"].pop(stamp.removeprefix("metadata."), None)
    return value


def state_of(facade: TaskMaster) -> tuple[Any, str | None]:
    snapshot = facade.snapshot()
    return without_stamps(snapshot.document.data), facade.storage.state().current_tag


def run(facade: TaskMaster, sequence: list[Command[Any]]) -> dict[int, tuple[Any, str | None]]:
    """Execute every command (invalid ones refused); the state before each committed revision,
    by revision."""
    before: dict[int, tuple[Any, str | None]] = {}
    for command in sequence:
        state = state_of(facade)
        try:
            commit = facade.execute(command)
        except TaskMasterError:
            assert state_of(facade) == state  # a refused command changes nothing
            continue
        if commit.changed:
            before[commit.revision] = state
    return before


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.lists(commands, min_size=1, max_size=14))
def test_undoing_the_last_entry_restores_the_document_before_it(
    sequence: list[Command[Any]],
) -> None:
    facade = project()
    before = run(facade, sequence)
    entries = facade.history().value
    # One entry per commit, and none for a refused command.
    assert [e["revision"] for e in entries] == sorted(before) == list(before)
    if not entries:
        return
    last = entries[-1]
    facade.execute(Undo(revision=last["revision"]))
    assert state_of(facade) == before[last["revision"]]


@SETTINGS
@given(st.lists(commands, min_size=2, max_size=14), st.integers(min_value=0))
def test_undo_is_refused_exactly_when_a_later_entry_overlaps(
    sequence: list[Command[Any]], pick: int
) -> None:
    facade = project()
    run(facade, sequence)
    entries = facade.history().value
    if not entries:
        return
    target = entries[pick % len(entries)]
    later = [
        e["revision"]
        for e in entries
        if e["revision"] > target["revision"] and overlaps(target["changes"], e["changes"])
    ]
    try:
        facade.execute(Undo(revision=target["revision"]))
    except UndoRefused as refused:
        assert later, f"refused with no later overlap: {refused}"
        assert refused.later == later
        return
    assert not later, f"undo of {target['revision']} allowed over later {later}"
    document = facade.snapshot().document.data
    current_tag = facade.storage.state().current_tag
    # Every place it changed holds its value from before again...
    for change in target["changes"]:
        if change.get("id") is not None and change.get("field") not in (None, "#order"):
            item = find_item(document, change["tag"], change["id"])
            assert item is not None, change
            assert item.get(change["field"], MISSING) == change.get("before", MISSING), change
        if change.get("tag") is None:
            assert current_tag == change.get("before"), change
    # ...and every place a later entry changed still holds what the last of them gave it.
    kept: dict[tuple[Any, ...], Any] = {}
    for entry in entries:
        if entry["revision"] > target["revision"]:
            for change in entry["changes"]:
                kept[(change.get("tag"), change.get("id"), change.get("field"))] = change
    for (tag, item_id, field), change in kept.items():
        if tag is None:
            assert current_tag == change.get("after"), change
        elif item_id is not None and field not in (None, "#order"):
            item = find_item(document, tag, item_id)
            if item is not None:  # else removed by a later entry, which the key also names
                assert item.get(field, MISSING) == change.get("after", MISSING), change


MISSING = object()


def find_item(document: dict[str, Any], tag: str, item_id: str) -> dict[str, Any] | None:
    tasks = document.get(tag, {}).get("tasks", [])
    number, _, sub = item_id.partition(".")
    for task in tasks:
        if str(task.get("id")) == number:
            if not sub:
                return dict(task)
            for subtask in task.get("subtasks") or []:
                if str(subtask.get("id")) == sub:
                    return dict(subtask)
    return None
