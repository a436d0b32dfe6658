"""`tm git install` and the merge driver in real git repositories, driven by real `tm` and
`git` processes: branches that add, edit, remove and move tasks, then `git merge` (and
`git rebase`)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
from servers import TM, clean_env

pytestmark = pytest.mark.slow

SOURCE = Path(__file__).resolve().parents[2]
TASKS = Path(".taskmaster") / "tasks.json"


def env(repo: Path) -> dict[str, str]:
    # The code under test (this checkout, whatever the installed one is), and git without
    # the machine's or the user's configuration, which could name other drivers or hooks.
    return clean_env(
        PYTHONPATH=str(SOURCE),
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CEILING_DIRECTORIES=str(repo.parent),
        GIT_EDITOR="true",
    )


def run(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        list(args), cwd=repo, capture_output=True, text=True, timeout=120, env=env(repo)
    )
    if check:
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(repo, "git", *args, check=check)


def tm(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(repo, TM, "--project", str(repo), *args, check=check)


def tm_json(repo: Path, *args: str) -> Any:
    return orjson.loads(tm(repo, *args, "--json").stdout)


def tasks(repo: Path, tag: str = "master") -> dict[int, dict[str, Any]]:
    data = orjson.loads((repo / TASKS).read_bytes())
    return {task["id"]: task for task in data[tag]["tasks"]}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Test")
    git(repo, "config", "user.email", "test@example.com")
    tm(repo, "init")
    tm(repo, "git", "install")
    for title in ("One", "Two", "Three", "Four"):
        tm(repo, "add-task", "--title", title)
    tm(repo, "add-dependency", "-i", "2", "-d", "4")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    return repo


def test_install_registers_the_driver_once_and_git_status_shows_no_sidecars(repo: Path) -> None:
    again = tm_json(repo, "git", "install")
    assert again["changed"] == [] and again["tasksFile"] == ".taskmaster/tasks.json"
    attributes = (repo / ".gitattributes").read_text().splitlines()
    assert attributes.count("/.taskmaster/tasks.json merge=taskmaster") == 1
    check = git(repo, "check-attr", "merge", "--", str(TASKS)).stdout
    assert check.strip() == ".taskmaster/tasks.json: merge: taskmaster"
    driver = git(repo, "config", "--local", "merge.taskmaster.driver").stdout.strip()
    assert driver.endswith("-m taskmaster git merge-driver %O %A %B %P")
    assert tm_json(repo, "git", "status")["installed"] is True
    # Writes leave their sidecars beside the task file; none of them shows up in git.
    tm(repo, "set-status", "1", "done")
    sidecars = sorted(p.name for p in (repo / ".taskmaster").iterdir() if ".tm-" in p.name)
    assert sidecars == ["tasks.json.tm-journal", "tasks.json.tm-last", "tasks.json.tm-rev"]
    assert git(repo, "status", "--porcelain").stdout == " M .taskmaster/tasks.json\n"
    assert git(repo, "ls-files").stdout.split() == [
        ".gitattributes",
        ".taskmaster/.gitignore",
        ".taskmaster/state.json",
        ".taskmaster/tasks.json",
    ]


def test_branches_that_add_edit_remove_and_move_tasks_merge_with_both_sides(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    assert tm_json(repo, "add-task", "--title", "Feature A", "--dependencies", "1")["id"] == 5
    assert tm_json(repo, "add-task", "--title", "Feature B", "--dependencies", "5")["id"] == 6
    tm(repo, "update-task", "-i", "1", "--title", "One, renamed on feature")
    tm(repo, "remove-task", "-i", "3", "-y")
    tm(repo, "add-subtask", "-p", "2", "-t", "Feature's subtask")
    git(repo, "commit", "-q", "-am", "feature work")

    git(repo, "checkout", "-q", "main")
    assert tm_json(repo, "add-task", "--title", "Main's task")["id"] == 5
    tm(repo, "set-status", "2", "in-progress")
    tm(repo, "move", "--from", "4", "--to", "10")  # to the end; 2 depends on 4: now on 10
    git(repo, "commit", "-q", "-am", "main work")

    merged = git(repo, "merge", "--no-edit", "feature")
    assert "theirs' new task 5 is now 11" in merged.stdout + merged.stderr
    assert git(repo, "status", "--porcelain").stdout == ""  # committed, nothing left over
    assert len(git(repo, "log", "--format=%P", "-1").stdout.split()) == 2  # a merge commit

    after = tasks(repo)
    assert list(after) == [1, 2, 5, 10, 11, 6]
    assert after[1]["title"] == "One, renamed on feature"
    assert after[2]["status"] == "in-progress" and after[2]["dependencies"] == [10]
    assert [sub["title"] for sub in after[2]["subtasks"]] == ["Feature's subtask"]
    assert after[5]["title"] == "Main's task" and after[10]["title"] == "Four"
    assert after[11]["title"] == "Feature A" and after[11]["dependencies"] == [1]
    assert after[6]["title"] == "Feature B" and after[6]["dependencies"] == [11]
    # The real CLI reads the merged file, and it is consistent.
    listed = tm_json(repo, "list", "--with-subtasks")
    assert [task["id"] for task in listed["tasks"]] == [1, 2, 5, 10, 11, 6]
    assert "valid" in tm(repo, "validate-dependencies").stdout.lower()
    assert tm_json(repo, "add-task", "--title", "After the merge")["id"] == 12


def test_a_real_conflict_fails_the_merge_leaves_valid_json_and_says_where(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    tm(repo, "update-task", "-i", "1", "--title", "Feature's title")
    tm(repo, "add-task", "--title", "Feature's new task")
    git(repo, "commit", "-q", "-am", "feature")
    git(repo, "checkout", "-q", "main")
    tm(repo, "update-task", "-i", "1", "--title", "Main's title")
    git(repo, "commit", "-q", "-am", "main")

    merged = git(repo, "merge", "--no-edit", "feature", check=False)
    assert merged.returncode == 1
    output = merged.stdout + merged.stderr
    assert "1 conflict; ours' value was kept at each" in output
    assert "tag 'master', task 1, title: ours \"Main's title\" vs theirs \"Feature's title\"" in (
        output
    )
    assert "CONFLICT (content): Merge conflict in .taskmaster/tasks.json" in output
    assert git(repo, "status", "--porcelain").stdout.startswith("UU .taskmaster/tasks.json")
    raw = (repo / TASKS).read_bytes()
    assert b"<<<<<<<" not in raw
    after = tasks(repo)
    assert after[1]["title"] == "Main's title" and after[5]["title"] == "Feature's new task"
    # Resolved with tm itself, then committed as any conflict is.
    tm(repo, "update-task", "-i", "1", "--title", "Agreed title")
    git(repo, "add", str(TASKS))
    git(repo, "commit", "-q", "--no-edit")
    assert tasks(repo)[1]["title"] == "Agreed title"


def test_a_dependency_on_a_task_the_other_branch_removed_stops_the_merge(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    tm(repo, "add-dependency", "-i", "1", "-d", "3")
    git(repo, "commit", "-q", "-am", "feature")
    git(repo, "checkout", "-q", "main")
    tm(repo, "remove-task", "-i", "3", "-y")
    git(repo, "commit", "-q", "-am", "main")

    merged = git(repo, "merge", "--no-edit", "feature", check=False)
    assert merged.returncode == 1
    assert (
        "tag 'master', task 1: depends on 3, which the merge left out (one side removed it, "
        "the other depends on it)"
    ) in merged.stderr
    assert tasks(repo)[1]["dependencies"] == [3] and 3 not in tasks(repo)
    tm(repo, "fix-dependencies")
    assert tasks(repo)[1]["dependencies"] == []
    git(repo, "add", str(TASKS))
    git(repo, "commit", "-q", "--no-edit")


def test_a_file_that_does_not_parse_is_left_to_git_untouched(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / TASKS).write_text('{"master": {"tasks": [')  # an editor saved half a file
    git(repo, "commit", "-q", "-am", "broken")
    git(repo, "checkout", "-q", "main")
    tm(repo, "set-status", "1", "done")
    git(repo, "commit", "-q", "-am", "main")
    ours = (repo / TASKS).read_bytes()

    merged = git(repo, "merge", "--no-edit", "feature", check=False)
    assert merged.returncode == 1
    assert "Error: corrupt task file theirs (the branch being merged)" in merged.stderr
    assert (repo / TASKS).read_bytes() == ours  # git keeps ours' version in the work tree
    assert git(repo, "status", "--porcelain").stdout.startswith("UU .taskmaster/tasks.json")


def test_a_rebase_and_a_cherry_pick_use_the_driver_too(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    tm(repo, "add-task", "--title", "Feature's task")
    git(repo, "commit", "-q", "-am", "feature")
    git(repo, "checkout", "-q", "main")
    tm(repo, "add-task", "--title", "Main's task")
    git(repo, "commit", "-q", "-am", "main")
    git(repo, "checkout", "-q", "feature")
    git(repo, "rebase", "-q", "main")
    # Replaying feature's commit onto main: main is "ours" then, feature's task is theirs.
    assert {task_id: task["title"] for task_id, task in tasks(repo).items() if task_id > 4} == {
        5: "Main's task",
        6: "Feature's task",
    }
    git(repo, "checkout", "-q", "-b", "other", "main~1")
    tm(repo, "add-task", "--title", "Other's task")
    git(repo, "commit", "-q", "-am", "other")
    git(repo, "cherry-pick", "feature")  # feature's last commit, onto a branch without main's 5
    assert {task_id: task["title"] for task_id, task in tasks(repo).items() if task_id > 4} == {
        5: "Other's task",
        6: "Feature's task",
    }


def test_tm_init_alone_keeps_the_sidecars_out_of_git(tmp_path: Path) -> None:
    repo = tmp_path / "plain"
    repo.mkdir()
    git(repo, "init", "-q")
    tm(repo, "init")
    tm(repo, "add-task", "--title", "One")
    tm(repo, "set-status", "1", "done")
    assert (repo / ".taskmaster" / "tasks.json.tm-rev").exists()
    assert git(repo, "status", "--porcelain", "-uall").stdout.split("\n")[:-1] == [
        "?? .taskmaster/.gitignore",
        "?? .taskmaster/state.json",
        "?? .taskmaster/tasks.json",
    ]


def test_uninstall_and_outside_a_repository(repo: Path, tmp_path: Path) -> None:
    done = tm_json(repo, "git", "uninstall")
    assert sorted(done["changed"]) == sorted(
        [str(repo / ".gitattributes"), "merge.taskmaster.name", "merge.taskmaster.driver"]
    )
    assert "merge=taskmaster" not in (repo / ".gitattributes").read_text()
    assert git(repo, "config", "--local", "merge.taskmaster.driver", check=False).returncode == 1
    assert tm_json(repo, "git", "uninstall")["changed"] == []
    assert tm_json(repo, "git", "status")["installed"] is False

    elsewhere = tmp_path / "no-git"
    elsewhere.mkdir()
    tm(elsewhere, "init")
    failed = tm(elsewhere, "git", "install", check=False)
    assert failed.returncode == 1, failed
    assert failed.stderr.startswith("Error: ") and "is not inside a git work tree" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
    assert not (elsewhere / ".gitattributes").exists()
