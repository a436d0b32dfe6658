"""The contract on one store: transactions, revisions, state, create, optimistic writes."""

from __future__ import annotations

import pytest

from taskmaster.errors import RevisionMismatch, TaskFileMissing
from taskmaster.model import Document
from taskmaster.storage.base import Draft, ProjectState, Storage
from tests.contract.backends import Backend, empty_document
from tests.contract.operations import add_task, switch_to, titles


def test_a_transaction_commits_and_returns_the_result_and_a_larger_revision(
    backend: Backend,
) -> None:
    store = backend.make()
    before = store.revision()
    commit = store.transact(add_task("one"))
    assert (commit.result, commit.changed) == (1, True)
    assert commit.revision > before
    assert store.revision() == commit.revision
    snapshot = store.read()
    assert snapshot.revision == commit.revision
    assert [task["title"] for task in snapshot.document.tasks("master")] == ["one"]


def test_every_commit_takes_a_larger_revision_and_every_read_sees_it(backend: Backend) -> None:
    store = backend.make()
    revisions = [store.revision()]
    for i in range(30):
        commit = store.transact(add_task(f"t{i}"))
        assert commit.revision > revisions[-1]
        revisions.append(commit.revision)
        assert titles(store)[-1] == f"t{i}"  # read after write sees the write


def test_the_draft_is_the_stored_document_state_and_revision(backend: Backend) -> None:
    store = backend.make(state=ProjectState("feature"))
    store.transact(add_task("there"))
    seen: list[tuple[list[str], ProjectState, int]] = []

    def look(draft: Draft) -> None:
        seen.append(
            (
                [task["title"] for task in draft.document.tasks("master")],
                draft.state,
                draft.revision,
            )
        )

    commit = store.transact(look)
    assert seen == [(["there"], ProjectState("feature"), store.revision())]
    assert commit.revision == store.revision()


def test_an_operation_that_changes_nothing_commits_nothing(backend: Backend) -> None:
    store = backend.make()
    store.transact(add_task("one"))
    revision = store.revision()
    commit = store.transact(lambda draft: len(draft.document.tasks("master")))
    assert (commit.result, commit.revision, commit.changed) == (1, revision, False)
    same_state = store.transact(switch_to(None))
    assert (same_state.revision, same_state.changed) == (revision, False)
    assert store.revision() == revision
    assert titles(store) == ["one"]


def test_an_operation_that_raises_commits_nothing(backend: Backend) -> None:
    store = backend.make()
    store.transact(add_task("keep"))
    revision = store.revision()

    def fail(draft: Draft) -> None:
        draft.document.tasks("master").clear()
        draft.state = ProjectState("feature")
        raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError, match="changed my mind"):
        store.transact(fail)
    assert store.revision() == revision
    assert titles(store) == ["keep"]
    assert store.state() == ProjectState()
    assert store.transact(add_task("after")).revision > revision  # the store is not wedged


def test_a_change_of_state_alone_is_a_commit(backend: Backend) -> None:
    store = backend.make()
    before = store.read()
    commit = store.transact(switch_to("feature"))
    assert commit.changed
    assert commit.revision > before.revision
    assert store.state() == ProjectState("feature")
    snapshot = store.read()
    assert (snapshot.state, snapshot.revision) == (ProjectState("feature"), commit.revision)
    assert snapshot.document.to_json() == before.document.to_json()
    assert backend.reopen(store).state() == ProjectState("feature")
    back = store.transact(switch_to(None))
    assert back.changed and back.revision > commit.revision
    assert store.state() == ProjectState(None)


def test_the_state_may_name_a_tag_the_document_does_not_have(backend: Backend) -> None:
    """Whether the current tag exists is the facade's question, not the store's."""
    store = backend.make()
    store.transact(switch_to("gone"))
    assert store.state() == ProjectState("gone")
    assert store.read().document.tag_names() == ["master", "feature"]


def test_document_and_state_change_in_one_transaction(backend: Backend) -> None:
    store = backend.make()
    before = store.revision()

    def both(draft: Draft) -> str:
        draft.document.tasks("feature").append({"id": 1, "title": "on feature"})
        draft.state = ProjectState("feature")
        return "done"

    commit = store.transact(both)
    assert (commit.result, commit.changed) == ("done", True)
    assert commit.revision > before
    snapshot = backend.reopen(store).read()
    assert snapshot.state == ProjectState("feature")
    assert snapshot.revision == commit.revision
    assert [task["title"] for task in snapshot.document.tasks("feature")] == ["on feature"]


def test_a_write_at_the_expected_revision_commits(backend: Backend) -> None:
    store = backend.make()
    revision = store.revision()
    commit = store.transact(add_task("guarded"), expected_revision=revision)
    assert commit.changed and commit.revision > revision
    assert titles(store) == ["guarded"]


@pytest.mark.parametrize("offset", [-1, 1])
def test_a_write_at_another_revision_is_refused_and_writes_nothing(
    backend: Backend, offset: int
) -> None:
    store = backend.make()
    store.transact(add_task("one"))
    revision = store.revision()
    ran: list[bool] = []

    def operation(draft: Draft) -> None:
        ran.append(True)
        draft.document.tasks("master").clear()

    with pytest.raises(RevisionMismatch) as caught:
        store.transact(operation, expected_revision=revision + offset)
    assert (caught.value.expected, caught.value.current) == (revision + offset, revision)
    assert ran == []
    assert store.revision() == revision
    assert titles(store) == ["one"]


def test_a_write_read_before_an_outside_change_is_refused(backend: Backend) -> None:
    store = backend.make()
    read_at = store.read().revision
    backend.outside_change(store)
    with pytest.raises(RevisionMismatch):
        store.transact(add_task("stale"), expected_revision=read_at)
    assert titles(store) == ["changed outside"]


def test_what_a_caller_holds_is_never_the_stored_copy(backend: Backend) -> None:
    store = backend.make()
    store.transact(add_task("stored"))
    snapshot = store.read()
    snapshot.document.tasks("master").clear()
    kept: list[Document] = []
    store.transact(lambda draft: kept.append(draft.document))
    kept[0].tasks("master").append({"id": 9, "title": "after the transaction"})
    assert titles(store) == ["stored"]


def test_before_create_there_is_nothing_to_read_or_write(backend: Backend) -> None:
    store = backend.blank()
    with pytest.raises(TaskFileMissing):
        store.read()
    with pytest.raises(TaskFileMissing):
        store.transact(add_task("x"))
    with pytest.raises(TaskFileMissing):  # the failed transaction created nothing
        store.read()


def test_create_makes_the_store_from_the_document_and_state(backend: Backend) -> None:
    store = backend.blank()
    document = empty_document()
    document.tasks("master").append({"id": 1, "title": "first"})
    created = store.create(document, ProjectState("feature"))
    assert created and all(isinstance(part, str) for part in created)
    snapshot = store.read()
    assert snapshot.document.to_json() == document.to_json()
    assert snapshot.state == ProjectState("feature") == store.state()
    assert snapshot.revision == store.revision()
    assert store.transact(add_task("second")).revision > snapshot.revision


def test_create_on_an_existing_store_creates_nothing(backend: Backend) -> None:
    store = backend.make(state=ProjectState("feature"))
    store.transact(add_task("existing"))
    before = store.read()
    other = Document.empty()
    other.tasks("master").append({"id": 1, "title": "would overwrite"})
    assert store.create(other, ProjectState("master")) == []
    assert backend.reopen(store).create(other, ProjectState(None)) == []
    after = store.read()
    assert after.document.to_json() == before.document.to_json()
    assert (after.state, after.revision) == (before.state, before.revision)


def test_the_key_names_the_store_for_every_handle(backend: Backend) -> None:
    store = backend.make()
    assert backend.reopen(store).key == store.key
    assert backend.make().key != store.key
    description = store.describe()
    assert description["backend"] == (backend.described or backend.name)
    assert description["location"]


def test_close_is_idempotent(backend: Backend) -> None:
    store = backend.make()
    feed = store.changes(lambda revision: None)
    feed.start()
    store.close()
    store.close()
    feed.stop()
    assert not feed.running


def _settled_epoch(store: Storage) -> int | None:
    """The change epoch once the store's reads have seen what is there (each check drains what
    the last change left queued; a replaced file's old watch goes a check later)."""
    for _ in range(5):
        store.revision()
        store.state()
        epoch = store.change_epoch()
        if epoch is not None:
            return epoch
    return None


def test_the_change_epoch_ends_with_every_commit_and_every_outside_change(
    backend: Backend,
) -> None:
    store = backend.make()
    first = _settled_epoch(store)
    if first is None:  # a store that keeps no epoch never shows one: every read is checked
        store.transact(add_task("one"))
        assert _settled_epoch(store) is None and store.change_epoch() is None
        return
    assert store.change_epoch() == first  # nothing changed: the same epoch
    store.transact(add_task("one"))
    assert store.change_epoch() != first
    second = _settled_epoch(store)
    assert second is not None and second != first
    backend.outside_change(store)
    assert store.change_epoch() != second
    third = _settled_epoch(store)
    assert third is not None and third != second
    backend.outside_change(store, state=ProjectState("feature"))
    assert store.change_epoch() != third
