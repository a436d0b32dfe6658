"""add_subtask, convert_task_to_subtask, remove_subtask, clear_subtasks."""

from __future__ import annotations

import itertools

import pytest
from strategies import make_doc, make_subtask, make_task

from taskmaster.errors import (
    DependencyCycle,
    DependencyError,
    InvalidInput,
    TaskNotFound,
)
from taskmaster.model import SUBTASK_KEYS, TASK_KEYS, TaskId
from taskmaster.ops import (
    add_subtask,
    append_subtask_details,
    clear_subtasks,
    convert_task_to_subtask,
    remove_subtask,
    validate_dependencies,
)

T = TaskId.parse


# add_subtask ------------------------------------------------------------------------------------


def test_add_subtask_takes_the_next_id_in_its_parent_and_the_reference_key_order() -> None:
    doc = make_doc(make_task(1, subtasks=[make_subtask(1, 1), make_subtask(4, 1)]))
    view = add_subtask(doc, "master", 1, title="Step", description="d", details="x")
    stored = doc.task("master", 1)["subtasks"][-1]
    assert stored == {
        "id": 5,
        "title": "Step",
        "description": "d",
        "details": "x",
        "status": "pending",
        "dependencies": [],
        "parentTaskId": 1,
    }
    assert list(stored) == [
        "id",
        "title",
        "description",
        "details",
        "status",
        "dependencies",
        "parentTaskId",
    ]
    assert view["id"] == "1.5" and view["parentId"] == 1


def test_add_subtask_to_a_task_without_subtasks_key() -> None:
    task = make_task(2)
    del task["subtasks"]
    doc = make_doc(task)
    assert add_subtask(doc, "master", 2, title="s")["id"] == "2.1"
    assert doc.task("master", 2)["subtasks"][0]["id"] == 1


def test_add_subtask_takes_the_subtask_fields_in_the_reference_order() -> None:
    doc = make_doc(make_task(1))
    add_subtask(doc, "master", 1, title="a")
    add_subtask(doc, "master", 1, title="b", status="in-progress")
    first, second = doc.task("master", 1)["subtasks"]
    assert list(first) == ["id", *(key for key in SUBTASK_KEYS if key != "id")]
    assert "testStrategy" not in first and "priority" not in first
    assert second["status"] == "in-progress"
    # A field subtasks do not take is refused by name, and nothing is added.
    with pytest.raises(InvalidInput, match="testStrategy"):
        add_subtask(doc, "master", 1, title="c", testStrategy="run it")
    assert len(doc.task("master", 1)["subtasks"]) == 2


def test_add_subtask_stores_siblings_bare_and_other_subtasks_dotted() -> None:
    doc = make_doc(
        make_task(1, subtasks=[make_subtask(1, 1)]), make_task(2, subtasks=[make_subtask(1, 2)])
    )
    add_subtask(doc, "master", 1, title="s", dependencies=[T("1.1"), T("2.1")])
    assert doc.task("master", 1)["subtasks"][-1]["dependencies"] == [1, "2.1"]


def test_add_subtask_refuses_a_top_level_task_dependency() -> None:
    doc = make_doc(make_task(1), make_task(2))
    with pytest.raises(DependencyError, match=r"subtask 1\.1 cannot depend on task 2"):
        add_subtask(doc, "master", 1, title="s", dependencies=[T("2")])
    assert doc.task("master", 1)["subtasks"] == []


def test_add_subtask_refuses_a_missing_dependency() -> None:
    doc = make_doc(make_task(1))
    with pytest.raises(DependencyError, match=r"dependency 1\.9 does not exist"):
        add_subtask(doc, "master", 1, title="s", dependencies=[T("1.9")])
    assert doc.task("master", 1)["subtasks"] == []


def test_add_subtask_errors() -> None:
    doc = make_doc(make_task(1))
    with pytest.raises(TaskNotFound, match="task 3 not found"):
        add_subtask(doc, "master", 3, title="s")
    with pytest.raises(InvalidInput, match="non-empty title"):
        add_subtask(doc, "master", 1, title="")
    with pytest.raises(InvalidInput, match="invalid status"):
        add_subtask(doc, "master", 1, title="s", status="nope")
    assert doc.task("master", 1)["subtasks"] == []


def test_add_subtask_refuses_a_cycle_through_a_dangling_sibling_reference() -> None:
    # 1.1 names sibling 2 before it exists; a new 1.2 depending on 1.1 would close the loop.
    doc = make_doc(make_task(1, subtasks=[make_subtask(1, 1, 2)]))
    before = doc.to_json()
    with pytest.raises(DependencyCycle, match=r"1\.2 -> 1\.1 -> 1\.2"):
        add_subtask(doc, "master", 1, title="s", dependencies=[T("1.1")])
    assert doc.to_json() == before


# convert_task_to_subtask ------------------------------------------------------------------------


def test_convert_task_to_subtask_moves_it_and_rewrites_references() -> None:
    doc = make_doc(
        make_task(1, "2.1", subtasks=[make_subtask(1, 1)]),
        make_task(2, subtasks=[make_subtask(1, 2)]),
        make_task(3, "2.1", "1.1", status="in-progress", flavour="x"),
        make_task(4, 3),
    )
    view = convert_task_to_subtask(doc, "master", 3, 1)
    assert view["id"] == "1.2" and view["parentId"] == 1
    assert [task["id"] for task in doc.tasks("master")] == [1, 2, 4]
    sub = doc.task("master", 1)["subtasks"][-1]
    # "2.1" still names that subtask; "1.1" is now a sibling.
    assert sub["dependencies"] == ["2.1", 1]
    assert sub["status"] == "in-progress" and sub["flavour"] == "x"
    assert sub["parentTaskId"] == 1 and "subtasks" not in sub
    assert list(sub)[:7] == [
        "id",
        "title",
        "description",
        "details",
        "status",
        "dependencies",
        "parentTaskId",
    ]
    assert doc.task("master", 4)["dependencies"] == ["1.2"]
    assert validate_dependencies(doc, "master") == []


@pytest.mark.parametrize(
    ("task_id", "parent", "error", "message"),
    [
        (1, 1, InvalidInput, "cannot become a subtask of itself"),
        (2, 1, InvalidInput, "subtasks do not nest"),
        (1, 9, TaskNotFound, "task 9 not found"),
        (9, 1, TaskNotFound, "task 9 not found"),
    ],
)
def test_convert_task_to_subtask_refusals(task_id, parent, error, message) -> None:
    doc = make_doc(make_task(1), make_task(2, subtasks=[make_subtask(1, 2)]))
    before = doc.to_json()
    with pytest.raises(error, match=message):
        convert_task_to_subtask(doc, "master", task_id, parent)
    assert doc.to_json() == before


def test_convert_task_to_subtask_keeps_every_dependency_or_refuses() -> None:
    # A subtask cannot name a task, so a task depending on tasks 2 and 4 is not converted
    # (today's reference copies the numbers, which then read as siblings).
    doc = make_doc(make_task(1), make_task(2), make_task(3, 2, 4, "1.1"), make_task(4))
    doc.task("master", 1)["subtasks"] = [make_subtask(1, 1)]
    before = doc.to_json()
    with pytest.raises(DependencyError, match=r"depends on task 2, 4, and a subtask") as err:
        convert_task_to_subtask(doc, "master", 3, 1)
    assert err.value.dependencies == ["2", "4"]
    assert doc.to_json() == before


@pytest.mark.parametrize("chain", [(3, 4), (3, 5, 4)])
def test_convert_task_to_subtask_refuses_when_the_parent_depends_on_the_task(chain) -> None:
    # As the reference tool: parent 3 waits on task 4 (directly or through 5).
    doc = make_doc(make_task(3), make_task(4), make_task(5))
    for holder, target in itertools.pairwise(chain):
        doc.task("master", holder)["dependencies"] = [target]
    before = doc.to_json()
    with pytest.raises(DependencyError, match="circular dependency") as err:
        convert_task_to_subtask(doc, "master", 4, 3)
    assert " -> ".join(map(str, chain)) in str(err.value)
    assert doc.to_json() == before


def test_convert_task_to_subtask_refuses_a_cycle_and_leaves_the_document_unchanged() -> None:
    # 1.1 names sibling 2 (dangling); task 3 -> "1.1" becomes 1.2 -> 1.1 -> 1.2.
    doc = make_doc(make_task(1, subtasks=[make_subtask(1, 1, 2)]), make_task(3, "1.1"))
    before = doc.to_json()
    with pytest.raises(DependencyCycle, match=r"1\.2 -> 1\.1 -> 1\.2"):
        convert_task_to_subtask(doc, "master", 3, 1)
    assert doc.to_json() == before


# remove_subtask ---------------------------------------------------------------------------------


def _family():
    return make_doc(
        make_task(
            1,
            subtasks=[
                make_subtask(1, 1),
                make_subtask(2, 1, 1, "2.1", priority="high", status="done", extra=[1]),
                make_subtask(3, 1, 2),
            ],
        ),
        make_task(2, "1.2", subtasks=[make_subtask(1, 2, "1.2")]),
    )


def test_remove_subtask_deletes_and_strips_references() -> None:
    doc = _family()
    removed = remove_subtask(doc, "master", [T("1.2")])
    assert [view["id"] for view in removed] == ["1.2"]
    assert removed[0]["extra"] == [1]
    assert [sub["id"] for sub in doc.task("master", 1)["subtasks"]] == [1, 3]
    assert doc.task("master", 1)["subtasks"][1]["dependencies"] == []
    assert doc.task("master", 2)["dependencies"] == []
    assert doc.task("master", 2)["subtasks"][0]["dependencies"] == []


def test_remove_subtask_with_convert_creates_a_task() -> None:
    doc = _family()
    # 1.3 and 2.1 depend on 1.2; as a task it could not be named by them: refused, not dropped.
    before = doc.to_json()
    with pytest.raises(DependencyError, match=r"subtasks 1\.3, 2\.1 depend on it"):
        remove_subtask(doc, "master", [T("1.2")], convert=True)
    assert doc.to_json() == before
    doc.task("master", 1)["subtasks"][2]["dependencies"] = []
    doc.task("master", 2)["subtasks"][0]["dependencies"] = []
    [task] = remove_subtask(doc, "master", [T("1.2")], convert=True)
    assert task["id"] == 3
    assert list(task)[:9] == list(TASK_KEYS)
    assert (task["status"], task["priority"], task["testStrategy"]) == ("done", "high", "")
    # The sibling is now a dotted reference; the old parent joins, as in the reference tool.
    assert task["dependencies"] == ["1.1", "2.1", 1]
    assert task["extra"] == [1] and "parentTaskId" not in task
    assert doc.tasks("master")[-1] is task
    assert doc.task("master", 2)["dependencies"] == [3]  # followed the promoted subtask
    assert validate_dependencies(doc, "master") == []


def test_remove_subtask_with_convert_defaults_missing_fields() -> None:
    sub = {"id": 1, "title": "bare", "parentId": "1"}
    doc = make_doc(make_task(1, subtasks=[sub]))
    [task] = remove_subtask(doc, "master", [T("1.1")], convert=True)
    assert task == {
        "id": 2,
        "title": "bare",
        "description": "",
        "details": "",
        "testStrategy": "",
        "status": "pending",
        "dependencies": [1],
        "priority": "medium",
        "subtasks": [],
    }


def test_remove_subtask_with_convert_refuses_when_the_parent_dependency_closes_a_cycle() -> None:
    # Task 1 waits on its subtask 1.1 explicitly: once promoted to 2, 2 -> 1 -> 2.
    doc = make_doc(make_task(1, "1.1", subtasks=[make_subtask(1, 1)]))
    before = doc.to_json()
    with pytest.raises(DependencyCycle):
        remove_subtask(doc, "master", [T("1.1")], convert=True)
    assert doc.to_json() == before


def test_remove_subtask_refuses_task_ids_and_missing_subtasks() -> None:
    doc = _family()
    before = doc.to_json()
    with pytest.raises(InvalidInput, match="2 is not a subtask id"):
        remove_subtask(doc, "master", [T("1.1"), T("2")])
    with pytest.raises(TaskNotFound, match=r"task 1\.7 not found"):
        remove_subtask(doc, "master", [T("1.1"), T("1.7")], convert=True)
    assert doc.to_json() == before


# clear_subtasks ---------------------------------------------------------------------------------


def test_clear_subtasks_of_named_tasks_strips_references() -> None:
    doc = make_doc(
        make_task(1, "1.1", subtasks=[make_subtask(1, 1)]),
        make_task(2, "1.1", subtasks=[make_subtask(1, 2, "1.1")]),
        make_task(3),
    )
    changed = clear_subtasks(doc, "master", [1, 3])
    assert [task["id"] for task in changed] == [1]  # task 3 had none: not changed
    assert doc.task("master", 1)["subtasks"] == []
    assert doc.task("master", 1)["dependencies"] == []
    assert doc.task("master", 2)["dependencies"] == []
    assert doc.task("master", 2)["subtasks"][0]["dependencies"] == []


def test_clear_subtasks_of_all_tasks() -> None:
    doc = _family()
    changed = clear_subtasks(doc, "master", None)
    assert [task["id"] for task in changed] == [1, 2]
    assert all(task["subtasks"] == [] for task in doc.tasks("master"))
    assert doc.task("master", 2)["dependencies"] == []


def test_clear_subtasks_errors_change_nothing() -> None:
    doc = _family()
    before = doc.to_json()
    with pytest.raises(TaskNotFound, match="task 5 not found"):
        clear_subtasks(doc, "master", [1, 5])
    with pytest.raises(InvalidInput, match=r"1\.1 is a subtask id"):
        clear_subtasks(doc, "master", [T("1.1")])
    assert doc.to_json() == before


def test_a_subtask_id_where_a_task_is_required_is_refused() -> None:
    doc = make_doc(make_task(1, subtasks=[make_subtask(1, 1)]), make_task(2))
    before = doc.to_json()
    with pytest.raises(InvalidInput, match=r"the parent must be a task id \(N\), not the subtask"):
        add_subtask(doc, "master", T("1.1"), title="s")
    with pytest.raises(InvalidInput, match=r"the task to convert must be a task id"):
        convert_task_to_subtask(doc, "master", T("1.1"), 2)
    assert doc.to_json() == before


# append_subtask_details --------------------------------------------------------------------------


def test_append_subtask_details_adds_blocks_in_the_reference_format() -> None:
    doc = make_doc(make_task(1, subtasks=[make_subtask(1, 1, details="")]))
    now = "2026-05-01T10:00:00.000Z"
    view = append_subtask_details(doc, "master", T("1.1"), "  First  ", now=now)
    block = f"<info added on {now}>\nFirst\n</info added on {now}>"
    assert view["id"] == "1.1" and view["details"] == block
    later = "2026-05-02T10:00:00.000Z"
    append_subtask_details(doc, "master", T("1.1"), "Second", now=later)
    stored = doc.task("master", 1)["subtasks"][0]["details"]
    assert stored == f"{block}\n<info added on {later}>\nSecond\n</info added on {later}>"


def test_append_subtask_details_refuses_without_changing_anything() -> None:
    doc = make_doc(make_task(1, subtasks=[make_subtask(1, 1, details="keep")]))
    before = doc.to_json()
    with pytest.raises(InvalidInput, match="task id"):
        append_subtask_details(doc, "master", T("1"), "x", now="t")
    with pytest.raises(InvalidInput, match="empty"):
        append_subtask_details(doc, "master", T("1.1"), " \n ", now="t")
    with pytest.raises(TaskNotFound):
        append_subtask_details(doc, "master", T("1.7"), "x", now="t")
    with pytest.raises(TaskNotFound):
        append_subtask_details(doc, "master", T("9.1"), "x", now="t")
    assert doc.to_json() == before
