"""set_status and the parent recompute rules (each rule from the facts file on its own)."""

from __future__ import annotations

import time

import pytest
from strategies import make_doc, make_subtask, make_task

from taskmaster.errors import InvalidInput, TaskNotFound
from taskmaster.model import Document, TaskId
from taskmaster.ops import set_status

T = TaskId.parse


def _parent_with(*statuses: str, parent_status: str = "review") -> Document:
    subs = [make_subtask(index, 1, status=status) for index, status in enumerate(statuses, 1)]
    return make_doc(make_task(1, status=parent_status, subtasks=subs))


def test_set_status_on_tasks_returns_them_in_the_order_given() -> None:
    doc = make_doc(make_task(1), make_task(2), make_task(3))
    changed = set_status(doc, "master", [T("3"), T("1"), T("3")], "done")
    assert [task["id"] for task in changed] == [3, 1]
    assert [task["status"] for task in doc.tasks("master")] == ["done", "pending", "done"]
    assert changed[0] is doc.task("master", 3)


def test_set_status_returns_subtasks_as_views() -> None:
    doc = _parent_with("pending", "pending")
    [view] = set_status(doc, "master", [T("1.2")], "deferred")
    assert view["id"] == "1.2" and view["parentId"] == 1 and view["status"] == "deferred"


def test_set_status_validates_the_status_before_looking_at_ids() -> None:
    doc = make_doc(make_task(1))
    with pytest.raises(InvalidInput, match="invalid status 'finished'"):
        set_status(doc, "master", [T("9")], "finished")


def test_set_status_changes_nothing_when_an_id_is_missing() -> None:
    doc = make_doc(make_task(1), make_task(2, subtasks=[make_subtask(1, 2)]))
    before = doc.to_json()
    with pytest.raises(TaskNotFound, match="task 4 not found in tag 'master'"):
        set_status(doc, "master", [T("1"), T("2.1"), T("4"), T("5")], "done")
    with pytest.raises(TaskNotFound, match=r"task 2\.2 not found"):
        set_status(doc, "master", [T("2.2")], "done")
    assert doc.to_json() == before


def test_set_status_keeps_unknown_keys() -> None:
    doc = make_doc(make_task(1, complexity=7, metadata={"x": 1}))
    set_status(doc, "master", [T("1")], "done")
    task = doc.task("master", 1)
    assert task["complexity"] == 7 and task["metadata"] == {"x": 1}


# parent recompute, rule by rule -----------------------------------------------------------------


def test_all_subtasks_done_makes_the_parent_done() -> None:
    doc = _parent_with("done", "pending")
    set_status(doc, "master", [T("1.2")], "done")
    assert doc.task("master", 1)["status"] == "done"


def test_completed_counts_as_done_for_the_parent() -> None:
    doc = _parent_with("completed", "pending")
    set_status(doc, "master", [T("1.2")], "done")
    assert doc.task("master", 1)["status"] == "done"


def test_any_subtask_in_progress_makes_the_parent_in_progress() -> None:
    doc = _parent_with("pending", "pending", parent_status="pending")
    set_status(doc, "master", [T("1.1")], "in-progress")
    assert doc.task("master", 1)["status"] == "in-progress"


def test_some_but_not_all_done_makes_the_parent_in_progress() -> None:
    doc = _parent_with("pending", "pending", parent_status="pending")
    set_status(doc, "master", [T("1.1")], "done")
    assert doc.task("master", 1)["status"] == "in-progress"


def test_all_subtasks_pending_makes_the_parent_pending() -> None:
    doc = _parent_with("in-progress", "pending", parent_status="in-progress")
    set_status(doc, "master", [T("1.1")], "pending")
    assert doc.task("master", 1)["status"] == "pending"


def test_any_other_mix_leaves_the_parent_as_it_is() -> None:
    doc = _parent_with("deferred", "pending", parent_status="review")
    set_status(doc, "master", [T("1.2")], "cancelled")
    assert doc.task("master", 1)["status"] == "review"


def test_setting_a_parent_does_not_cascade_to_its_subtasks() -> None:
    doc = _parent_with("pending", "in-progress", parent_status="pending")
    set_status(doc, "master", [T("1")], "done")
    assert doc.task("master", 1)["status"] == "done"
    assert [sub["status"] for sub in doc.task("master", 1)["subtasks"]] == [
        "pending",
        "in-progress",
    ]


def test_a_parent_named_in_the_same_call_keeps_the_status_asked_for() -> None:
    doc = _parent_with("pending", "pending", parent_status="pending")
    set_status(doc, "master", [T("1.1"), T("1")], "deferred")
    assert doc.task("master", 1)["status"] == "deferred"


def test_several_subtasks_of_one_parent_recompute_once_at_the_end() -> None:
    doc = _parent_with("pending", "pending", parent_status="pending")
    set_status(doc, "master", [T("1.1"), T("1.2")], "done")
    assert doc.task("master", 1)["status"] == "done"


# performance ------------------------------------------------------------------------------------


def test_set_status_on_a_5000_task_document_is_fast() -> None:
    tasks = [
        make_task(i, *([i - 1] if i > 1 else []), subtasks=[make_subtask(1, i)])
        for i in range(1, 5001)
    ]
    raw = make_doc(*tasks).to_json()
    best = float("inf")
    for _ in range(10):
        doc = Document.from_json(raw)
        start = time.perf_counter()
        set_status(doc, "master", [T("4999.1")], "done")
        best = min(best, time.perf_counter() - start)
    assert doc.task("master", 4999)["status"] == "done"
    assert best < 0.005, f"set_status took {best * 1000:.2f} ms"
