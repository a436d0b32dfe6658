"""Group commit (`Storage.transact_all`): several operations, one write, each its own outcome.

Every backend gives the same outcomes as running the steps one after another: a backend that
writes them together (the file) must not let one step's failure or condition leak into
another's, and must give each changing step its own revision and journal entry.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from taskmaster.commands.base import Command, Work
from taskmaster.commands.dependencies import AddDependency, FixDependencies, RemoveDependency
from taskmaster.commands.history import Undo
from taskmaster.commands.moves import Move, MoveToTag, PlaceBefore
from taskmaster.commands.subtasks import AddSubtask, ClearSubtasks, ConvertToSubtask, RemoveSubtask
from taskmaster.commands.tags import AddTag, CopyTag, DeleteTag, RenameTag, UseTag
from taskmaster.commands.tasks import AddTask, RemoveTask, SetStatus, UpdateTask
from taskmaster.errors import RevisionMismatch, TaskNotFound
from taskmaster.model import Document, TaskId
from taskmaster.storage.base import Commit, Draft, Step, Storage
from tests.contract.backends import Backend


def _add(title: str) -> Any:
    def operation(draft: Draft) -> int:
        document = draft.document
        task_id = document.next_task_id("master")
        document.tasks("master").append({"id": task_id, "title": title, "status": "pending"})
        return task_id

    return operation


def _fail_after_changing(draft: Draft) -> None:
    draft.document.tasks("master").append({"id": 999, "title": "half done"})
    draft.document.tasks("master")[0]["title"] = "scribbled"
    raise TaskNotFound.for_id(7, "master")


def _nothing(draft: Draft) -> str:
    return "looked"


def _titles(store: Storage) -> list[str]:
    return [task["title"] for task in store.read().document.tasks("master")]


def test_steps_apply_in_order_each_with_its_own_revision_and_entry(backend: Backend) -> None:
    store = backend.make()
    base = store.revision()
    outcomes = store.transact_all([Step(_add("a")), Step(_add("b")), Step(_add("c"))])
    assert all(isinstance(o, Commit) and o.changed for o in outcomes)
    commits = [o for o in outcomes if isinstance(o, Commit)]
    assert [c.result for c in commits] == [1, 2, 3]  # each saw the ones before it
    revisions = [c.revision for c in commits]
    assert base < revisions[0] < revisions[1] < revisions[2] == store.revision()
    assert _titles(store) == ["a", "b", "c"]
    entries = store.history(base)
    assert [e["revision"] for e in entries] == revisions
    added = [[c.get("after", {}).get("title") for c in e["changes"]] for e in entries]
    assert added == [["a"], ["b"], ["c"]]


def test_a_failing_step_changes_nothing_and_the_others_commit(backend: Backend) -> None:
    store = backend.make()
    store.transact(_add("first"))
    base = store.revision()
    outcomes = store.transact_all([Step(_add("a")), Step(_fail_after_changing), Step(_add("b"))])
    assert isinstance(outcomes[1], TaskNotFound)
    assert [o.result for o in outcomes if isinstance(o, Commit)] == [2, 3]
    assert _titles(store) == ["first", "a", "b"]  # neither the task nor the title it scribbled
    entries = store.history(base)
    assert len(entries) == 2
    assert all("half done" not in str(e["changes"]) for e in entries)
    # the kept document (where there is one) was rebuilt too: the next write starts clean
    store.transact(_add("after"))
    assert _titles(store) == ["first", "a", "b", "after"]


def test_each_step_has_its_own_condition(backend: Backend) -> None:
    store = backend.make()
    base = store.revision()
    outcomes = store.transact_all(
        [Step(_add("a"), expected_revision=base), Step(_add("b"), expected_revision=base)]
    )
    first, second = outcomes
    assert isinstance(first, Commit) and first.changed
    # the second step's condition is checked against the revision the first one made
    assert isinstance(second, RevisionMismatch)
    assert _titles(store) == ["a"]
    chained = store.transact_all([Step(_add("b"), expected_revision=first.revision)])
    assert isinstance(chained[0], Commit) and chained[0].changed


def test_a_step_that_changes_nothing_reports_the_revision_it_saw(backend: Backend) -> None:
    store = backend.make()
    base = store.revision()
    outcomes = store.transact_all([Step(_nothing), Step(_add("a")), Step(_nothing)])
    looked_before, added, looked_after = outcomes
    assert isinstance(looked_before, Commit) and not looked_before.changed
    assert looked_before.revision == base
    assert isinstance(added, Commit) and added.changed
    assert isinstance(looked_after, Commit) and not looked_after.changed
    assert looked_after.revision == added.revision
    assert len(store.history(base)) == 1


def test_a_group_that_changes_nothing_writes_nothing(backend: Backend) -> None:
    store = backend.make()
    base = store.revision()
    outcomes = store.transact_all([Step(_nothing), Step(_fail_after_changing)])
    assert isinstance(outcomes[0], Commit) and not outcomes[0].changed
    assert isinstance(outcomes[1], TaskNotFound)
    assert store.revision() == base
    assert store.history(base) == []


@pytest.mark.parametrize("size", [2, 17])
def test_a_group_gives_what_the_steps_one_by_one_give(backend: Backend, size: int) -> None:
    grouped, alone = backend.make(), backend.make()
    steps = [
        Step(_fail_after_changing if i % 5 == 3 else _add(f"t{i}") if i % 3 else _nothing)
        for i in range(size)
    ]
    together = grouped.transact_all(steps)
    separately = []
    for step in steps:
        try:
            separately.append(alone.transact(step.operation))
        except Exception as err:
            separately.append(err)
    assert [type(o) for o in together] == [type(o) for o in separately]
    assert [getattr(o, "result", None) for o in together] == [
        getattr(o, "result", None) for o in separately
    ]
    assert grouped.read().document.data == alone.read().document.data
    assert len(grouped.history()) == len(alone.history())


# Any mix of commands, grouped or one by one: tasks and subtasks added, changed, removed and
# moved between tags, tags added, renamed, deleted and switched to, failures among them. The
# grouped store is also read through a second handle: what a backend wrote (its rows, its file)
# must be the document, not only what the writing instance keeps in memory.
_NOW = "2026-12-03T12:00:00.000Z"
UNDO_LAST = "undo the last commit"
"""Drawn like a command: `Undo` of whatever revision the step finds current (within a group,
the commit of the step before it), which the history of each store numbers its own way."""


_ids = st.integers(1, 6)
_tag_names = st.sampled_from(["master", "feature", "later"])
_commands = st.one_of(
    st.builds(
        lambda title, tag: AddTask(values={"title": title}, tag=tag),
        st.text(alphabet="abc ", min_size=1, max_size=6),
        st.sampled_from([None, "feature"]),
    ),
    st.builds(
        lambda task, status: SetStatus(ids=(TaskId(task),), status=status),
        _ids,
        st.sampled_from(["done", "pending", "in-progress"]),
    ),
    st.builds(lambda task: RemoveTask(ids=(TaskId(task),)), _ids),
    st.builds(
        lambda task, title: UpdateTask(id=TaskId(task), fields={"title": title}),
        _ids,
        st.sampled_from(["x", "y"]),
    ),
    st.builds(
        lambda task, other: AddDependency(id=TaskId(task), depends_on=TaskId(other)), _ids, _ids
    ),
    st.builds(lambda parent: AddSubtask(parent=parent, values={"title": "sub"}), _ids),
    st.builds(lambda task, tag: MoveToTag(ids=(task,), to_tag=tag), _ids, _tag_names),
    st.builds(lambda tag: AddTag(tag=tag), _tag_names),
    st.builds(lambda old, new: RenameTag(old=old, new=new), _tag_names, _tag_names),
    st.builds(lambda tag: DeleteTag(tag=tag), _tag_names),
    st.builds(lambda tag: UseTag(tag=tag), _tag_names),
    st.builds(lambda source, target: CopyTag(source=source, target=target), _tag_names, _tag_names),
    st.builds(lambda parent: RemoveSubtask(ids=(TaskId(parent, 1),)), _ids),
    st.builds(lambda parent: ClearSubtasks(ids=(parent,)), _ids),
    st.builds(lambda task, parent: ConvertToSubtask(id=task, parent=parent), _ids, _ids),
    st.builds(
        lambda a, b: Move(sources=(TaskId(a),), targets=(TaskId(b),)), _ids, st.integers(1, 9)
    ),
    st.builds(lambda a, b: PlaceBefore(id=TaskId(a), before=TaskId(b)), _ids, _ids),
    st.builds(
        lambda task, other: RemoveDependency(id=TaskId(task), depends_on=TaskId(other)), _ids, _ids
    ),
    st.just(FixDependencies()),
    st.just(UNDO_LAST),
)


def _applying(command: Command[Any] | str) -> Any:
    if command == UNDO_LAST:
        return lambda draft: Undo(revision=draft.revision).apply(Work(draft, _NOW))
    assert isinstance(command, Command)
    return lambda draft: command.apply(Work(draft, _NOW))


def _start(flat: bool) -> Document:
    """Three tasks, in a tagged file or in a flat one (the layout before tags, which a tag
    added turns into a tagged file)."""
    tasks = [{"id": i, "title": f"t{i}", "status": "pending"} for i in (1, 2, 3)]
    if flat:
        return Document({"tasks": tasks}, flat=True)
    return Document({"master": {"tasks": tasks}, "feature": {"tasks": []}})


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(commands=st.lists(_commands, min_size=2, max_size=12), flat=st.booleans())
def test_any_group_of_commands_gives_what_they_give_one_by_one(
    backend: Backend, commands: list[Command[Any]], flat: bool
) -> None:
    note(f"commands: {commands!r}, flat: {flat}")
    grouped, alone = backend.make(_start(flat)), backend.make(_start(flat))
    second = backend.reopen(grouped)
    second.read()  # a reader that catches up later from what it holds
    opened = [grouped, alone, second]
    try:
        _check_grouped_as_alone(grouped, alone, second, commands)
        fresh = backend.reopen(grouped)  # and one that reads everything at once
        opened.append(fresh)
        assert fresh.read().document.data == alone.read().document.data
    finally:  # hypothesis runs many examples in one test: each closes what it opened
        for store in {id(store): store for store in opened}.values():
            store.close()


def _results(outcomes: list[Any], store: Storage) -> list[Any]:
    """Each commit's result and whether it changed something; the revision an undo names as
    its position in the store's history (each store numbers its revisions its own way)."""
    revisions = [0] + [entry["revision"] for entry in store.history()]
    found = []
    for outcome in outcomes:
        if isinstance(outcome, Commit):
            result = outcome.result
            if isinstance(result, dict) and "undone" in result:
                result = {**result, "undone": revisions.index(result["undone"])}
            found.append((result, outcome.changed))
    return found


def _check_grouped_as_alone(
    grouped: Storage, alone: Storage, second: Storage, commands: list[Command[Any]]
) -> None:
    together = grouped.transact_all([Step(_applying(command)) for command in commands])
    separately: list[Any] = []
    for command in commands:
        try:
            separately.append(alone.transact(_applying(command)))
        except Exception as err:
            separately.append(err)
    assert [type(o) for o in together] == [type(o) for o in separately]
    assert _results(together, grouped) == _results(separately, alone)
    expected = alone.read().document.data
    assert grouped.read().document.data == expected
    assert grouped.state() == alone.state()
    stored = second.read()
    assert stored.document.data == expected
    assert stored.revision == grouped.revision()
    assert second.state() == alone.state()
    assert [e["changes"] for e in grouped.history()] == [e["changes"] for e in alone.history()]


class _Abort(BaseException):
    """Ends a group mid-way: no step of a backend that writes the group at once commits."""


def test_a_read_during_a_group_sees_only_what_is_committed(backend: Backend) -> None:
    store = backend.make()
    seen: list[list[str]] = []

    def look(draft: Draft) -> None:
        seen.append(_titles(store))  # another reader of this process, mid-group

    def abort(draft: Draft) -> None:
        raise _Abort

    with pytest.raises(_Abort):
        store.transact_all([Step(_add("a")), Step(look), Step(abort)])
    # A backend that writes the group at once committed nothing, one that commits each step
    # committed "a": either way the reader saw exactly what stayed.
    assert seen == [_titles(store)]


def test_an_aborted_group_leaves_no_trace_once_another_writer_reaches_its_revisions(
    backend: Backend,
) -> None:
    store = backend.make()
    other = backend.reopen(store)

    def abort(draft: Draft) -> None:
        raise _Abort

    with pytest.raises(_Abort):
        store.transact_all([Step(_add("a")), Step(_add("b")), Step(abort)])
    other.transact(_add("y"))
    other.transact(_add("z"))  # the revisions the aborted group would have had
    # What the instance that aborted reads is what is stored: for a backend that writes a
    # group at once, "y" and "z" alone; for one that commits each step, "a" and "b" before.
    assert _titles(store) == _titles(backend.reopen(store))
    assert _titles(store)[-2:] == ["y", "z"]


# A task moved to another tag is the same object in its new list: a result that holds it must
# not go on changing with the kept document.
_MOVE = MoveToTag(ids=(1,), to_tag="feature")
_DONE = SetStatus(ids=(TaskId(1),), status="done", tag="feature")


def test_a_result_stays_as_its_step_left_it_when_a_later_step_changes_the_same_task(
    backend: Backend,
) -> None:
    store = backend.make(_start(flat=False))
    moved, done = store.transact_all([Step(_applying(_MOVE)), Step(_applying(_DONE))])
    assert isinstance(moved, Commit) and isinstance(done, Commit)
    assert [task["status"] for task in moved.result] == ["pending"]
    assert [task["status"] for task in done.result] == ["done"]


def test_a_result_stays_as_its_commit_left_it_when_a_later_commit_changes_the_task(
    backend: Backend,
) -> None:
    store = backend.make(_start(flat=False))
    moved = store.transact(_applying(_MOVE)).result
    store.transact(_applying(_DONE))  # a process that keeps its document changes it again
    assert [task["status"] for task in moved] == ["pending"]


def test_a_journal_entry_holds_what_its_step_left_when_a_later_step_changes_it(
    backend: Backend,
) -> None:
    store = backend.make(_start(flat=False))
    base = store.revision()
    store.transact_all([Step(_applying(_MOVE)), Step(_applying(_DONE))])
    move, done = store.history(base)
    moved = [c for c in move["changes"] if c["id"] == "1" and c["field"] is None]
    assert [c["tag"] for c in moved] == ["master", "feature"]  # removed there, added here
    assert moved[0]["before"] == moved[1]["after"] == {"id": 1, "title": "t1", "status": "pending"}
    assert [(c["before"], c["after"]) for c in done["changes"] if c["field"] == "status"] == [
        ("pending", "done")
    ]


def test_an_undo_later_in_the_group_leaves_the_entry_it_took_back_as_it_was(
    backend: Backend,
) -> None:
    store = backend.make(_start(flat=False))
    base = store.revision()
    outcomes = store.transact_all(
        [Step(_applying(DeleteTag(tag="feature"))), Step(_applying(UNDO_LAST))]
    )
    assert all(isinstance(o, Commit) and o.changed for o in outcomes)
    deleted, undone = store.history(base)
    assert undone["revision"] > deleted["revision"]
    # The undo put the tag back and stamped it; the deletion's entry still shows it as deleted.
    assert deleted["changes"] == [
        {"tag": "feature", "id": None, "field": None, "before": {"tasks": []}}
    ]
    assert "feature" in store.read().document.data
