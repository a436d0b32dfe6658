"""A hypothesis state machine drives FileStorage against a plain dict model."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from taskmaster.errors import CorruptTaskFile
from taskmaster.model import Document
from taskmaster.storage.file import FileStorage

titles = st.text(alphabet="abcdefghij ", min_size=1, max_size=12)


class Refused(Exception):
    pass


class StorageMachine(RuleBasedStateMachine):
    """The model: task id -> title, plus the last revision a reader was told about.

    Checked after every step: the file holds exactly the model; a read returns the model and
    the current revision; revisions grow on every change and stay put otherwise.
    """

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="tm-state-"))
        self.path = self.directory / "tasks.json"
        self.storage = FileStorage(self.path)
        self.storage.create(Document.empty())
        self.other = FileStorage(self.path)  # a second handle, as another process would hold
        self.model: dict[int, str] = {}
        self.revision = self.storage.revision()
        self.corrupt: bytes | None = None

    def teardown(self) -> None:
        self.storage.close()
        self.other.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _expect_change(self, revision: int) -> None:
        assert revision > self.revision
        self.revision = revision

    @precondition(lambda self: self.corrupt is None)
    @rule(title=titles)
    def add(self, title: str) -> None:
        def operation(document: Document) -> int:
            task_id = document.next_task_id("master")
            document.tasks("master").append({"id": task_id, "title": title, "x-extra": [1]})
            return task_id

        commit = self.storage.transact(operation)
        self.model[commit.result] = title
        self._expect_change(commit.revision)

    @precondition(lambda self: self.corrupt is None and bool(self.model))
    @rule(data=st.data(), title=titles)
    def rename(self, data: st.DataObject, title: str) -> None:
        task_id = data.draw(st.sampled_from(sorted(self.model)))

        def operation(document: Document) -> None:
            document.task("master", task_id)["title"] = title

        commit = self.other.transact(operation)
        changed = self.model[task_id] != title
        self.model[task_id] = title
        assert commit.changed == changed
        if changed:
            self._expect_change(commit.revision)
        else:
            assert commit.revision == self.revision

    @precondition(lambda self: self.corrupt is None and bool(self.model))
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        task_id = data.draw(st.sampled_from(sorted(self.model)))

        def operation(document: Document) -> None:
            tasks = document.tasks("master")
            tasks.remove(document.task("master", task_id))

        self._expect_change(self.storage.transact(operation).revision)
        del self.model[task_id]

    @precondition(lambda self: self.corrupt is None)
    @rule()
    def refused_operation(self) -> None:
        def operation(document: Document) -> None:
            document.tasks("master").clear()
            raise Refused

        with pytest.raises(Refused):
            self.storage.transact(operation)
        assert self.storage.revision() == self.revision

    @precondition(lambda self: self.corrupt is None)
    @rule(title=titles, in_place=st.booleans())
    def external_write(self, title: str, in_place: bool) -> None:
        """Another program (an editor, the Node tool) rewrites the file without our lock."""
        task_id = max(self.model, default=0) + 1
        self.model[task_id] = title
        tasks = [{"id": i, "title": t, "x-extra": [1]} for i, t in sorted(self.model.items())]
        data = orjson.dumps({"master": {"tasks": tasks}})
        if in_place:
            with open(self.path, "r+b") as handle:
                handle.truncate(0)
                handle.write(data)
        else:
            tmp = self.directory / "editor.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, self.path)
        self._expect_change(self.storage.revision())

    @precondition(lambda self: self.corrupt is None)
    @rule()
    def mark_changed(self) -> None:
        """A revision of the sidecar alone (the current tag changed): both handles see it."""
        self._expect_change(self.other.mark_changed())

    @precondition(lambda self: self.corrupt is None)
    @rule(cut=st.integers(min_value=1, max_value=40))
    def corrupt_the_file(self, cut: int) -> None:
        raw = self.path.read_bytes().rstrip()  # cutting only whitespace would corrupt nothing
        self.corrupt = raw[: max(1, len(raw) - cut)]
        self.path.write_bytes(self.corrupt)

    @precondition(lambda self: self.corrupt is not None)
    @rule(title=titles)
    def writes_are_refused_while_corrupt(self, title: str) -> None:
        with pytest.raises(CorruptTaskFile):
            self.storage.transact(lambda document: document.tasks("master").clear())
        assert self.path.read_bytes() == self.corrupt

    @precondition(lambda self: self.corrupt is not None)
    @rule()
    def repair(self) -> None:
        tasks = [{"id": i, "title": t, "x-extra": [1]} for i, t in sorted(self.model.items())]
        self.path.write_bytes(orjson.dumps({"master": {"tasks": tasks}}))
        self.corrupt = None
        self._expect_change(self.storage.revision())

    @precondition(lambda self: self.corrupt is None)
    @invariant()
    def reads_match_the_model(self) -> None:
        for storage in (self.storage, self.other):
            snapshot = storage.read()
            assert snapshot.revision == self.revision
            tasks = snapshot.document.tasks("master")
            assert {task["id"]: task["title"] for task in tasks} == self.model
            assert all(task["x-extra"] == [1] for task in tasks)


StorageMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestFileStorageStateMachine = StorageMachine.TestCase
