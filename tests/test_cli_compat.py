"""A realistic claude-task-master project, used as it is: reads answer as the reference tool
does, and writes keep every key we do not know and every tag we did not touch.

The fixture (`fixtures/reference_tasks.json`) is tagged with two tags, mixes integer and string
ids, has dotted and sibling dependencies, `parentTaskId` and `parentId` links (one of them the
literal "undefined"), tag metadata, and unknown keys at every level. It sits where the reference
tool keeps it, `.taskmaster/tasks/tasks.json`, beside `state.json` and `config.json`.

The expected `next` answers are worked out by hand from the algorithm in the facts file.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_cli_support import FIXTURES, Tm

from taskmaster import model

TASK_KEYS = set(model.TASK_KEYS)
SUBTASK_KEYS = (TASK_KEYS - {"subtasks"}) | {"parentTaskId"}  # the link follows a renumbering
FEATURE = "feature-payments"


@pytest.fixture
def ref(tmp_path: Path) -> Tm:
    config_dir = tmp_path / ".taskmaster"
    (config_dir / "tasks").mkdir(parents=True)
    shutil.copy(FIXTURES / "reference_tasks.json", config_dir / "tasks" / "tasks.json")
    shutil.copy(FIXTURES / "reference_state.json", config_dir / "state.json")
    shutil.copy(FIXTURES / "reference_config.json", config_dir / "config.json")
    return Tm(tmp_path, tasks_file=config_dir / "tasks" / "tasks.json")


def original() -> dict[str, Any]:
    return orjson.loads((FIXTURES / "reference_tasks.json").read_bytes())


def normalised(value: Any) -> Any:
    """What we promise to write for what the reference wrote: integer ids, "5" -> 5."""
    value = copy.deepcopy(value)
    for task in value["tasks"]:
        task["id"] = int(task["id"])
        task["dependencies"] = [_dep(d) for d in task.get("dependencies", [])]
        for sub in task.get("subtasks") or ():
            sub["dependencies"] = [_dep(d) for d in sub.get("dependencies", [])]
    return value


def _dep(dep: Any) -> Any:
    return int(dep) if isinstance(dep, str) and dep.isdigit() else dep


def unknown(item: dict[str, Any], known: set[str]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key not in known}


def by_title(tasks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {task["title"]: task for task in tasks}


# reads -------------------------------------------------------------------------------------


def test_the_reference_layout_is_found_and_read(ref: Tm) -> None:
    listed = ref.json("list")
    assert listed["tag"] == "master"  # from state.json
    assert [t["id"] for t in listed["tasks"]] == [1, 2, 3, 4, 5, 6]  # "2" and "6" read as ints
    assert listed["tasks"][1]["dependencies"] == [1]
    assert [t["id"] for t in ref.json("list", "pending")["tasks"]] == [3, 6]
    assert [t["id"] for t in ref.json("list", "-s", "in-progress")["tasks"]] == [2, 4]
    # Ready: 2 and 4 (in progress, all done); 3 waits on 2.2, 6 on 3 and 4.
    assert [t["id"] for t in ref.json("list", "--ready")["tasks"]] == [2, 4]
    tags = {info["name"]: info for info in ref.json("tags")}
    assert list(tags) == ["master", FEATURE]
    assert (tags[FEATURE]["taskCount"], tags[FEATURE]["completed"]) == (7, 1)
    assert tags["master"]["current"] and tags[FEATURE]["metadata"]["branch"] == "feature/payments"


def test_show_tasks_and_subtasks(ref: Tm) -> None:
    sub = ref.json("show", "2.2")
    assert sub["id"] == "2.2" and sub["parentId"] == 2  # the view's link, not "undefined"
    assert (sub["title"], sub["priority"], sub["dependencies"]) == (
        "Write the migrations",
        "high",
        [1],
    )
    task = ref.json("show", "1")
    assert task["complexity"] == 3 and task["metadata"] == {"owner": "ana", "labels": ["infra"]}
    assert [s["acceptanceCriteria"] for s in task["subtasks"] if "acceptanceCriteria" in s] == [
        "green badge"
    ]
    several = ref.json("show", "6,4.3,2")
    assert [item["id"] for item in several] == [6, "4.3", 2]
    assert several[1]["dependencies"] == ["5.1"]
    human = ref.ok("show", "2.3").stdout
    assert "Dependencies: 2.2" in human  # a bare sibling number, shown in full


def test_next_master_and_feature(ref: Tm) -> None:
    # In-progress parents 2 and 4. Candidates: 2.2 (own high, deps [1] = sibling 2.1 done) and
    # 4.1 (parent's high, deps ["2.1"] done): same priority and count, parent 2 < 4 -> 2.2.
    # Not 4.2 (critical, but bare 1 is sibling 4.1, not done), not 4.3 (critical, but its
    # dependency 5.1 is cancelled), not 2.3 (2.2 not done).
    nxt = ref.json("next")
    assert nxt["id"] == "2.2" and nxt["parentId"] == 2
    assert nxt["parentTitle"] == "Design the database schema"
    # feature-payments has no in-progress parent with subtasks: top-level rule. Candidates 2
    # (high, 1 dep), 3 (high, 0 deps), 6 (low), 7 (high, 1 dep on done 1.1); 4 waits on the
    # cancelled 5 -> 3.
    assert ref.json("next", "--tag", FEATURE)["id"] == 3
    assert [t["id"] for t in ref.json("list", "--ready", "--tag", FEATURE)["tasks"]] == [2, 3, 6, 7]


# writes ------------------------------------------------------------------------------------


def test_writes_keep_unknown_keys_and_the_other_tag(ref: Tm) -> None:
    before = original()
    config_before = (ref.root / ".taskmaster" / "config.json").read_bytes()

    ref.ok("set-status", "2.2", "done")
    # 2.3 is ready now (medium, from its parent) but 4.1 (high) wins.
    assert ref.json("next")["id"] == "4.1"
    ref.ok("set-status", "4.1", "done")
    assert ref.task(4)["status"] == "in-progress"  # parent follows: some done, some pending
    assert ref.json("next")["id"] == "4.2"  # its sibling 4.1 is done now; critical

    assert (
        ref.json("add-task", "-t", "Webhook docs", "--dependencies", "3", "--priority", "low")["id"]
        == 7
    )
    assert (
        ref.json("add-subtask", "-p", "2", "-t", "Index tuning", "--dependencies", "3")["id"]
        == "2.4"
    )
    ref.ok("update-task", "-i", "3", "--priority", "critical", "--details", "OAuth later")
    ref.ok("add-dependency", "-i", "6", "-d", "2.2")
    ref.ok("remove-dependency", "-i", "6", "-d", "4")
    ref.ok("move", "--from", "5", "--to", "8")
    assert ref.task(4)["subtasks"][2]["dependencies"] == ["8.1"]  # references follow
    ref.ok("tags", "add", "scratch")
    ref.ok("tags", "use", FEATURE)
    ref.ok("set-status", "--id", "3", "--status", "in-progress", "--tag", "master")
    ref.ok("tags", "use", "master")
    ref.ok("remove-task", "-i", "7", "-y")
    ref.ok("generate")
    assert ref.json("validate-dependencies")["valid"] is True

    after = ref.data()
    # Tags: ours added at the end, nothing lost; the other tag as it was (ids written as ints).
    assert list(after) == ["master", FEATURE, "scratch"]
    assert after[FEATURE] == normalised(before[FEATURE])
    assert after["feature-payments"]["tasks"][1]["id"] == 2
    # Tag level and tag metadata.
    assert after["master"]["x-sync"] == before["master"]["x-sync"]
    # Every key kept; `updated` says when the tasks last changed, as the reference writes it.
    metadata = dict(after["master"]["metadata"])
    assert metadata.pop("updated") > before["master"]["metadata"]["updated"]
    assert metadata == {k: v for k, v in before["master"]["metadata"].items() if k != "updated"}
    # Task and subtask level: every unknown key, untouched.
    old, new = by_title(before["master"]["tasks"]), by_title(after["master"]["tasks"])
    assert set(new) == set(old) | {"Authentication API"}  # Webhook docs was removed again
    for title, task in old.items():
        assert unknown(new[title], TASK_KEYS) == unknown(task, TASK_KEYS), title
        old_subs = by_title(task.get("subtasks") or [])
        new_subs = by_title(new[title].get("subtasks") or [])
        for sub_title, sub in old_subs.items():
            kept = unknown(new_subs[sub_title], SUBTASK_KEYS)
            assert kept == unknown(sub, SUBTASK_KEYS), sub_title
    migrations = by_title(new["Design the database schema"]["subtasks"])["Write the migrations"]
    assert migrations["parentId"] == "undefined" and migrations["status"] == "done"
    assert new["Design the database schema"]["id"] == 2
    assert new["Documentation"]["id"] == 8
    assert new["Documentation"]["subtasks"][0]["parentTaskId"] == 8
    assert new["Authentication API"]["priority"] == "critical"
    assert new["Release 1.0"]["dependencies"] == [3, "2.2"]
    # The state file keeps the reference tool's keys; the config file is not written at all.
    state = orjson.loads((ref.root / ".taskmaster" / "state.json").read_bytes())
    assert state["currentTag"] == "master"
    assert state["branchTagMapping"] == {"feature/payments": "feature-payments"}
    assert state["migrationNoticeShown"] is True
    assert (ref.root / ".taskmaster" / "config.json").read_bytes() == config_before
    # Generated files sit beside tasks.json without touching it; no reference-style lock file.
    tasks_dir = ref.root / ".taskmaster" / "tasks"
    assert sorted(p.name for p in tasks_dir.glob("task_*.md")) == [
        f"task_00{n}.md" for n in (1, 2, 3, 4, 6, 8)
    ]
    assert not (tasks_dir / "tasks.json.lock").exists()
