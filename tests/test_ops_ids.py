"""Ids a file can hold but no command can name: shared ids (as a merge of two branches leaves
them) and ids of 0 or below. Reported by validation, repaired by fix_dependencies, and never
acted on by a write."""

from __future__ import annotations

import pytest
from strategies import make_doc, make_subtask, make_task

from taskmaster.errors import DuplicateId
from taskmaster.model import Document, TaskId
from taskmaster.ops import (
    add_dependency,
    add_task,
    clear_subtasks,
    fix_dependencies,
    move_tasks,
    move_to_tag,
    next_task,
    ready_ids,
    remove_subtask,
    remove_task,
    set_status,
    update_task,
    validate_dependencies,
)

T = TaskId.parse


def _merged() -> Document:
    """Two branches each added a task 2; task 3 depends on 2; the second 2 has a subtask."""
    first = make_task(2, title="ours")
    second = make_task(2, subtasks=[make_subtask(1, 2)], title="theirs", priority="high")
    return make_doc(make_task(1, status="done"), first, make_task(3, 2), second)


WRITES = [
    lambda doc: remove_task(doc, "master", [T("2")]),
    lambda doc: set_status(doc, "master", [T("2")], "done"),
    lambda doc: update_task(doc, "master", T("2"), {"title": "x"}),
    lambda doc: add_dependency(doc, "master", T("1"), T("2")),
    lambda doc: add_dependency(doc, "master", T("2"), T("1")),
    lambda doc: add_task(doc, "master", title="x", dependencies=[T("2")]),
    lambda doc: move_tasks(doc, "master", [T("2")], [T("9")]),
    lambda doc: move_to_tag(doc, [2], "master", "other"),
    lambda doc: clear_subtasks(doc, "master", [2]),
    lambda doc: remove_subtask(doc, "master", [T("2.1")]),
]


@pytest.mark.parametrize("write", WRITES)
def test_a_write_never_acts_on_a_shared_id(write) -> None:
    doc = _merged()
    doc.put_tag("other", {"tasks": [], "metadata": {}})
    before = doc.to_json()
    with pytest.raises(DuplicateId, match=r"task 2 is ambiguous.*run fix-dependencies"):
        write(doc)
    assert doc.to_json() == before


def test_a_shared_subtask_id_is_refused_too() -> None:
    doc = make_doc(make_task(1, subtasks=[make_subtask(1, 1), make_subtask(1, 1)]))
    before = doc.to_json()
    for write in (
        lambda: remove_subtask(doc, "master", [T("1.1")]),
        lambda: set_status(doc, "master", [T("1.1")], "done"),
        lambda: update_task(doc, "master", T("1.1"), {"title": "x"}),
    ):
        with pytest.raises(DuplicateId, match=r"subtask 1\.1 is ambiguous"):
            write()
    assert doc.to_json() == before


def test_next_and_ready_never_offer_a_shared_id() -> None:
    doc = _merged()
    assert next_task(doc, "master") is None  # 3 waits on 2; both 2s are ambiguous
    assert ready_ids(doc, "master") == set()


def test_validation_reports_shared_ids_and_ids_of_zero_or_below() -> None:
    doc = _merged()
    doc.tasks("master").append(make_task(0))
    doc.task("master", 1)["subtasks"] = [make_subtask(1, 1), make_subtask(1, 1)]
    issues = validate_dependencies(doc, "master")
    assert [(issue.kind, issue.item) for issue in issues] == [
        ("duplicate-id", "1.1"),
        ("duplicate-id", "2"),
        ("bad-id", "0"),
    ]
    assert "later copy id 4" in issues[1].message
    assert "renumbers it to 5" in issues[2].message


def test_fix_renumbers_later_copies_and_keeps_references_on_the_first() -> None:
    doc = _merged()
    fixed = fix_dependencies(doc, "master")
    assert [issue.kind for issue in fixed] == ["duplicate-id"]
    tasks = doc.tasks("master")
    assert [(task["id"], task["title"]) for task in tasks] == [
        (1, "Task 1"),
        (2, "ours"),
        (3, "Task 3"),
        (4, "theirs"),
    ]
    assert doc.task("master", 3)["dependencies"] == [2]  # the first 2, as every lookup read it
    assert doc.task("master", 4)["subtasks"][0]["parentTaskId"] == 4
    assert validate_dependencies(doc, "master") == []
    assert remove_task(doc, "master", [T("2")])[0]["title"] == "ours"
    assert [task["id"] for task in tasks] == [1, 3, 4]


def test_fix_renumbers_ids_of_zero_or_below_and_their_references_follow() -> None:
    doc = make_doc(make_task(0), make_task(-3), make_task(2, 0, -3), make_task(5))
    doc.task("master", 5)["subtasks"] = [make_subtask(0, 5), make_subtask(1, 5, 0)]
    fixed = fix_dependencies(doc, "master")
    assert [(issue.kind, issue.item) for issue in fixed] == [
        ("bad-id", "0"),
        ("bad-id", "-3"),
        ("bad-id", "5.0"),
    ]
    assert [task["id"] for task in doc.tasks("master")] == [6, 7, 2, 5]
    assert doc.task("master", 2)["dependencies"] == [6, 7]
    subs = doc.task("master", 5)["subtasks"]
    assert [sub["id"] for sub in subs] == [2, 1] and subs[1]["dependencies"] == [2]
    assert validate_dependencies(doc, "master") == []


def test_add_task_after_ids_of_zero_or_below_hands_out_a_usable_id() -> None:
    doc = make_doc(make_task(-5), make_task(-3))  # max + 1 would be -2
    assert add_task(doc, "master", title="new")["id"] == 1
