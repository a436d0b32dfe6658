"""add_dependency, remove_dependency, validate_dependencies, fix_dependencies."""

from __future__ import annotations

import pytest
from strategies import make_doc, make_subtask, make_task

from taskmaster.errors import DependencyCycle, DependencyError, TaskNotFound
from taskmaster.model import Document, TaskId
from taskmaster.ops import (
    DependencyIssue,
    add_dependency,
    fix_dependencies,
    remove_dependency,
    validate_dependencies,
)

T = TaskId.parse


def _doc() -> Document:
    return make_doc(
        make_task(1, subtasks=[make_subtask(1, 1), make_subtask(2, 1)]),
        make_task(2, subtasks=[make_subtask(1, 2)]),
        make_task(3),
    )


# add_dependency ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "target", "stored"),
    [
        ("3", "2", 2),
        ("3", "2.1", "2.1"),
        ("1.2", "1.1", 1),
        ("1.2", "2.1", "2.1"),
        ("1", "1.1", "1.1"),  # a parent may depend on its own subtask
    ],
)
def test_add_dependency_stores_the_file_format(item: str, target: str, stored) -> None:
    doc = _doc()
    result = add_dependency(doc, "master", T(item), T(target))
    assert doc.get("master", T(item))["dependencies"] == [stored]
    assert str(result["id"]) == item


def test_add_dependency_already_present_changes_nothing() -> None:
    doc = make_doc(make_task(1), make_task(2, 1))
    before = doc.to_json()
    assert add_dependency(doc, "master", T("2"), T("1"))["dependencies"] == [1]
    assert doc.to_json() == before


def test_add_dependency_refuses_itself() -> None:
    doc = _doc()
    with pytest.raises(DependencyError, match="task 3 cannot depend on itself"):
        add_dependency(doc, "master", T("3"), T("3"))


def test_add_dependency_on_a_missing_item_or_target() -> None:
    doc = _doc()
    with pytest.raises(TaskNotFound, match="task 9 not found"):
        add_dependency(doc, "master", T("9"), T("1"))
    with pytest.raises(DependencyError, match=r"task 2\.5 does not exist in tag 'master'"):
        add_dependency(doc, "master", T("3"), T("2.5"))
    assert all(task["dependencies"] == [] for task in doc.tasks("master"))


def test_add_dependency_refuses_a_cycle_naming_its_path() -> None:
    doc = make_doc(make_task(1), make_task(2, 1), make_task(3, 2))
    before = doc.to_json()
    with pytest.raises(DependencyCycle) as caught:
        add_dependency(doc, "master", T("1"), T("3"))
    assert caught.value.cycle == ["1", "3", "2", "1"]
    assert str(caught.value) == "dependency cycle: 1 -> 3 -> 2 -> 1"
    assert doc.to_json() == before


def test_add_dependency_sees_cycles_through_subtasks() -> None:
    # 2 -> 1.1 and 1 -> 1.1 (implicit): making 1.1 depend on 2.1 and 2.1 on 1.1 loops.
    doc = _doc()
    add_dependency(doc, "master", T("1.1"), T("2.1"))
    with pytest.raises(DependencyCycle) as caught:
        add_dependency(doc, "master", T("2.1"), T("1.1"))
    assert caught.value.cycle == ["2.1", "1.1", "2.1"]


def test_a_subtask_depending_on_its_own_parent_is_a_cycle() -> None:
    doc = _doc()
    with pytest.raises(DependencyCycle) as caught:
        add_dependency(doc, "master", T("1.1"), T("1"))
    assert caught.value.cycle == ["1.1", "1", "1.1"]


def test_a_subtask_cannot_depend_on_another_top_level_task() -> None:
    doc = _doc()
    with pytest.raises(DependencyError, match=r"subtask 1\.1 cannot depend on task 3") as caught:
        add_dependency(doc, "master", T("1.1"), T("3"))
    assert not isinstance(caught.value, DependencyCycle)


# remove_dependency ------------------------------------------------------------------------------


def test_remove_dependency_removes_every_entry_naming_it() -> None:
    doc = make_doc(make_task(1), make_task(2), make_task(3, 1, 2, 1))
    task = remove_dependency(doc, "master", T("3"), T("1"))
    assert task["dependencies"] == [2]


def test_remove_dependency_of_a_subtask_on_a_sibling() -> None:
    doc = make_doc(make_task(1, subtasks=[make_subtask(1, 1), make_subtask(2, 1, 1, "1.1")]))
    view = remove_dependency(doc, "master", T("1.2"), T("1.1"))
    assert view["id"] == "1.2" and view["dependencies"] == []


def test_remove_dependency_that_is_absent() -> None:
    doc = make_doc(make_task(3), make_task(5))
    with pytest.raises(DependencyError, match="task 3 does not depend on 5"):
        remove_dependency(doc, "master", T("3"), T("5"))
    with pytest.raises(TaskNotFound):
        remove_dependency(doc, "master", T("4"), T("5"))


# validate_dependencies --------------------------------------------------------------------------


def test_validate_a_clean_tag_reports_nothing() -> None:
    doc = make_doc(make_task(1), make_task(2, 1, "1.1"))
    doc.task("master", 1)["subtasks"] = [make_subtask(1, 1)]
    assert validate_dependencies(doc, "master") == []


def test_validate_reports_each_kind_once_per_entry() -> None:
    doc = make_doc(
        make_task(1, 1, 9, 2, 2, "abc", "0.5"),
        make_task(2, subtasks=[make_subtask(1, 2), make_subtask(2, 2, 2, 7, 1, "2.1")]),
    )
    doc.task("master", 2)["subtasks"][1]["dependencies"].append(2.5)
    issues = validate_dependencies(doc, "master")
    assert [(i.kind, i.item, i.dependency) for i in issues] == [
        ("self", "1", "1"),
        ("missing", "1", "9"),
        ("duplicate", "1", "2"),
        ("invalid", "1", "abc"),
        ("invalid", "1", "0.5"),
        ("self", "2.2", "2.2"),
        ("missing", "2.2", "2.7"),
        ("duplicate", "2.2", "2.1"),
        ("invalid", "2.2", "2.5"),
    ]
    assert issues[1].message == "task 1 depends on 9, which does not exist in tag 'master'"


def test_validate_reports_a_subtask_naming_a_task_as_invalid() -> None:
    doc = make_doc(make_task(1, subtasks=[make_subtask(1, 1)]), make_task(2))
    doc.task("master", 1)["subtasks"][0]["dependencies"] = ["2"]  # only possible in memory
    [issue] = validate_dependencies(doc, "master")
    assert (issue.kind, issue.item, issue.dependency) == ("invalid", "1.1", "2")
    assert "a subtask can only depend on subtasks" in issue.message


def test_validate_reports_each_cycle_once_with_its_path() -> None:
    doc = make_doc(
        make_task(1, 3),
        make_task(2, 1),
        make_task(3, 2),
        make_task(4, subtasks=[make_subtask(1, 4, 2), make_subtask(2, 4, 1)]),
    )
    issues = validate_dependencies(doc, "master")
    assert [(i.kind, i.item, i.dependency) for i in issues] == [
        ("cycle", "2", "1"),
        ("cycle", "4.2", "4.1"),
    ]
    assert issues[0].message.startswith("dependency cycle: 1 -> 3 -> 2 -> 1")
    assert issues[1].message.startswith("dependency cycle: 4.1 -> 4.2 -> 4.1")


def test_dependency_issue_to_dict() -> None:
    issue = DependencyIssue("self", "3", "3", "task 3 depends on itself")
    assert issue.to_dict() == {
        "kind": "self",
        "item": "3",
        "dependency": "3",
        "message": "task 3 depends on itself",
    }
    with pytest.raises(AttributeError):
        issue.kind = "missing"  # type: ignore[misc]


# fix_dependencies -------------------------------------------------------------------------------


def test_fix_removes_bad_entries_and_keeps_good_ones() -> None:
    doc = make_doc(make_task(1), make_task(2, 2, 1, 9, 1, "x", subtasks=[make_subtask(1, 2, 1)]))
    fixed = fix_dependencies(doc, "master")
    assert sorted(issue.kind for issue in fixed) == [
        "duplicate",
        "invalid",
        "missing",
        "self",
        "self",
    ]
    assert doc.task("master", 2)["dependencies"] == [1]
    assert doc.task("master", 2)["subtasks"][0]["dependencies"] == []  # it named itself
    assert validate_dependencies(doc, "master") == []


def test_fix_breaks_a_cycle_at_the_edge_that_closes_it() -> None:
    doc = make_doc(make_task(1, 3), make_task(2, 1), make_task(3, 2))
    [issue] = fix_dependencies(doc, "master")
    assert (issue.kind, issue.item, issue.dependency) == ("cycle", "2", "1")
    assert [task["dependencies"] for task in doc.tasks("master")] == [[3], [], [2]]
    assert validate_dependencies(doc, "master") == []


def test_fix_on_a_clean_tag_changes_nothing() -> None:
    doc = make_doc(make_task(1), make_task(2, 1))
    before = doc.to_json()
    assert fix_dependencies(doc, "master") == []
    assert doc.to_json() == before


def test_fix_handles_overlapping_cycles() -> None:
    # 1 <-> 2 and 1 <-> 3 share task 1.
    doc = make_doc(make_task(1, 2, 3), make_task(2, 1), make_task(3, 1))
    fixed = fix_dependencies(doc, "master")
    assert [(i.item, i.dependency) for i in fixed] == [("2", "1"), ("3", "1")]
    assert validate_dependencies(doc, "master") == []
