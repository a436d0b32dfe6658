"""list, show, next, set-status, add-task, update-task, remove-task: options, output, JSON."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from test_cli_support import Tm

from taskmaster.cli import context

TASK_KEYS = [
    "id",
    "title",
    "description",
    "details",
    "testStrategy",
    "status",
    "dependencies",
    "priority",
    "subtasks",
]


@pytest.fixture
def tm(tmp_path: Path) -> Tm:
    return Tm.init(tmp_path)


@pytest.fixture
def filled(tm: Tm) -> Tm:
    """1 done; 2 pending high (needs 1) with subtasks 2.1 done, 2.2 pending (needs 2.1);
    3 pending (needs 2); 4 in-progress low."""
    tm.add("Scaffold")
    tm.add("Schema", "--priority", "high", "--dependencies", "1")
    tm.add("API", "--dependencies", "2")
    tm.add("Docs", "--priority", "low")
    tm.ok("add-subtask", "-p", "2", "-t", "Tables")
    tm.ok("add-subtask", "-p", "2", "-t", "Migrations", "--dependencies", "1")
    tm.ok("set-status", "1,2.1", "done")
    tm.ok("set-status", "4", "in-progress")
    tm.ok("set-status", "2", "pending")  # 2.1 done made it in-progress; an explicit set wins
    return tm


# add-task ----------------------------------------------------------------------------------------


def test_add_task_json_is_the_created_task(tm: Tm) -> None:
    task = tm.json(
        "add-task",
        "-t",
        "Set up CI",
        "-d",
        "Run tests on push",
        "--details",
        "GitHub Actions",
        "--test-strategy",
        "A failing test fails the build",
        "--priority",
        "high",
    )
    assert task == {
        "id": 1,
        "title": "Set up CI",
        "description": "Run tests on push",
        "details": "GitHub Actions",
        "testStrategy": "A failing test fails the build",
        "status": "pending",
        "dependencies": [],
        "priority": "high",
        "subtasks": [],
    }
    assert list(task) == TASK_KEYS
    assert tm.tasks() == [task]


def test_add_task_prompt_without_model_becomes_title_and_description(tm: Tm) -> None:
    result = tm.ok("add-task", "--prompt=Build feature X")
    assert result.stdout == "Task 1 added: Build feature X\n"
    task = tm.task(1)
    assert (task["title"], task["description"]) == ("Build feature X", "Build feature X")
    short = tm.json("add-task", "-p", "Second one", "-d", "Own description")
    assert (short["title"], short["description"]) == ("Second one", "Own description")


def test_add_task_needs_title_or_prompt(tm: Tm) -> None:
    assert "--title" in tm.fails(2, "add-task", "-d", "no title").stderr
    assert tm.fails(2, "add-task", "--title", "   ").exit_code == 2
    assert tm.tasks() == []


def test_add_task_ids_and_dependencies(tm: Tm) -> None:
    assert [tm.add(f"T{i}") for i in range(3)] == [1, 2, 3]
    task = tm.json("add-task", "-t", "Dep", "--dependencies", "1,3")
    assert task["id"] == 4 and task["dependencies"] == [1, 3]
    tm.ok("add-subtask", "-p", "1", "-t", "Sub")
    assert tm.json("add-task", "-t", "On sub", "--dependencies", "1.1")["dependencies"] == ["1.1"]
    result = tm.fails(1, "add-task", "-t", "Bad", "--dependencies", "99")
    assert "99" in result.stderr
    assert len(tm.tasks()) == 5


def test_add_task_with_tag_option(tm: Tm) -> None:
    tm.ok("tags", "add", "feature")
    assert tm.json("add-task", "-t", "In feature", "--tag", "feature")["id"] == 1
    assert tm.json("--tag", "feature", "add-task", "-t", "Also")["id"] == 2
    assert tm.tasks() == []
    assert [t["title"] for t in tm.tasks("feature")] == ["In feature", "Also"]


# list --------------------------------------------------------------------------------------------


def test_list_json_shape(filled: Tm) -> None:
    data = filled.json("list")
    assert list(data) == ["tag", "tasks"]
    assert data["tag"] == "master"
    assert [t["id"] for t in data["tasks"]] == [1, 2, 3, 4]
    assert data["tasks"] == filled.tasks()  # the stored objects, subtasks inside
    assert [s["id"] for s in data["tasks"][1]["subtasks"]] == [1, 2]
    assert filled.json("list", "--with-subtasks") == data


def test_list_status_filters(filled: Tm) -> None:
    def ids(*args: str) -> list[int]:
        return [t["id"] for t in filled.json("list", *args)["tasks"]]

    assert ids("pending") == [2, 3]
    assert ids("-s", "pending") == [2, 3]
    assert ids("--status", "done,in-progress") == [1, 4]
    assert ids("done", "-s", "in-progress") == [1, 4]
    assert ids("--ready") == [2, 4]
    assert ids("pending", "--ready") == [2]
    assert ids("review") == []


def test_list_human_table_and_summary(filled: Tm) -> None:
    out = filled.ok("list").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "Title", "Status", "Priority", "Dependencies"]
    row = {line.split()[0]: line.split() for line in lines[1:5]}
    assert row["2"] == ["2", "Schema", "pending", "high", "1"]
    assert row["3"] == ["3", "API", "pending", "medium", "2"]
    assert row["1"][-1] == "-"
    assert "2.1" not in out
    assert lines[-1] == "Tag 'master': 4 tasks (2 pending, 1 in-progress, 1 done); 25% done"


def test_list_with_subtasks_shows_indented_rows(filled: Tm) -> None:
    lines = filled.ok("list", "--with-subtasks").stdout.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("2 "))
    assert lines[index + 1].startswith("  2.1  Tables")
    assert lines[index + 2].startswith("  2.2  Migrations")
    assert lines[index + 2].split()[-1] == "2.1"  # a bare sibling number shown in full
    assert lines[-1].endswith("; 2 subtasks (1 pending, 1 done)")


def test_list_empty(tm: Tm) -> None:
    assert tm.ok("list").stdout == "Tag 'master': no tasks.\n"
    assert tm.json("list") == {"tag": "master", "tasks": []}


def test_list_uses_the_current_tag(filled: Tm) -> None:
    filled.ok("tags", "add", "other")
    filled.ok("tags", "use", "other")
    assert filled.json("list") == {"tag": "other", "tasks": []}
    assert filled.json("list", "--tag", "master")["tag"] == "master"


# show --------------------------------------------------------------------------------------------


def test_show_json_task_subtask_and_several(filled: Tm) -> None:
    task = filled.json("show", "2")
    assert task == filled.task(2)
    sub = filled.json("show", "2.2")
    assert sub["id"] == "2.2" and sub["parentId"] == 2
    assert sub["title"] == "Migrations" and sub["dependencies"] == [1]
    several = filled.json("show", "--id", "3,2.1,1")
    assert [item["id"] for item in several] == [3, "2.1", 1]
    assert filled.json("show", "-i", "3") == filled.task(3)


def test_show_human_detail(filled: Tm) -> None:
    filled.ok("update-task", "-i", "2", "--details", "line one\nline two", "-d", "The schema")
    out = filled.ok("show", "2").stdout
    assert out.startswith("Task 2: Schema\n")
    assert "Status:       pending" in out
    assert "Priority:     high" in out
    assert "Dependencies: 1\n" in out
    assert "Description:  The schema" in out
    assert "Details:\n  line one\n  line two" in out
    assert "  2.2  pending  Migrations  (after 2.1)" in out
    sub = filled.ok("show", "2.2").stdout
    assert sub.startswith("Subtask 2.2: Migrations\n")
    assert "Parent:       2" in sub and "Dependencies: 2.1" in sub
    both = filled.ok("show", "1,3").stdout
    assert "Task 1: Scaffold" in both and "\n\nTask 3: API" in both


def test_show_errors(filled: Tm) -> None:
    assert "missing task id" in filled.fails(2, "show").stderr
    assert "conflicting" in filled.fails(2, "show", "1", "--id", "2").stderr
    assert filled.ok("show", "1", "--id", "1").stdout.startswith("Task 1")
    assert filled.fails(1, "show", "2.9").stderr == "Error: task 2.9 not found in tag 'master'\n"


# next --------------------------------------------------------------------------------------------


def test_next_prefers_ready_subtask_of_in_progress_parent(filled: Tm) -> None:
    # 4 is in progress but has no subtasks; 2 is pending: the top-level rule applies.
    assert filled.json("next")["id"] == 2  # high beats in-progress low
    filled.ok("set-status", "2", "in-progress")
    sub = filled.json("next")
    assert sub["id"] == "2.2" and sub["parentId"] == 2 and sub["parentTitle"] == "Schema"
    out = filled.ok("next").stdout
    assert out.startswith("Next up:\n\nSubtask 2.2: Migrations")
    assert "Parent:       2 (Schema)" in out


def test_next_null_when_nothing_is_ready(tm: Tm) -> None:
    assert tm.ok("next", "--json").stdout.strip() == "null"
    tm.add("Only")
    tm.ok("set-status", "1", "done")
    assert tm.json("next") is None
    assert "No task is ready" in tm.ok("next").stdout


# set-status --------------------------------------------------------------------------------------


def test_set_status_forms(filled: Tm) -> None:
    assert filled.ok("set-status", "3", "review").stdout == "Task 3 is now review.\n"
    filled.ok("set-status", "-i", "3", "-s", "blocked")
    assert filled.task(3)["status"] == "blocked"
    filled.ok("set-status", "3", "-s", "deferred")
    assert filled.task(3)["status"] == "deferred"
    changed = filled.json("set-status", "--id", "3,2.2", "--status", "done")
    assert [(i["id"], i["status"]) for i in changed] == [(3, "done"), ("2.2", "done")]
    # All subtasks of 2 are done now: the parent follows.
    assert filled.task(2)["status"] == "done"


def test_set_status_errors_change_nothing(filled: Tm) -> None:
    before = filled.data()
    assert "missing status" in filled.fails(2, "set-status", "3").stderr
    assert "missing task id" in filled.fails(2, "set-status", "-s", "done").stderr
    assert filled.fails(2, "set-status", "3", "done", "-s", "review").exit_code == 2
    assert "9" in filled.fails(1, "set-status", "3,9", "done").stderr
    assert filled.data() == before


# update-task -------------------------------------------------------------------------------------


def test_update_task_fields(filled: Tm) -> None:
    args = ["-i", "3", "-t", "Public API", "--priority", "critical", "--test-strategy", "Tests"]
    updated = filled.json("update-task", *args)
    assert (updated["title"], updated["priority"], updated["testStrategy"]) == (
        "Public API",
        "critical",
        "Tests",
    )
    assert filled.task(3) == updated
    sub = filled.json("update-task", "2.2", "--status", "done", "-d", "Alembic")
    assert sub["id"] == "2.2" and sub["description"] == "Alembic"
    assert filled.task(2)["status"] == "done"
    out = filled.ok("update-task", "--id", "1", "--details", "Done long ago").stdout
    assert out == "Task 1 updated: details\n"


def test_update_task_errors(filled: Tm) -> None:
    assert "nothing to update" in filled.fails(2, "update-task", "-i", "3").stderr
    assert "AI model" in filled.fails(2, "update-task", "-i", "3", "-p", "make it better").stderr
    assert filled.fails(2, "update-task", "-i", "3", "--priority", "asap").exit_code == 2
    assert filled.fails(1, "update-task", "-i", "30", "-t", "x").exit_code == 1
    assert filled.fails(2, "update-task", "-i", "1,2", "-t", "x").exit_code == 2


# remove-task -------------------------------------------------------------------------------------


def test_remove_task_with_yes(filled: Tm) -> None:
    removed = filled.json("remove-task", "--id", "2", "--yes")
    assert [r["id"] for r in removed] == [2]
    assert removed[0]["title"] == "Schema" and len(removed[0]["subtasks"]) == 2
    assert [t["id"] for t in filled.tasks()] == [1, 3, 4]
    assert filled.task(3)["dependencies"] == []  # references to a removed task are stripped
    out = filled.ok("remove-task", "4", "-y").stdout
    assert out == "Task 4 removed: Docs\n"


def test_remove_task_subtask(filled: Tm) -> None:
    removed = filled.json("remove-task", "-i", "2.1", "-y")
    assert removed[0]["id"] == "2.1"
    assert [s["id"] for s in filled.task(2)["subtasks"]] == [2]
    assert filled.task(2)["subtasks"][0]["dependencies"] == []


def test_remove_task_without_yes_and_without_tty_is_refused(filled: Tm) -> None:
    before = filled.tasks_file.read_bytes()
    result = filled.fails(2, "remove-task", "--id", "3")
    assert "--yes" in result.stderr
    assert filled.tasks_file.read_bytes() == before


def test_remove_task_asks_on_a_tty(filled: Tm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context, "stdin_is_tty", lambda: True)
    declined = filled("remove-task", "--id", "3", input="n\n")
    assert declined.exit_code == 1
    assert "Remove Task 3 'API'?" in declined.stderr
    assert [t["id"] for t in filled.tasks()] == [1, 2, 3, 4]
    accepted = filled("remove-task", "--id", "3", "--json", input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    assert [r["id"] for r in orjson.loads(accepted.stdout)] == [3]  # prompt kept off stdout
    assert [t["id"] for t in filled.tasks()] == [1, 2, 4]


def test_remove_task_unknown_id(filled: Tm) -> None:
    assert "7" in filled.fails(1, "remove-task", "-i", "7", "-y").stderr
    assert "7" in filled.fails(1, "remove-task", "-i", "7").stderr  # before any question
    assert len(filled.tasks()) == 4


def test_a_status_filter_keeps_the_summary_about_the_whole_tag(tmp_path: Path) -> None:
    tm = Tm.init(tmp_path)
    for title in ("One", "Two", "Three", "Four"):
        tm.add(title)
    tm.ok("set-status", "1,2,3", "done")
    out = tm.ok("list", "pending").stdout
    assert out.splitlines()[-1] == (
        "Tag 'master': 4 tasks (1 pending, 3 done); 75% done. Shown: 1 of 4 (pending)"
    )
    nothing = tm.ok("list", "--status", "review").stdout.splitlines()
    assert nothing[0] == "No task matches (review)."
    assert nothing[-1].endswith("75% done. Shown: 0 of 4 (review)")
    assert tm.ok("list").stdout.splitlines()[-1].endswith("75% done")
