"""Group commit (`Storage.transact_all`): several operations, one write, each its own outcome.

Every backend gives the same outcomes as running the steps one after another: a backend that
writes them together (the file) must not let one step's failure or condition leak into
another's, and must give each changing step its own revision and journal entry.
"""

from __future__ import annotations

from typing import Any

import pytest

from taskmaster.errors import RevisionMismatch, TaskNotFound
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
