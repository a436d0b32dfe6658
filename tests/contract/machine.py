"""A hypothesis state machine that drives a backend against a plain model of the project.

The model: task id -> title in `master`, the current tag, and the last revision a reader was
told about. Checked after every step, through two handles: a read returns exactly the model
at the current revision; revisions grow on every change, and stay put otherwise.
"""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from taskmaster.errors import CorruptTaskFile, RevisionMismatch
from taskmaster.model import Document
from taskmaster.storage.base import Draft, ProjectState, Storage
from tests.contract.backends import OUTSIDE_STATE_REVISION, Backend

titles = st.text(alphabet="abcdefghij ", min_size=1, max_size=12)
# "gone" names no tag of the document: the store keeps it all the same.
tags = st.sampled_from([None, "master", "feature", "gone"])


class Refused(Exception):
    pass


class ContractMachine(RuleBasedStateMachine):
    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.backend = backend
        self.model: dict[int, str] = {}
        self.state = ProjectState()
        self.store = backend.make(self._document(), self.state)
        self.other = backend.reopen(self.store)  # a second handle, as another part would hold
        self.revision = self.store.revision()
        self.corrupt = False

    def _document(self) -> Document:
        tasks = [{"id": i, "title": t, "x-extra": [1]} for i, t in sorted(self.model.items())]
        return Document(
            {"master": {"tasks": tasks, "metadata": {}}, "feature": {"tasks": [], "metadata": {}}}
        )

    def _handle(self, other: bool) -> Storage:
        return self.other if other else self.store

    def _expect_change(self, revision: int) -> None:
        assert revision > self.revision
        self.revision = revision

    def _expect_commit(self, changed: bool, commit_changed: bool, revision: int) -> None:
        assert commit_changed == changed
        if changed:
            self._expect_change(revision)
        else:
            assert revision == self.revision

    # writes through the contract -------------------------------------------------------------
    @precondition(lambda self: not self.corrupt)
    @rule(title=titles, other=st.booleans())
    def add(self, title: str, other: bool) -> None:
        def operation(draft: Draft) -> int:
            document = draft.document
            task_id = document.next_task_id("master")
            document.tasks("master").append({"id": task_id, "title": title, "x-extra": [1]})
            return task_id

        commit = self._handle(other).transact(operation)
        self.model[commit.result] = title
        self._expect_change(commit.revision)

    @precondition(lambda self: not self.corrupt and bool(self.model))
    @rule(data=st.data(), title=titles, other=st.booleans())
    def rename(self, data: st.DataObject, title: str, other: bool) -> None:
        task_id = data.draw(st.sampled_from(sorted(self.model)))

        def operation(draft: Draft) -> None:
            draft.document.task("master", task_id)["title"] = title

        commit = self._handle(other).transact(operation)
        changed = self.model[task_id] != title
        self.model[task_id] = title
        self._expect_commit(changed, commit.changed, commit.revision)

    @precondition(lambda self: not self.corrupt and bool(self.model))
    @rule(data=st.data(), other=st.booleans())
    def remove(self, data: st.DataObject, other: bool) -> None:
        task_id = data.draw(st.sampled_from(sorted(self.model)))

        def operation(draft: Draft) -> None:
            tasks = draft.document.tasks("master")
            tasks.remove(draft.document.task("master", task_id))

        self._expect_change(self._handle(other).transact(operation).revision)
        del self.model[task_id]

    @precondition(lambda self: not self.corrupt)
    @rule(tag=tags, other=st.booleans())
    def switch_tag(self, tag: str | None, other: bool) -> None:
        def operation(draft: Draft) -> None:
            draft.state = ProjectState(tag)

        commit = self._handle(other).transact(operation)
        changed = self.state != ProjectState(tag)
        self.state = ProjectState(tag)
        self._expect_commit(changed, commit.changed, commit.revision)

    @precondition(lambda self: not self.corrupt)
    @rule(title=titles, tag=tags)
    def conditional_write(self, title: str, tag: str | None) -> None:
        """A write conditioned on the revision last read: it commits, task and tag at once."""

        def operation(draft: Draft) -> int:
            document = draft.document
            task_id = document.next_task_id("master")
            document.tasks("master").append({"id": task_id, "title": title, "x-extra": [1]})
            draft.state = ProjectState(tag)
            return task_id

        commit = self.store.transact(operation, expected_revision=self.revision)
        self.model[commit.result] = title
        self.state = ProjectState(tag)
        self._expect_change(commit.revision)

    @precondition(lambda self: not self.corrupt)
    @rule(offset=st.sampled_from([-2, -1, 1]), other=st.booleans())
    def stale_write(self, offset: int, other: bool) -> None:
        with pytest.raises(RevisionMismatch):
            self._handle(other).transact(
                lambda draft: draft.document.tasks("master").clear(),
                expected_revision=self.revision + offset,
            )

    @precondition(lambda self: not self.corrupt)
    @rule(other=st.booleans())
    def look_only(self, other: bool) -> None:
        commit = self._handle(other).transact(lambda draft: len(draft.document.tasks("master")))
        assert commit.result == len(self.model)
        self._expect_commit(False, commit.changed, commit.revision)

    @precondition(lambda self: not self.corrupt)
    @rule(tag=tags)
    def refused_operation(self, tag: str | None) -> None:
        def operation(draft: Draft) -> None:
            draft.document.tasks("master").clear()
            draft.state = ProjectState(tag)
            raise Refused

        with pytest.raises(Refused):
            self.store.transact(operation)
        assert self.store.revision() == self.revision

    # other programs --------------------------------------------------------------------------
    @precondition(lambda self: not self.corrupt)
    @rule(title=titles)
    def outside_change(self, title: str) -> None:
        """Another program (an editor, the Node tool) rewrites the document."""
        self.model[max(self.model, default=0) + 1] = title
        self.backend.outside_change(self.store, self._document())
        self._expect_change(self.store.revision())

    @precondition(
        lambda self: not self.corrupt and OUTSIDE_STATE_REVISION not in self.backend.known_gaps
    )
    @rule(tag=tags)
    def outside_state_change(self, tag: str | None) -> None:
        """Another program chooses the current tag (the reference tool's `use-tag`)."""
        self.state = ProjectState(tag)
        self.backend.outside_change(self.store, state=self.state)
        self._expect_change(self.store.revision())

    @precondition(lambda self: not self.corrupt and self.backend.corruptible)
    @rule()
    def corrupt_the_document(self) -> None:
        self.backend.corrupt(self.store)
        self.corrupt = True
        self._expect_change(self.store.revision())

    @precondition(lambda self: self.corrupt)
    @rule(other=st.booleans(), tag=tags)
    def refused_while_corrupt(self, other: bool, tag: str | None) -> None:
        handle = self._handle(other)
        raw = self.backend.stored_bytes(self.store)

        def operation(draft: Draft) -> None:
            draft.document.tasks("master").clear()
            draft.state = ProjectState(tag)

        with pytest.raises(CorruptTaskFile):
            handle.read()
        with pytest.raises(CorruptTaskFile):
            handle.transact(operation)
        assert self.backend.stored_bytes(self.store) == raw
        assert handle.revision() == self.revision
        assert handle.state() == self.state

    @precondition(lambda self: self.corrupt)
    @rule()
    def repair(self) -> None:
        self.backend.outside_change(self.store, self._document())
        self.corrupt = False
        self._expect_change(self.store.revision())

    # checked after every step ----------------------------------------------------------------
    @invariant()
    def reads_match_the_model(self) -> None:
        for handle in (self.store, self.other):
            assert handle.revision() == self.revision
            assert handle.state() == self.state
            if self.corrupt:
                continue
            snapshot = handle.read()
            assert (snapshot.revision, snapshot.state) == (self.revision, self.state)
            tasks = snapshot.document.tasks("master")
            assert {task["id"]: task["title"] for task in tasks} == self.model
            assert all(task["x-extra"] == [1] for task in tasks)
            assert snapshot.document.tasks("feature") == []

    def teardown(self) -> None:
        self.store.close()
        self.other.close()
