"""move_to_tag."""

from __future__ import annotations

import pytest
from strategies import make_doc, make_subtask, make_task

from taskmaster.errors import DependencyError, InvalidInput, TagNotFound, TaskNotFound
from taskmaster.model import MAX_ID, Document, TaskId
from taskmaster.ops import move_to_tag, validate_dependencies


def _ids(doc: Document, tag: str) -> list[int]:
    return [task["id"] for task in doc.tasks(tag)]


def _valid(doc: Document) -> None:
    for tag in doc.tag_names():
        assert validate_dependencies(doc, tag) == []


def test_moves_a_task_with_its_subtasks_and_unknown_keys() -> None:
    doc = make_doc(
        make_task(1),
        make_task(2, subtasks=[make_subtask(1, 2), make_subtask(2, 2, 1)], extra={"k": 1}),
        feature=[make_task(7)],
    )
    [task] = move_to_tag(doc, [2], "master", "feature")
    assert task["id"] == 2 and task["extra"] == {"k": 1}
    assert _ids(doc, "master") == [1] and _ids(doc, "feature") == [7, 2]
    assert task["subtasks"][1]["dependencies"] == [1]
    _valid(doc)


def test_colliding_ids_get_new_ones_and_references_follow() -> None:
    doc = make_doc(
        make_task(1, subtasks=[make_subtask(1, 1), make_subtask(2, 1, 1)]),
        make_task(2, 1, "1.2"),
        make_task(4, 2),
        feature=[make_task(1), make_task(2)],
    )
    moved = move_to_tag(doc, [1, 2, 4], "master", "feature")
    assert [task["id"] for task in moved] == [5, 6, 4]
    assert _ids(doc, "feature") == [1, 2, 5, 6, 4]
    assert doc.task("feature", 6)["dependencies"] == [5, "5.2"]
    assert doc.task("feature", 4)["dependencies"] == [6]
    sub = doc.task("feature", 5)["subtasks"][1]
    assert sub["dependencies"] == [1] and sub["parentTaskId"] == 5
    assert doc.tasks("master") == []
    _valid(doc)


def test_a_colliding_id_is_refused_when_no_id_is_left_in_the_target_tag() -> None:
    doc = make_doc(make_task(1), feature=[make_task(1), make_task(MAX_ID)])
    before = doc.to_json()
    with pytest.raises(InvalidInput, match="no task id is left in tag 'feature'"):
        move_to_tag(doc, [1], "master", "feature")
    assert doc.to_json() == before


def test_a_dependency_left_behind_is_refused_by_default() -> None:
    doc = make_doc(
        make_task(1),
        make_task(2, 1, "3.1"),
        make_task(3, subtasks=[make_subtask(1, 3)]),
        feature=[],
    )
    before = doc.to_json()
    with pytest.raises(DependencyError) as caught:
        move_to_tag(doc, [2], "master", "feature")
    assert "2 -> 1, 2 -> 3.1" in str(caught.value)
    assert "with_dependencies" not in str(caught.value)  # each front end names its options
    assert caught.value.dependencies == [["2", "1"], ["2", "3.1"]]
    assert doc.to_json() == before


def test_with_dependencies_moves_them_too_transitively() -> None:
    doc = make_doc(make_task(1), make_task(2, 1), make_task(3, 2), make_task(4), feature=[])
    moved = move_to_tag(doc, [3], "master", "feature", with_dependencies=True)
    assert [task["id"] for task in moved] == [1, 2, 3]
    assert _ids(doc, "master") == [4]
    assert doc.task("feature", 3)["dependencies"] == [2]
    _valid(doc)


def test_ignore_dependencies_drops_them() -> None:
    doc = make_doc(make_task(1), make_task(2, 1, subtasks=[make_subtask(1, 2)]), feature=[])
    doc.task("master", 2)["subtasks"][0]["dependencies"] = []
    [task] = move_to_tag(doc, [2], "master", "feature", ignore_dependencies=True)
    assert task["dependencies"] == []
    assert _ids(doc, "master") == [1]
    _valid(doc)


def test_tasks_left_behind_lose_their_dependencies_on_moved_ones() -> None:
    doc = make_doc(
        make_task(1, subtasks=[make_subtask(1, 1)]),
        make_task(2, 1, "1.1", 3),
        make_task(3),
        feature=[],
    )
    move_to_tag(doc, [1], "master", "feature")
    assert doc.task("master", 2)["dependencies"] == [3]
    _valid(doc)


def test_a_dangling_dependency_is_not_carried_into_the_other_tag() -> None:
    doc = make_doc(make_task(1, 8), feature=[make_task(8)])
    [task] = move_to_tag(doc, [1], "master", "feature")
    assert task["dependencies"] == []


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (([1], "master", "master"), {}, InvalidInput, "already in tag 'master'"),
        (([1], "master", "nope"), {}, TagNotFound, "tag 'nope' does not exist"),
        (([1], "nope", "feature"), {}, TagNotFound, "tag 'nope' does not exist"),
        (([9], "master", "feature"), {}, TaskNotFound, "task 9 not found in tag 'master'"),
        (([TaskId(1, 1)], "master", "feature"), {}, InvalidInput, "only whole tasks move"),
        ((["1"], "master", "feature"), {"with_dependencies": True, "ignore_dependencies": True},
         InvalidInput, "not both"),
    ],
)  # fmt: skip
def test_refusals_change_nothing(args, kwargs, error, message) -> None:
    doc = make_doc(make_task(1, subtasks=[make_subtask(1, 1)]), feature=[])
    before = doc.to_json()
    with pytest.raises(error, match=message):
        move_to_tag(doc, *args, **kwargs)
    assert doc.to_json() == before
