"""A document as rows, and the rows a command changed (`taskmaster.storage.rows`): pure logic,
no database.

The property that matters: whatever an operation does to the tracked document, the rows
written for it rebuild exactly the document a plain copy reaches through the same operation,
byte for byte, and a document rebuilt from the rows alone is the same again. If a mutation
escaped the tracking, the rows would miss it and these tests would fail.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
from collections.abc import Iterator

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import documents
from test_ops_properties import WRITES

from taskmaster.errors import TaskMasterError
from taskmaster.model import Document
from taskmaster.storage.rows import (
    RowImage,
    Working,
    _positions,
    document_from_parts,
    rows_of,
)
from taskmaster.storage.tracking import Mark, Marks, TrackedDict, track


class Rows:
    """A store of rows in memory: what the PostgreSQL backend does, minus the database."""

    def __init__(self, document: Document) -> None:
        entries, tasks = rows_of(Document.from_json(document.to_json()))
        self.image = RowImage.from_rows(1, None, document.flat, entries, tasks)
        self.numbers: Iterator[int] = itertools.count(len(entries) + len(tasks) + 1)
        self.working = Working(self.image)
        self.written = 0

    def commit(self) -> None:
        changes = self.working.changes(self.image, self.numbers)
        self.written = len(changes.tasks) + len(changes.deleted_tasks)
        flat = self.image.flat if changes.flat is None else changes.flat
        if changes:
            self.image.apply(self.image.revision + 1, None, flat, changes)
        self.working.committed(self.image)

    def rebuilt(self) -> bytes:
        data = document_from_parts(self.image.parts(), self.image.flat)
        return Document(data, flat=self.image.flat).to_json()


def plain(document: Document) -> Document:
    return Document(orjson.loads(document.to_json()), flat=document.flat)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    doc=documents(),
    data=st.data(),
    names=st.lists(st.sampled_from(sorted(WRITES)), min_size=1, max_size=8),
)
def test_the_rows_written_rebuild_what_the_operations_made(
    doc: Document, data: st.DataObject, names: list[str]
) -> None:
    reference = plain(doc)
    rows = Rows(doc)
    assert rows.rebuilt() == reference.to_json()
    for name in names:
        call = WRITES[name](data, reference)
        expected = plain(reference)
        try:
            call(expected)
        except TaskMasterError:
            expected = plain(reference)
            with contextlib.suppress(TaskMasterError):
                call(rows.working.document)
            # A failed operation may have changed the tracked document half-way: the backend
            # then builds a new one from the rows, as here.
            if rows.working.touched:
                rows.working = Working(rows.image)
        else:
            call(rows.working.document)
            rows.commit()
        reference = expected
        assert rows.working.document.to_json() == reference.to_json(), name
        assert rows.rebuilt() == reference.to_json(), name
        assert Working(rows.image).document.to_json() == reference.to_json(), name
        assert not rows.working.touched


def test_changing_one_task_of_many_writes_one_row() -> None:
    doc = Document({"master": {"tasks": [{"id": n, "title": f"t{n}"} for n in range(1, 501)]}})
    rows = Rows(doc)
    rows.working.document.tasks("master")[250]["status"] = "done"
    rows.commit()
    assert rows.written == 1
    rows.working.document.tasks("master").pop(0)  # the first of 500: the others keep places
    rows.commit()
    assert rows.written == 1
    task = rows.working.document.tasks("master").pop()
    rows.working.document.tasks("master").insert(0, task)  # the last moved to the front
    rows.commit()
    assert rows.written == 1
    assert rows.rebuilt() == rows.working.document.to_json()


def test_a_nested_change_marks_its_task() -> None:
    marks = Marks()
    task = track({"id": 1, "subtasks": [{"id": 1, "deps": []}]}, Mark(marks.tasks, 7))
    task["subtasks"][0]["deps"].append(3)
    assert marks.tasks == {7}


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.__setitem__("k", 1),
        lambda d: d.pop("a"),
        lambda d: d.popitem(),
        lambda d: d.setdefault("new", 1),
        lambda d: d.update(k=1),
        lambda d: d.clear(),
        lambda d: d.__delitem__("a"),
        lambda d: d.__ior__({"k": 1}),
        lambda d: d["list"].append(1),
        lambda d: d["list"].extend([1]),
        lambda d: d["list"].insert(0, 1),
        lambda d: d["list"].pop(),
        lambda d: d["list"].remove(2),
        lambda d: d["list"].clear(),
        lambda d: d["list"].sort(),
        lambda d: d["list"].reverse(),
        lambda d: d["list"].__iadd__([1]),
        lambda d: d["list"].__imul__(2),
        lambda d: d["list"].__setitem__(0, 9),
        lambda d: d["list"].__delitem__(slice(0, 1)),
    ],
)
def test_every_mutating_method_marks(mutate: object) -> None:
    marks = Marks()
    value = track({"a": 1, "list": [3, 2]}, Mark(marks.tasks, 1))
    mutate(value)  # type: ignore[operator]
    assert marks.tasks == {1}


def test_copies_are_plain_and_untied() -> None:
    marks = Marks()
    value = track({"a": {"b": [1]}}, Mark(marks.tasks, 1))
    for duplicate in (copy.copy(value), copy.deepcopy(value)):
        assert type(duplicate) is dict
    deep = copy.deepcopy(value)
    deep["a"]["b"].append(2)
    assert marks.tasks == set()
    assert isinstance(value["a"], TrackedDict)


@given(st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), max_size=30))
def test_positions_keep_order_and_keep_what_they_can(old: list[float | None]) -> None:
    new = _positions(old)
    assert len(new) == len(old)
    assert all(a < b for a, b in itertools.pairwise(new))
