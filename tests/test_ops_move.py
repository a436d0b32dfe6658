"""move_tasks: every case of the brief, and that a refused move changes nothing."""

from __future__ import annotations

import pytest
from strategies import make_doc, make_subtask, make_task

from taskmaster.errors import DependencyCycle, DependencyError, InvalidInput, TaskNotFound
from taskmaster.model import Document, TaskId
from taskmaster.ops import move_tasks, place_before, validate_dependencies

T = TaskId.parse


def _ids(doc: Document) -> list[int]:
    return [task["id"] for task in doc.tasks("master")]


def _sub_ids(doc: Document, task_id: int) -> list[int]:
    return [sub["id"] for sub in doc.task("master", task_id)["subtasks"]]


def _move(doc: Document, source: str, target: str) -> list[dict]:
    result = move_tasks(doc, "master", [T(source)], [T(target)])
    assert validate_dependencies(doc, "master") == []
    return result


# task -> task -----------------------------------------------------------------------------------


def test_task_to_an_unused_id_renumbers_it_and_its_references() -> None:
    doc = make_doc(
        make_task(1, subtasks=[make_subtask(1, 1), make_subtask(2, 1, 1)], mark="m"),
        make_task(2, 1, "1.2", subtasks=[make_subtask(1, 2, "1.1")]),
        make_task(9),
    )
    [task] = _move(doc, "1", "5")
    assert task["id"] == 5 and task["mark"] == "m"
    assert _ids(doc) == [2, 5, 9]  # placed in id order
    assert doc.task("master", 2)["dependencies"] == [5, "5.2"]
    assert doc.task("master", 2)["subtasks"][0]["dependencies"] == ["5.1"]
    subs = doc.task("master", 5)["subtasks"]
    assert [sub["parentTaskId"] for sub in subs] == [5, 5]
    assert subs[1]["dependencies"] == [1]  # a sibling stays a sibling


def test_task_to_an_existing_id_is_refused_as_in_the_reference_tool() -> None:
    doc = make_doc(make_task(1), make_task(2), make_task(3), make_task(4, 1))
    before = doc.to_json()
    with pytest.raises(InvalidInput, match="task 3 already exists: use a different destination"):
        move_tasks(doc, "master", [T("1")], [T("3")])
    assert doc.to_json() == before


def test_place_before_reorders_without_changing_ids() -> None:
    doc = make_doc(make_task(1), make_task(2), make_task(3), make_task(4, 1))
    task = place_before(doc, "master", T("4"), T("2"))
    assert task["id"] == 4
    assert _ids(doc) == [1, 4, 2, 3]
    assert doc.task("master", 4)["dependencies"] == [1]
    with pytest.raises(InvalidInput, match="before itself"):
        place_before(doc, "master", T("2"), T("2"))
    with pytest.raises(TaskNotFound):
        place_before(doc, "master", T("2"), T("9"))


def test_a_task_that_depends_on_tasks_is_not_made_a_subtask() -> None:
    # A subtask cannot name a task: the dependencies on 1 and 3 would be lost, so refuse.
    doc = make_doc(make_task(1), make_task(2, 1, 3, "1.1"), make_task(3))
    doc.task("master", 1)["subtasks"] = [make_subtask(1, 1)]
    before = doc.to_json()
    with pytest.raises(DependencyError, match=r"depends on task 1, 3, and a subtask"):
        move_tasks(doc, "master", [T("2")], [T("3.1")])
    assert doc.to_json() == before


def test_task_to_a_free_subtask_slot_becomes_that_subtask() -> None:
    doc = make_doc(
        make_task(1, subtasks=[make_subtask(1, 1), make_subtask(3, 1)]),
        make_task(2, "1.1", status="done", extra=True),
        make_task(3, 2),
    )
    [view] = _move(doc, "2", "1.2")
    assert view["id"] == "1.2" and view["parentId"] == 1
    assert _ids(doc) == [1, 3]
    assert _sub_ids(doc, 1) == [1, 2, 3]  # position 2
    sub = doc.task("master", 1)["subtasks"][1]
    assert sub["dependencies"] == [1] and sub["status"] == "done" and sub["extra"] is True
    assert doc.task("master", 3)["dependencies"] == ["1.2"]


def test_task_to_a_taken_subtask_slot_gets_the_next_free_id_at_that_position() -> None:
    doc = make_doc(make_task(1, subtasks=[make_subtask(1, 1), make_subtask(2, 1)]), make_task(2))
    [view] = _move(doc, "2", "1.1")
    assert view["id"] == "1.3"
    assert _sub_ids(doc, 1) == [3, 1, 2]


@pytest.mark.parametrize(
    ("source", "target", "error", "message"),
    [
        ("1", "1.1", InvalidInput, "cannot become a subtask of itself"),
        ("1", "2.1", InvalidInput, "subtasks do not nest"),
        ("2", "7.1", TaskNotFound, "task 7 not found"),
        ("8", "2", TaskNotFound, "task 8 not found"),
        ("2", "2", InvalidInput, "onto itself"),
    ],
)
def test_refused_task_moves(source: str, target: str, error, message: str) -> None:
    doc = make_doc(make_task(1, subtasks=[make_subtask(1, 1)]), make_task(2))
    before = doc.to_json()
    with pytest.raises(error, match=message):
        move_tasks(doc, "master", [T(source)], [T(target)])
    assert doc.to_json() == before


# subtask -> task --------------------------------------------------------------------------------


def test_subtask_to_an_unused_task_id_promotes_it() -> None:
    doc = make_doc(
        make_task(1, subtasks=[make_subtask(1, 1), make_subtask(2, 1, 1), make_subtask(3, 1, 2)]),
        make_task(2, "1.2"),
        make_task(9),
    )
    # Subtask 1.3 depends on 1.2, and a subtask cannot name a task: refused, nothing dropped.
    before = doc.to_json()
    with pytest.raises(DependencyError, match=r"subtask 1\.3 depends on it"):
        _move(doc, "1.2", "4")
    assert doc.to_json() == before
    doc.task("master", 1)["subtasks"][2]["dependencies"] = []
    [task] = _move(doc, "1.2", "4")
    assert task["id"] == 4 and task["dependencies"] == ["1.1"]
    assert "parentTaskId" not in task and task["priority"] == "medium"
    assert _ids(doc) == [1, 2, 4, 9]
    assert doc.task("master", 2)["dependencies"] == [4]


def test_subtask_to_an_existing_task_id_is_refused() -> None:
    doc = make_doc(make_task(1, subtasks=[make_subtask(1, 1)]), make_task(2))
    before = doc.to_json()
    with pytest.raises(InvalidInput, match="task 2 already exists"):
        move_tasks(doc, "master", [T("1.1")], [T("2")])
    with pytest.raises(TaskNotFound, match=r"task 1\.5 not found"):
        move_tasks(doc, "master", [T("1.5")], [T("3")])
    assert doc.to_json() == before


# subtask -> subtask -----------------------------------------------------------------------------


def test_subtask_to_another_parent_rewrites_references_both_ways() -> None:
    doc = make_doc(
        make_task(1, subtasks=[make_subtask(1, 1), make_subtask(2, 1, 1, "2.1")]),
        make_task(2, subtasks=[make_subtask(1, 2), make_subtask(2, 2, "1.2")]),
        make_task(3, "1.2"),
        make_task(4, subtasks=[make_subtask(1, 4, "1.2")]),
    )
    doc.task("master", 1)["subtasks"].append(make_subtask(3, 1, 2))
    [view] = _move(doc, "1.2", "2.3")
    assert view["id"] == "2.3" and view["parentId"] == 2
    moved = doc.task("master", 2)["subtasks"][-1]
    assert moved["dependencies"] == ["1.1", 1]  # old sibling dotted, new sibling bare
    assert moved["parentTaskId"] == 2
    assert doc.task("master", 2)["subtasks"][1]["dependencies"] == [3]
    assert doc.task("master", 1)["subtasks"][1]["dependencies"] == ["2.3"]  # was bare 2
    assert doc.task("master", 3)["dependencies"] == ["2.3"]
    assert doc.task("master", 4)["subtasks"][0]["dependencies"] == ["2.3"]


def test_subtask_to_a_taken_slot_of_another_parent_gets_the_next_free_id() -> None:
    doc = make_doc(
        make_task(1, subtasks=[make_subtask(1, 1)]),
        make_task(2, subtasks=[make_subtask(1, 2), make_subtask(2, 2)]),
    )
    [view] = _move(doc, "1.1", "2.1")
    assert view["id"] == "2.3"
    assert _sub_ids(doc, 2) == [3, 1, 2] and _sub_ids(doc, 1) == []


def test_subtask_within_its_parent_to_an_existing_id_reorders() -> None:
    subs = [make_subtask(1, 1), make_subtask(2, 1), make_subtask(3, 1, 1)]
    doc = make_doc(make_task(1, subtasks=subs))
    [view] = _move(doc, "1.3", "1.1")
    assert view["id"] == "1.3"
    assert _sub_ids(doc, 1) == [3, 1, 2]
    assert doc.task("master", 1)["subtasks"][0]["dependencies"] == [1]


def test_subtask_within_its_parent_to_an_unused_id_renumbers() -> None:
    subs = [make_subtask(1, 1), make_subtask(2, 1, 1), make_subtask(3, 1, 1)]
    doc = make_doc(make_task(1, "1.1", subtasks=subs))
    [view] = _move(doc, "1.1", "1.5")
    assert view["id"] == "1.5"
    assert _sub_ids(doc, 1) == [2, 3, 5]
    assert [sub["dependencies"] for sub in doc.task("master", 1)["subtasks"]] == [[5], [5], []]
    assert doc.task("master", 1)["dependencies"] == ["1.5"]


# several pairs, and all-or-nothing --------------------------------------------------------------


def test_pairs_apply_in_order_each_seeing_the_last() -> None:
    doc = make_doc(make_task(1), make_task(2, 1))
    result = move_tasks(doc, "master", [T("1"), T("5")], [T("5"), T("6")])
    assert [task["id"] for task in result] == [6, 6]  # both describe the final object
    assert _ids(doc) == [2, 6]
    assert doc.task("master", 2)["dependencies"] == [6]


def test_a_failing_pair_undoes_the_earlier_ones() -> None:
    doc = make_doc(make_task(1), make_task(2, 1), make_task(3, subtasks=[make_subtask(1, 3)]))
    before = doc.to_json()
    with pytest.raises(InvalidInput, match="subtasks do not nest"):
        move_tasks(doc, "master", [T("1"), T("3")], [T("7"), T("2.1")])
    assert doc.to_json() == before


def test_a_move_that_would_close_a_cycle_is_refused_and_undone() -> None:
    # Task 1 names 5 (dangling); renumbering 2 (which needs 1) to 5 would close 1 -> 5 -> 1.
    doc = make_doc(make_task(1, 5), make_task(2, 1))
    before = doc.to_json()
    with pytest.raises(DependencyCycle, match="5 -> 1 -> 5"):
        move_tasks(doc, "master", [T("2")], [T("5")])
    assert doc.to_json() == before


def test_mismatched_or_empty_lists() -> None:
    doc = make_doc(make_task(1), make_task(2))
    with pytest.raises(InvalidInput, match="as many destinations as sources"):
        move_tasks(doc, "master", [T("1"), T("2")], [T("3")])
    with pytest.raises(InvalidInput, match="nothing to move"):
        move_tasks(doc, "master", [], [])
