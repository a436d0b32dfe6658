"""add/remove-dependency, validate/fix-dependencies and move."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from test_cli_support import Tm


@pytest.fixture
def tm(tmp_path: Path) -> Tm:
    tm = Tm.init(tmp_path)
    for title in ("One", "Two", "Three", "Four"):
        tm.add(title)
    return tm


def test_add_and_remove_dependency(tm: Tm) -> None:
    task = tm.json("add-dependency", "--id", "3", "--depends-on", "1")
    assert task["id"] == 3 and task["dependencies"] == [1]
    assert tm.ok("add-dependency", "-i", "3", "-d", "2").stdout == "Task 3 now depends on 2.\n"
    assert tm.task(3)["dependencies"] == [1, 2]
    task = tm.json("remove-dependency", "-i", "3", "-d", "1")
    assert task["dependencies"] == [2]
    out = tm.ok("remove-dependency", "-i", "3", "-d", "2").stdout
    assert out == "Task 3 no longer depends on 2.\n"
    assert tm.task(3)["dependencies"] == []


def test_subtask_dependencies_bare_means_sibling(tm: Tm) -> None:
    tm.ok("add-subtask", "-p", "1", "-t", "a")
    tm.ok("add-subtask", "-p", "1", "-t", "b")
    sub = tm.json("add-dependency", "-i", "1.2", "-d", "1")
    assert sub["id"] == "1.2" and sub["dependencies"] == [1]
    tm.json("add-dependency", "-i", "2", "-d", "1.2")
    assert tm.task(2)["dependencies"] == ["1.2"]
    assert tm.json("remove-dependency", "-i", "1.2", "-d", "1.1")["dependencies"] == []


def test_add_dependency_rejects_cycle_self_and_missing(tm: Tm) -> None:
    tm.ok("add-dependency", "-i", "2", "-d", "1")
    tm.ok("add-dependency", "-i", "3", "-d", "2")
    before = tm.tasks_file.read_bytes()
    cycle = tm.fails(1, "add-dependency", "-i", "1", "-d", "3")
    assert "cycle" in cycle.stderr and "1 -> 3 -> 2 -> 1" in cycle.stderr
    assert tm.fails(1, "add-dependency", "-i", "2", "-d", "2").exit_code == 1
    assert "9" in tm.fails(1, "add-dependency", "-i", "2", "-d", "9").stderr
    assert "9" in tm.fails(1, "add-dependency", "-i", "9", "-d", "2").stderr
    assert tm.tasks_file.read_bytes() == before
    assert tm.fails(2, "add-dependency", "-i", "2").exit_code == 2
    assert tm.fails(2, "add-dependency", "-i", "2", "-d", "x").exit_code == 2


def _break(tm: Tm) -> None:
    """Write problems a hand edit or another tool could leave: missing, self, duplicate, cycle."""
    data = tm.data()
    tasks = data["master"]["tasks"]
    tasks[0]["dependencies"] = [99, 1]
    tasks[1]["dependencies"] = [3, 3]
    tasks[2]["dependencies"] = [2]
    tm.tasks_file.write_bytes(orjson.dumps(data))


def test_validate_dependencies_valid(tm: Tm) -> None:
    assert tm.json("validate-dependencies") == {"tag": "master", "valid": True, "issues": []}
    assert "valid" in tm.ok("validate-dependencies").stdout


def test_validate_dependencies_reports_and_exits_1(tm: Tm) -> None:
    _break(tm)
    before = tm.tasks_file.read_bytes()
    result = tm("validate-dependencies", "--json")
    assert result.exit_code == 1 and result.stderr == ""
    report = orjson.loads(result.stdout)
    assert report["tag"] == "master" and report["valid"] is False
    kinds = sorted(issue["kind"] for issue in report["issues"])
    assert kinds == ["cycle", "duplicate", "missing", "self"]
    assert all(
        set(issue) == {"kind", "item", "dependency", "message"} for issue in report["issues"]
    )
    missing = next(i for i in report["issues"] if i["kind"] == "missing")
    assert (missing["item"], missing["dependency"]) == ("1", "99")
    human = tm("validate-dependencies")
    assert human.exit_code == 1
    assert human.stdout.startswith("4 dependency issues in tag 'master':\n")
    assert "  1 -> 99: " in human.stdout
    assert tm.tasks_file.read_bytes() == before  # validating never writes


def test_fix_dependencies(tm: Tm) -> None:
    _break(tm)
    fixed = tm.json("fix-dependencies")
    assert fixed["tag"] == "master" and len(fixed["fixed"]) == 4
    assert tm.json("validate-dependencies")["valid"] is True
    assert tm.task(1)["dependencies"] == []
    assert tm.ok("fix-dependencies").stdout == "No dependency issues in tag 'master'.\n"
    _break(tm)
    assert tm.ok("fix-dependencies").stdout.startswith("Fixed 4 dependency issues")


# move ------------------------------------------------------------------------------------------


def test_move_renumber_and_reorder(tm: Tm) -> None:
    tm.ok("add-dependency", "-i", "3", "-d", "1")
    moved = tm.json("move", "--from", "1", "--to", "7")
    assert [m["id"] for m in moved] == [7]
    assert [t["id"] for t in tm.tasks()] == [2, 3, 4, 7]
    assert tm.task(3)["dependencies"] == [7]
    refused = tm.fails(1, "move", "--from", "4", "--to", "2")
    assert refused.stderr == "Error: task 2 already exists: use a different destination id\n"
    assert [t["id"] for t in tm.tasks()] == [2, 3, 4, 7]
    placed = tm.ok("move", "--from", "4", "--before", "2").stdout
    assert placed == "Task 4 now comes just before task 2: Four\n"
    assert [t["id"] for t in tm.tasks()] == [4, 2, 3, 7]
    assert tm.json("move", "--from", "7", "--before", "4")["id"] == 7
    assert [t["id"] for t in tm.tasks()] == [7, 4, 2, 3]


def test_move_before_usage_errors(tm: Tm) -> None:
    before = tm.tasks_file.read_bytes()
    assert "one --from id" in tm.fails(2, "move", "--from", "1,2", "--before", "3").stderr
    assert (
        "leave out --to" in tm.fails(2, "move", "--from", "1", "--to", "9", "--before", "3").stderr
    )
    assert tm.fails(2, "move", "--from", "1", "--before", "x").exit_code == 2
    assert "before itself" in tm.fails(1, "move", "--from", "1", "--before", "1").stderr
    assert tm.fails(1, "move", "--from", "1", "--before", "99").exit_code == 1
    assert tm.tasks_file.read_bytes() == before


def test_move_task_to_subtask_and_back(tm: Tm) -> None:
    moved = tm.json("move", "--from", "2,3", "--to", "1.1,1.2")
    assert [m["id"] for m in moved] == ["1.1", "1.2"]
    assert [s["title"] for s in tm.task(1)["subtasks"]] == ["Two", "Three"]
    back = tm.json("move", "--from", "1.2", "--to", "8")
    assert back[0]["id"] == 8 and back[0]["title"] == "Three"


def test_move_usage_errors(tm: Tm) -> None:
    before = tm.tasks_file.read_bytes()
    assert "--to" in tm.fails(2, "move", "--from", "1").stderr
    assert tm.fails(2, "move", "--to", "2").exit_code == 2
    assert "one each" in tm.fails(2, "move", "--from", "1,2", "--to", "5").stderr
    assert tm.fails(2, "move", "--from", "1", "--from-tag", "master", "--to", "3").exit_code == 2
    assert tm.fails(2, "move", "--from", "1", "--to", "9", "--with-dependencies").exit_code == 2
    assert tm.fails(1, "move", "--from", "9", "--to", "10").exit_code == 1
    assert tm.tasks_file.read_bytes() == before


def test_move_between_tags(tm: Tm) -> None:
    tm.ok("tags", "add", "feature")
    tm.ok("add-task", "-t", "Feature one", "--tag", "feature")
    tm.ok("add-dependency", "-i", "3", "-d", "2")
    refused = tm.fails(1, "move", "--from", "3", "--from-tag", "master", "--to-tag", "feature")
    assert "depend" in refused.stderr
    assert "(--with-dependencies or --ignore-dependencies)" in refused.stderr
    assert "with_dependencies" not in refused.stderr
    across = ("--from-tag", "master", "--to-tag", "feature")
    moved = tm.json("move", "--from", "3", *across, "--with-dependencies")
    assert sorted(m["title"] for m in moved) == ["Three", "Two"]
    assert [t["title"] for t in tm.tasks()] == ["One", "Four"]
    assert [t["title"] for t in tm.tasks("feature")] == ["Feature one", "Two", "Three"]
    ids = [t["id"] for t in tm.tasks("feature")]
    assert len(set(ids)) == 3 and ids[0] == 1  # renumbered where taken
    out = tm.ok("move", "--from", "4", "--to-tag", "feature").stdout  # from the current tag
    assert out.startswith("Moved 1 task to tag 'feature':")
    assert [t["title"] for t in tm.tasks()] == ["One"]


def test_move_between_tags_ignore_dependencies_and_errors(tm: Tm) -> None:
    tm.ok("tags", "add", "feature")
    tm.ok("add-dependency", "-i", "2", "-d", "1")
    tm.ok("move", "--from", "2", "--to-tag", "feature", "--ignore-dependencies")
    assert tm.tasks("feature")[0]["dependencies"] == []
    both = ("--with-dependencies", "--ignore-dependencies")
    assert tm.fails(2, "move", "--from", "3", "--to-tag", "feature", *both).exit_code == 2
    assert tm.fails(2, "move", "--from", "3", "--to-tag", "master").exit_code == 2
    assert tm.fails(2, "move", "--from", "3", "--to", "1", "--to-tag", "feature").exit_code == 2
    assert "nope" in tm.fails(1, "move", "--from", "3", "--to-tag", "nope").stderr


# ids a merge or a hand edit leaves ---------------------------------------------------------------


def _write(tm: Tm, tasks: list[dict]) -> None:
    tm.tasks_file.write_bytes(orjson.dumps({"master": {"tasks": tasks, "metadata": {}}}))


def test_shared_ids_are_reported_refused_and_repaired(tm: Tm) -> None:
    _write(
        tm,
        [
            {"id": 1, "title": "One", "status": "done", "dependencies": []},
            {"id": 2, "title": "Ours", "status": "pending", "dependencies": [1]},
            {"id": 3, "title": "Three", "status": "pending", "dependencies": [2]},
            {"id": 2, "title": "Theirs", "status": "pending", "dependencies": []},
        ],
    )
    invalid = tm("validate-dependencies")
    assert invalid.exit_code == 1
    assert "2: task 2 appears more than once in tag 'master'" in invalid.stdout
    before = tm.tasks_file.read_bytes()
    for command in (("remove-task", "-i", "2", "-y", "--json"), ("show", "2"), ("done", "2")):
        refused = tm(*command)
        if refused.exit_code != 2:  # a command this tool does not have is not the point
            assert refused.exit_code == 1 and "task 2 is ambiguous" in refused.stderr, command
    assert tm.tasks_file.read_bytes() == before
    assert tm.json("next") is None or tm.json("next")["id"] != 2
    fixed = tm.json("fix-dependencies")["fixed"]
    assert [(issue["kind"], issue["item"]) for issue in fixed] == [("duplicate-id", "2")]
    assert [(t["id"], t["title"]) for t in tm.tasks()] == [
        (1, "One"),
        (2, "Ours"),
        (3, "Three"),
        (4, "Theirs"),
    ]
    assert tm.task(3)["dependencies"] == [2]
    assert tm.ok("validate-dependencies").stdout.startswith("All dependencies")
    removed = tm.json("remove-task", "-i", "2", "-y")
    assert [r["title"] for r in removed] == ["Ours"]
    assert [t["id"] for t in tm.tasks()] == [1, 3, 4]


def test_ids_of_zero_or_below_do_not_leak_into_new_ids(tm: Tm) -> None:
    _write(tm, [{"id": -3, "title": "Minus three"}, {"id": -1, "title": "Minus one"}])
    assert tm.json("add-task", "-t", "New")["id"] == 1
    invalid = tm("validate-dependencies", "--json")
    assert invalid.exit_code == 1 and "bad-id" in invalid.stdout


def test_a_task_without_status_is_pending_for_next_and_ready(tm: Tm) -> None:
    _write(tm, [{"id": 1, "title": "No status"}])
    assert tm.json("next")["id"] == 1
    assert [t["id"] for t in tm.json("list", "--ready")["tasks"]] == [1]


@pytest.mark.parametrize("stored", ["²", "١", 18446744073709551615])
def test_a_file_with_an_id_that_is_no_id_gives_one_error_line(tm: Tm, stored: object) -> None:
    _write(tm, [{"id": stored, "title": "Odd"}])
    before = tm.tasks_file.read_bytes()
    for command in (("list",), ("add-task", "-t", "x")):
        assert "'id' must be an integer" in tm.fails(1, *command).stderr
    assert tm.tasks_file.read_bytes() == before


@pytest.mark.parametrize("target", ["18446744073709551615", "١", "9" * 5000])
def test_a_destination_id_out_of_range_is_a_usage_error(tm: Tm, target: str) -> None:
    before = tm.tasks_file.read_bytes()
    assert tm.fails(2, "move", "--from", "1", "--to", target).exit_code == 2
    assert tm.tasks_file.read_bytes() == before
    assert tm.json("add-task", "-t", "Still works")["id"] == 5


def test_a_deep_file_is_read_but_a_write_is_refused_and_leaves_it(tm: Tm) -> None:
    raw = b'{"master": {"tasks": [{"id": 1, "title": "Deep", "metadata": ' + b"[" * 400
    raw += b"]" * 400 + b"}]}}"
    tm.tasks_file.write_bytes(raw)
    assert tm.json("show", "1")["title"] == "Deep"
    assert "Deep" in tm.ok("list").stdout
    refused = tm.fails(1, "add-task", "-t", "x")
    assert "at most 254 can be written" in refused.stderr
    assert tm.tasks_file.read_bytes() == raw


def test_converting_a_task_keeps_its_dependencies_or_refuses(tm: Tm) -> None:
    tm.ok("add-dependency", "-i", "3", "-d", "2")
    before = tm.tasks_file.read_bytes()
    refused = tm.fails(1, "add-subtask", "-p", "1", "-i", "3")
    assert "depends on task 2" in refused.stderr
    assert "depends on task 2" in tm.fails(1, "move", "--from", "3", "--to", "1.1").stderr
    tm.ok("add-dependency", "-i", "1", "-d", "4")
    assert "circular dependency" in tm.fails(1, "add-subtask", "-p", "1", "-i", "4").stderr
    tm.ok("remove-dependency", "-i", "1", "-d", "4")
    # Only the tag's `metadata.updated` moved (the two dependency changes were real writes).
    after = orjson.loads(tm.tasks_file.read_bytes())
    after["master"]["metadata"].pop("updated")
    expected = orjson.loads(before)
    expected["master"]["metadata"].pop("updated", None)
    assert after == expected
    tm.ok("add-subtask", "-p", "1", "-t", "Part")
    promoted = tm.json("remove-subtask", "-i", "1.1", "--convert")
    assert promoted[0]["dependencies"] == [1]
