"""next_task and ready_ids, rule by rule from the facts file."""

from __future__ import annotations

from strategies import make_doc, make_subtask, make_task

from taskmaster.model import TaskId
from taskmaster.ops import next_task, ready_ids


def _next_id(doc) -> object:
    found = next_task(doc, "master")
    return None if found is None else found["id"]


# top-level tasks --------------------------------------------------------------------------------


def test_no_workable_task_gives_none() -> None:
    doc = make_doc(make_task(1, status="done"), make_task(2, status="deferred"))
    assert next_task(doc, "master") is None
    assert next_task(make_doc(), "master") is None


def test_pending_and_in_progress_tasks_are_candidates_others_not() -> None:
    for status in ("review", "blocked", "deferred", "cancelled", "done"):
        assert _next_id(make_doc(make_task(1, status=status), make_task(2))) == 2
    assert _next_id(make_doc(make_task(1, status="in-progress"), make_task(2))) == 1


def test_a_task_waits_for_its_dependencies() -> None:
    doc = make_doc(make_task(1, status="in-progress"), make_task(2, 1, priority="critical"))
    assert _next_id(doc) == 1
    doc.task("master", 1)["status"] = "done"
    assert _next_id(doc) == 2


def test_completed_counts_as_done() -> None:
    doc = make_doc(make_task(1, status="completed"), make_task(2, 1, priority="high"), make_task(3))
    assert _next_id(doc) == 2


def test_a_cancelled_dependency_is_not_satisfied() -> None:
    doc = make_doc(make_task(1, status="cancelled"), make_task(2, 1, priority="high"), make_task(3))
    assert _next_id(doc) == 3


def test_a_missing_dependency_is_not_satisfied() -> None:
    doc = make_doc(make_task(2, 9, priority="high"), make_task(3))
    assert _next_id(doc) == 3


def test_a_subtask_dependency_must_be_done() -> None:
    doc = make_doc(
        make_task(1, status="review", subtasks=[make_subtask(1, 1, status="pending")]),
        make_task(2, "1.1", priority="high"),
        make_task(3),
    )
    assert _next_id(doc) == 3
    doc.task("master", 1)["subtasks"][0]["status"] = "done"
    assert _next_id(doc) == 2


def test_higher_priority_first() -> None:
    doc = make_doc(
        make_task(1, priority="low"),
        make_task(2, priority="medium"),
        make_task(3, priority="critical"),
        make_task(4, priority="high"),
    )
    assert _next_id(doc) == 3


def test_then_fewer_dependencies() -> None:
    doc = make_doc(
        make_task(1, status="done"),
        make_task(2, status="done"),
        make_task(3, 1, 2),
        make_task(4, 1),
    )
    assert _next_id(doc) == 4


def test_then_lower_id_whatever_the_list_order() -> None:
    doc = make_doc(make_task(7), make_task(5), make_task(6))
    assert _next_id(doc) == 5


def test_an_unknown_or_missing_priority_counts_as_medium() -> None:
    doc = make_doc(make_task(1, priority="low"), make_task(2, priority="urgent"), make_task(3))
    del doc.task("master", 3)["priority"]
    assert _next_id(doc) == 2


# subtasks of in-progress parents ---------------------------------------------------------------


def test_subtasks_of_an_in_progress_parent_come_first() -> None:
    doc = make_doc(
        make_task(1, priority="critical"),
        make_task(2, priority="low", status="in-progress", subtasks=[make_subtask(1, 2)]),
    )
    found = next_task(doc, "master")
    assert found["id"] == "2.1" and found["parentId"] == 2
    assert found["parentTitle"] == "Task 2"
    assert doc.task("master", 2)["subtasks"][0]["id"] == 1  # a view, not the stored dict


def test_subtasks_of_parents_not_in_progress_are_not_candidates() -> None:
    doc = make_doc(make_task(1, status="pending", subtasks=[make_subtask(1, 1)]))
    assert _next_id(doc) == 1


def test_only_pending_or_in_progress_subtasks() -> None:
    subs = [
        make_subtask(1, 1, status="done"),
        make_subtask(2, 1, status="review"),
        make_subtask(3, 1, status="in-progress"),
    ]
    assert _next_id(make_doc(make_task(1, status="in-progress", subtasks=subs))) == "1.3"


def test_a_bare_subtask_dependency_is_a_sibling() -> None:
    subs = [
        make_subtask(1, 1, status="pending"),
        make_subtask(2, 1, 1, status="pending", priority="critical"),
    ]
    doc = make_doc(
        make_task(1, status="in-progress", subtasks=subs), make_task(2, status="done")
    )  # task 2 is done, but bare 1 means 1.1, which is not
    assert _next_id(doc) == "1.1"
    subs[0]["status"] = "done"
    assert _next_id(doc) == "1.2"


def test_when_no_subtask_is_eligible_fall_back_to_tasks() -> None:
    subs = [make_subtask(1, 1, "2.1")]
    doc = make_doc(
        make_task(1, status="in-progress", subtasks=subs),
        make_task(2, subtasks=[make_subtask(1, 2)]),
    )
    assert _next_id(doc) == 1  # in-progress tasks are candidates too


def test_subtask_priority_is_its_own_else_the_parents() -> None:
    doc = make_doc(
        make_task(1, status="in-progress", priority="high", subtasks=[make_subtask(1, 1)]),
        make_task(
            2,
            status="in-progress",
            priority="low",
            subtasks=[make_subtask(1, 2, priority="critical")],
        ),
    )
    assert _next_id(doc) == "2.1"
    del doc.task("master", 2)["subtasks"][0]["priority"]
    assert _next_id(doc) == "1.1"


def test_subtask_without_any_priority_counts_as_medium() -> None:
    parent_one = make_task(1, status="in-progress", subtasks=[make_subtask(1, 1)])
    del parent_one["priority"]
    parent_two = make_task(2, status="in-progress", priority="low", subtasks=[make_subtask(1, 2)])
    assert _next_id(make_doc(parent_one, parent_two)) == "1.1"


def test_subtask_ties_break_on_dependencies_then_parent_id_then_subtask_id() -> None:
    done = make_subtask(1, 5, status="done")
    doc = make_doc(
        make_task(5, status="in-progress", subtasks=[done, make_subtask(4, 5, 1)]),
        make_task(
            3, status="in-progress", subtasks=[make_subtask(9, 3, "5.1"), make_subtask(8, 3)]
        ),
    )
    assert _next_id(doc) == "3.8"  # no dependencies beats one
    doc.task("master", 3)["subtasks"][1]["dependencies"] = ["5.1"]
    assert _next_id(doc) == "3.8"  # same count: parent 3 < 5, then subtask 8 < 9


# ready_ids --------------------------------------------------------------------------------------


def test_ready_ids_lists_workable_items_with_done_dependencies() -> None:
    doc = make_doc(
        make_task(1, status="done", subtasks=[make_subtask(1, 1, status="done")]),
        make_task(
            2,
            1,
            status="in-progress",
            subtasks=[make_subtask(1, 2, "1.1"), make_subtask(2, 2, 1), make_subtask(3, 2, 9)],
        ),
        make_task(3, 2),
        make_task(4, "1.1", status="review"),
    )
    assert ready_ids(doc, "master") == {TaskId(2), TaskId(2, 1)}


def test_a_task_or_subtask_without_status_is_pending() -> None:
    task = make_task(1, subtasks=[make_subtask(1, 1)])
    del task["status"]
    del task["subtasks"][0]["status"]
    doc = make_doc(task)
    assert _next_id(doc) == 1
    assert ready_ids(doc, "master") == {TaskId(1), TaskId(1, 1)}
