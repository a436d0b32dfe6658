"""add-subtask, remove-subtask, clear-subtasks."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli_support import Tm


@pytest.fixture
def tm(tmp_path: Path) -> Tm:
    tm = Tm.init(tmp_path)
    tm.add("Parent")
    tm.add("Other")
    return tm


def test_add_subtask_json_shape_and_ids(tm: Tm) -> None:
    sub = tm.json("add-subtask", "-p", "1", "-t", "First", "-d", "Desc", "--details", "More")
    assert sub["id"] == "1.1" and sub["parentId"] == 1
    assert (sub["title"], sub["description"], sub["details"]) == ("First", "Desc", "More")
    assert sub["status"] == "pending" and sub["dependencies"] == []
    stored = tm.task(1)["subtasks"][0]
    assert stored["id"] == 1 and stored["parentTaskId"] == 1
    second = tm.json("add-subtask", "--parent", "1", "--title", "Second", "-s", "in-progress")
    assert second["id"] == "1.2" and second["status"] == "in-progress"
    out = tm.ok("add-subtask", "-p", "2", "-t", "Elsewhere").stdout
    assert out == "Subtask 2.1 added: Elsewhere\n"


def test_add_subtask_dependencies_bare_is_sibling(tm: Tm) -> None:
    tm.ok("add-subtask", "-p", "1", "-t", "A")
    tm.ok("add-subtask", "-p", "2", "-t", "Other's")
    sub = tm.json("add-subtask", "-p", "1", "-t", "B", "--dependencies", "1,2.1")
    assert sub["dependencies"] == [1, "2.1"]  # 1 = sibling 1.1, stored bare as the format does
    assert "1.9" in tm.fails(1, "add-subtask", "-p", "1", "-t", "C", "--dependencies", "9").stderr


def test_add_subtask_errors(tm: Tm) -> None:
    assert "--title" in tm.fails(2, "add-subtask", "-p", "1").stderr
    assert tm.fails(2, "add-subtask", "-t", "No parent").exit_code == 2
    assert tm.fails(2, "add-subtask", "-p", "1", "-t", "x", "-s", "later").exit_code == 2
    assert "not both" in tm.fails(2, "add-subtask", "-p", "1", "-t", "x", "-i", "2").stderr
    assert "task 5 not found" in tm.fails(1, "add-subtask", "-p", "5", "-t", "x").stderr
    assert tm.fails(1, "add-subtask", "-p", "1.1", "-t", "x").exit_code == 1
    assert tm.task(1)["subtasks"] == []


def test_add_subtask_converts_a_task(tm: Tm) -> None:
    tm.add("Third", "--dependencies", "2")
    sub = tm.json("add-subtask", "-p", "1", "--task-id", "2")
    assert sub["id"] == "1.1" and sub["title"] == "Other"
    assert [t["id"] for t in tm.tasks()] == [1, 3]
    assert tm.task(3)["dependencies"] == ["1.1"]  # references follow the task
    tm.add("Fourth")
    assert tm.ok("add-subtask", "-p", "1", "-i", "4").stdout == (
        "Task 4 is now subtask 1.2: Fourth\n"
    )


def test_remove_subtask(tm: Tm) -> None:
    for title in ("A", "B", "C"):
        tm.ok("add-subtask", "-p", "1", "-t", title)
    tm.ok("add-dependency", "-i", "1.3", "-d", "1.2")
    removed = tm.json("remove-subtask", "--id", "1.2")
    assert [r["id"] for r in removed] == ["1.2"] and removed[0]["title"] == "B"
    assert [s["id"] for s in tm.task(1)["subtasks"]] == [1, 3]
    assert tm.task(1)["subtasks"][1]["dependencies"] == []
    assert tm.ok("remove-subtask", "-i", "1.1").stdout == "Subtask 1.1 removed: A\n"


def test_remove_subtask_convert(tm: Tm) -> None:
    tm.ok("add-subtask", "-p", "1", "-t", "Promote me")
    tm.ok("add-subtask", "-p", "1", "-t", "And me")
    created = tm.json("remove-subtask", "-i", "1.1", "-c")
    assert created[0]["id"] == 3 and created[0]["title"] == "Promote me"
    assert "parentTaskId" not in tm.task(3)
    out = tm.ok("remove-subtask", "--id", "1.2", "--convert").stdout
    assert out == "Subtask 1.2 is now task 4: And me\n"
    assert tm.task(1)["subtasks"] == []


def test_remove_subtask_errors(tm: Tm) -> None:
    tm.ok("add-subtask", "-p", "1", "-t", "A")
    assert "subtask ids" in tm.fails(2, "remove-subtask", "-i", "1").stderr
    assert tm.fails(2, "remove-subtask").exit_code == 2
    assert "1.5" in tm.fails(1, "remove-subtask", "-i", "1.1,1.5").stderr
    assert len(tm.task(1)["subtasks"]) == 1


def test_clear_subtasks(tm: Tm) -> None:
    for parent in ("1", "1", "2"):
        tm.ok("add-subtask", "-p", parent, "-t", "x")
    tm.add("Needs a subtask", "--dependencies", "1.2")
    changed = tm.json("clear-subtasks", "--id", "1")
    assert [t["id"] for t in changed] == [1] and changed[0]["subtasks"] == []
    assert tm.task(3)["dependencies"] == []
    assert len(tm.task(2)["subtasks"]) == 1
    out = tm.ok("clear-subtasks", "--all").stdout
    assert out == "Cleared the subtasks of task 2: Other\n"
    assert all(not t.get("subtasks") for t in tm.tasks())
    assert tm.ok("clear-subtasks", "--all").stdout == "No subtasks to clear.\n"


def test_clear_subtasks_errors(tm: Tm) -> None:
    assert "--all" in tm.fails(2, "clear-subtasks").stderr
    assert tm.fails(2, "clear-subtasks", "-i", "1", "--all").exit_code == 2
    assert tm.fails(2, "clear-subtasks", "-i", "1.1").exit_code == 2
    assert "task 9 not found" in tm.fails(1, "clear-subtasks", "-i", "9").stderr
