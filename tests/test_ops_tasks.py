"""add_task, update_task, remove_task."""

from __future__ import annotations

import pytest
from strategies import make_doc, make_subtask, make_task

from taskmaster.errors import (
    DependencyCycle,
    DependencyError,
    InvalidInput,
    TagNotFound,
    TaskNotFound,
)
from taskmaster.model import TASK_KEYS, Document, TaskId
from taskmaster.ops import add_task, remove_task, update_task

T = TaskId.parse


# add_task ---------------------------------------------------------------------------------------


def test_add_task_takes_max_id_plus_one_and_the_reference_key_order() -> None:
    doc = make_doc(make_task(1), make_task(5))
    task = add_task(doc, "master", title="Write docs")
    assert task == {
        "id": 6,
        "title": "Write docs",
        "description": "",
        "details": "",
        "testStrategy": "",
        "status": "pending",
        "dependencies": [],
        "priority": "medium",
        "subtasks": [],
    }
    assert list(task) == list(TASK_KEYS)
    assert doc.tasks("master")[-1] is task


def test_add_task_in_an_empty_tag_gets_id_1() -> None:
    assert add_task(Document.empty(), "master", title="first")["id"] == 1


def test_add_task_stores_fields_and_dependencies_as_the_file_does() -> None:
    doc = make_doc(make_task(1), make_task(2, subtasks=[make_subtask(1, 2)]))
    task = add_task(
        doc,
        "master",
        title="t",
        description="d",
        details="x",
        testStrategy="s",
        dependencies=[T("1"), T("2.1"), T("1")],
        priority="critical",
        status="in-progress",
    )
    assert task["dependencies"] == [1, "2.1"]  # repeats dropped, subtasks dotted
    assert (task["description"], task["details"], task["testStrategy"]) == ("d", "x", "s")
    assert (task["priority"], task["status"]) == ("critical", "in-progress")


def test_add_task_rejects_a_missing_dependency_naming_it() -> None:
    doc = make_doc(make_task(1))
    before = doc.to_json()
    with pytest.raises(DependencyError, match=r"dependency 7 does not exist in tag 'master'"):
        add_task(doc, "master", title="t", dependencies=[T("1"), T("7")])
    assert doc.to_json() == before


def test_add_task_rejects_a_missing_subtask_dependency() -> None:
    doc = make_doc(make_task(1))
    with pytest.raises(DependencyError, match=r"1\.3"):
        add_task(doc, "master", title="t", dependencies=[T("1.3")])


@pytest.mark.parametrize("title", ["", "   "])
def test_add_task_rejects_an_empty_title(title: str) -> None:
    doc = make_doc()
    with pytest.raises(InvalidInput, match="non-empty title"):
        add_task(doc, "master", title=title)
    assert doc.tasks("master") == []


def test_add_task_rejects_a_bad_priority_or_status() -> None:
    doc = make_doc()
    with pytest.raises(InvalidInput, match="invalid priority 'urgent'"):
        add_task(doc, "master", title="t", priority="urgent")
    with pytest.raises(InvalidInput, match="invalid status 'started'"):
        add_task(doc, "master", title="t", status="started")
    assert doc.tasks("master") == []


def test_add_task_to_a_missing_tag() -> None:
    with pytest.raises(TagNotFound, match="tag 'nope' does not exist"):
        add_task(make_doc(), "nope", title="t")


def test_add_task_works_on_a_flat_document() -> None:
    doc = Document.from_data({"tasks": [make_task(3)], "metadata": {}})
    assert add_task(doc, "master", title="t")["id"] == 4
    assert doc.flat and [task["id"] for task in doc.data["tasks"]] == [3, 4]


def test_add_task_refuses_a_cycle_through_a_dangling_reference_to_its_new_id() -> None:
    # Task 1 names task 2, which does not exist yet; the new task 2 depending on 1 closes it.
    doc = make_doc(make_task(1, 2))
    before = doc.to_json()
    with pytest.raises(DependencyCycle) as caught:
        add_task(doc, "master", title="t", dependencies=[T("1")])
    assert caught.value.cycle == ["2", "1", "2"]
    assert doc.to_json() == before


# update_task ------------------------------------------------------------------------------------


def test_update_task_sets_fields_and_keeps_unknown_keys_in_place() -> None:
    doc = make_doc(make_task(1, custom={"a": 1}, createdAt="2024"))
    task = update_task(
        doc,
        "master",
        T("1"),
        {"title": "New", "details": "more", "priority": "high", "status": "review"},
    )
    assert doc.task("master", 1) is task
    assert (task["title"], task["details"], task["priority"], task["status"]) == (
        "New",
        "more",
        "high",
        "review",
    )
    assert task["custom"] == {"a": 1} and task["createdAt"] == "2024"
    assert list(task)[-2:] == ["custom", "createdAt"]


def test_update_task_replaces_metadata() -> None:
    doc = make_doc(make_task(1, metadata={"old": 1, "keep": 2}))
    task = update_task(doc, "master", T("1"), {"metadata": {"new": 3}})
    assert task["metadata"] == {"new": 3}


def test_update_task_rejects_an_unknown_field_naming_it_and_changes_nothing() -> None:
    doc = make_doc(make_task(1))
    before = doc.to_json()
    with pytest.raises(InvalidInput, match="field 'dependencies' cannot be updated"):
        update_task(doc, "master", T("1"), {"title": "x", "dependencies": [2]})
    assert doc.to_json() == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": "started"}, "invalid status"),
        ({"priority": "urgent"}, "invalid priority"),
        ({"title": ""}, "non-empty title"),
        ({"description": 3}, "'description' must be a string"),
        ({"metadata": [1]}, "'metadata' must be an object"),
    ],
)
def test_update_task_rejects_bad_values(fields: dict, message: str) -> None:
    doc = make_doc(make_task(1))
    before = doc.to_json()
    with pytest.raises(InvalidInput, match=message):
        update_task(doc, "master", T("1"), {"details": "changed", **fields})
    assert doc.to_json() == before


def test_update_task_on_a_missing_task() -> None:
    with pytest.raises(TaskNotFound, match="task 9 not found in tag 'master'"):
        update_task(make_doc(make_task(1)), "master", T("9"), {"title": "x"})


def test_update_subtask_returns_its_view_and_recomputes_the_parent() -> None:
    subs = [make_subtask(1, 1), make_subtask(2, 1)]
    doc = make_doc(make_task(1, subtasks=subs))
    view = update_task(doc, "master", T("1.2"), {"status": "in-progress", "title": "Sub"})
    assert view["id"] == "1.2" and view["parentId"] == 1 and view["title"] == "Sub"
    assert doc.task("master", 1)["status"] == "in-progress"
    assert subs[1]["id"] == 2  # the stored subtask keeps its integer id


# remove_task ------------------------------------------------------------------------------------


def test_remove_task_returns_it_and_strips_references() -> None:
    doc = make_doc(
        make_task(1),
        make_task(2, 1, "1.1", 3),
        make_task(3, subtasks=[make_subtask(1, 3, "1.1")]),
    )
    doc.task("master", 1)["subtasks"] = [make_subtask(1, 1)]
    removed = remove_task(doc, "master", [T("1")])
    assert [task["id"] for task in removed] == [1]
    assert [task["id"] for task in doc.tasks("master")] == [2, 3]
    assert doc.task("master", 2)["dependencies"] == [3]
    assert doc.task("master", 3)["subtasks"][0]["dependencies"] == []


def test_remove_task_strips_the_id_from_every_tag() -> None:
    # The reference tool does this, although ids are per tag; we stay compatible.
    doc = make_doc(make_task(1), make_task(2, 1), feature=[make_task(1), make_task(4, 1, "1.2")])
    remove_task(doc, "master", [T("1")])
    assert doc.task("master", 2)["dependencies"] == []
    assert doc.task("feature", 4)["dependencies"] == ["1.2"]
    assert [task["id"] for task in doc.tasks("feature")] == [1, 4]


def test_remove_subtask_ids_strips_dotted_and_sibling_references() -> None:
    doc = make_doc(
        make_task(1, "1.2", subtasks=[make_subtask(1, 1, 2), make_subtask(2, 1)]),
        make_task(2, "1.2", subtasks=[make_subtask(1, 2, "1.2", "1.1")]),
    )
    removed = remove_task(doc, "master", [T("1.2")])
    assert removed[0]["id"] == "1.2" and removed[0]["parentId"] == 1
    assert [sub["id"] for sub in doc.task("master", 1)["subtasks"]] == [1]
    assert doc.task("master", 1)["dependencies"] == []
    assert doc.task("master", 1)["subtasks"][0]["dependencies"] == []
    assert doc.task("master", 2)["dependencies"] == []
    assert doc.task("master", 2)["subtasks"][0]["dependencies"] == ["1.1"]


def test_remove_task_checks_every_id_before_removing_any() -> None:
    doc = make_doc(make_task(1), make_task(2))
    before = doc.to_json()
    with pytest.raises(TaskNotFound, match="task 7 not found"):
        remove_task(doc, "master", [T("1"), T("7"), T("8")])
    with pytest.raises(TaskNotFound, match=r"task 2\.1 not found"):
        remove_task(doc, "master", [T("2.1")])
    assert doc.to_json() == before


def test_remove_task_and_its_own_subtask_together() -> None:
    doc = make_doc(make_task(1, subtasks=[make_subtask(1, 1)]), make_task(2, "1.1"))
    removed = remove_task(doc, "master", [T("1.1"), T("1")])
    assert [item["id"] for item in removed] == ["1.1", 1]
    assert [task["id"] for task in doc.tasks("master")] == [2]
    assert doc.task("master", 2)["dependencies"] == []
