"""`tm tags`: list, add, use, remove, rename, copy."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from test_cli_support import Tm

from taskmaster.cli import context


@pytest.fixture
def tm(tmp_path: Path) -> Tm:
    tm = Tm.init(tmp_path)
    tm.add("Master one")
    tm.add("Master two")
    tm.ok("set-status", "2", "done")
    return tm


def state(tm: Tm) -> dict:
    return orjson.loads((tm.root / ".taskmaster" / "state.json").read_bytes())


def test_tags_list_json_shape(tm: Tm) -> None:
    infos = tm.json("tags", "list")
    assert len(infos) == 1
    master = infos[0]
    assert set(master) == {"name", "taskCount", "completed", "metadata", "current"}
    assert (master["name"], master["taskCount"], master["completed"], master["current"]) == (
        "master",
        2,
        1,
        True,
    )
    assert tm.json("tags") == infos  # `tm tags` alone lists


def test_tags_list_human(tm: Tm) -> None:
    tm.ok("tags", "add", "feature", "-d", "The feature")
    lines = tm.ok("tags").stdout.splitlines()
    assert lines[0].split() == ["Tag", "Tasks", "Done", "Description"]
    assert lines[1].split() == ["*", "master", "2", "1"]
    assert lines[2].split() == ["feature", "0", "0", "The", "feature"]
    assert tm.ok("tags", "list").stdout.splitlines() == lines


def test_tags_add_empty_and_copies(tm: Tm) -> None:
    info = tm.json("tags", "add", "empty", "--description", "Nothing yet")
    assert info["name"] == "empty" and info["taskCount"] == 0
    assert info["metadata"]["description"] == "Nothing yet"
    assert tm.ok("tags", "add", "copy1", "--copy-from", "master").stdout == (
        "Tag 'copy1' created with 2 tasks copied from 'master'.\n"
    )
    assert tm.tasks("copy1") == tm.tasks("master")
    tm.ok("tags", "use", "copy1")
    tm.ok("add-task", "-t", "Only in copy1")
    tm.ok("tags", "add", "copy2", "--copy-from-current")
    assert len(tm.tasks("copy2")) == 3
    assert len(tm.tasks("master")) == 2


def test_tags_add_errors(tm: Tm) -> None:
    before = tm.tasks_file.read_bytes()
    assert "already exists" in tm.fails(1, "tags", "add", "master").stderr
    assert "invalid tag name" in tm.fails(1, "tags", "add", "bad name").stderr
    assert tm.fails(1, "tags", "add", "x", "--copy-from", "nope").exit_code == 1
    assert tm.fails(2, "tags", "add", "x", "--copy-from", "a", "--copy-from-current").exit_code
    assert tm.fails(2, "tags", "add").exit_code == 2
    assert tm.tasks_file.read_bytes() == before


def test_tags_use(tm: Tm) -> None:
    tm.ok("tags", "add", "feature")
    assert tm.ok("tags", "use", "feature").stdout == "Now using tag 'feature' (0 tasks).\n"
    assert state(tm)["currentTag"] == "feature"
    assert tm.json("list")["tag"] == "feature"
    info = tm.json("tags", "use", "master")
    assert info["name"] == "master" and info["current"] is True
    assert "tag 'nope' does not exist" in tm.fails(1, "tags", "use", "nope").stderr
    assert state(tm)["currentTag"] == "master"


def test_tags_remove(tm: Tm) -> None:
    tm.ok("tags", "add", "feature", "--copy-from", "master")
    tm.ok("tags", "use", "feature")
    assert "--yes" in tm.fails(2, "tags", "remove", "feature").stderr
    assert "feature" in tm.data()
    info = tm.json("tags", "remove", "feature", "-y")
    assert info["name"] == "feature" and info["taskCount"] == 2
    assert "feature" not in tm.data()
    assert state(tm)["currentTag"] == "master"  # the current tag fell back to master
    assert "master" in tm.fails(1, "tags", "remove", "master", "--yes").stderr


def test_tags_remove_asks_on_a_tty(tm: Tm, monkeypatch: pytest.MonkeyPatch) -> None:
    tm.ok("tags", "add", "feature")
    monkeypatch.setattr(context, "stdin_is_tty", lambda: True)
    declined = tm("tags", "remove", "feature", input="n\n")
    assert declined.exit_code == 1 and "Delete tag 'feature'" in declined.stderr
    assert "feature" in tm.data()
    assert tm("tags", "remove", "feature", input="y\n").exit_code == 0
    assert "feature" not in tm.data()


def test_tags_rename(tm: Tm) -> None:
    tm.ok("tags", "add", "old", "--copy-from", "master")
    tm.ok("tags", "add", "after")
    tm.ok("tags", "use", "old")
    assert tm.json("tags", "rename", "old", "new")["name"] == "new"
    assert list(tm.data()) == ["master", "new", "after"]  # keeps its place in the file
    assert state(tm)["currentTag"] == "new"
    assert "master" in tm.fails(1, "tags", "rename", "master", "main").stderr
    assert "already exists" in tm.fails(1, "tags", "rename", "new", "after").stderr
    assert tm.ok("tags", "rename", "new", "newer").stdout == "Tag 'new' renamed to 'newer'.\n"


def test_tags_copy(tm: Tm) -> None:
    info = tm.json("tags", "copy", "master", "backup")
    assert info["taskCount"] == 2 and info["metadata"]["description"] == "Copy of 'master'"
    assert tm.tasks("backup") == tm.tasks("master")
    tm.ok("set-status", "1", "done")
    assert tm.task(1, "backup")["status"] == "pending"  # a deep copy
    described = tm.json("tags", "copy", "master", "b2", "-d", "Mine")
    assert described["metadata"]["description"] == "Mine"
    assert tm.fails(1, "tags", "copy", "nope", "b3").exit_code == 1
    assert "backup" in tm.fails(1, "tags", "copy", "master", "backup").stderr
