"""The project's own files: the state follows state.json (and config.json only when it
matters), a corrupt or stale state.json, a non-task JSON file, and each tag's `updated` time."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import orjson
from test_cli_support import Tm

from harness.targets import tm_executable
from taskmaster.project import ProjectPaths
from taskmaster.storage.base import ProjectState
from taskmaster.storage.state_file import StateFile

MASTER = ProjectState(None)
"""Naming no tag, which means master."""


def _paths(tmp_path: Path) -> ProjectPaths:
    (tmp_path / ".taskmaster" / "tasks").mkdir(parents=True)
    return ProjectPaths(tmp_path, tmp_path / ".taskmaster" / "tasks" / "tasks.json")


def _state_of(paths: ProjectPaths) -> StateFile:
    return StateFile(paths.state_file, paths.config_file)


def _write(path: Path, data: object) -> None:
    path.write_text(json.dumps(data))


def test_without_state_or_config_the_tag_is_master(tmp_path: Path) -> None:
    assert _state_of(_paths(tmp_path)).get() == MASTER


def test_a_new_state_file_is_seen(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    current = _state_of(paths)
    assert current.get() == MASTER
    _write(paths.state_file, {"currentTag": "feature"})
    assert current.get() == ProjectState("feature")


def test_config_default_counts_while_state_names_no_tag(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    current = _state_of(paths)
    _write(paths.state_file, {"migrationNoticeShown": True})
    assert current.get() == MASTER
    _write(paths.config_file, {"global": {"defaultTag": "release"}})
    assert current.get() == ProjectState("release")
    paths.config_file.unlink()
    assert current.get() == MASTER


def test_config_cannot_override_a_tag_named_in_state(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    current = _state_of(paths)
    _write(paths.state_file, {"currentTag": "feature"})
    assert current.get() == ProjectState("feature")
    _write(paths.config_file, {"global": {"defaultTag": "release"}})
    assert current.get() == ProjectState("feature")
    _write(paths.state_file, {})
    assert current.get() == ProjectState("release")


def test_a_json_file_that_is_not_a_task_file_is_never_rewritten(tmp_path: Path) -> None:
    """`tm -f package.json add-task` once re-indented package.json and added a master tag."""
    Tm.init(tmp_path)
    package = tmp_path / "package.json"
    original = b'{"name": "app",\n "version": "1.0.0"}\n'
    package.write_bytes(original)
    tm = Tm(tmp_path, tasks_file=package)
    for args in (("add-task", "--title", "x"), ("list",), ("tags", "add", "other")):
        result = tm.fails(1, "-f", str(package), *args)
        assert f"{package} is not a task file" in result.stderr, result.stderr
    assert package.read_bytes() == original
    # An empty object holds no tags yet: it is an empty task file.
    (tmp_path / "empty.json").write_bytes(b"{}")
    tm.ok("-f", str(tmp_path / "empty.json"), "add-task", "--title", "First")


# state.json from the command line (real `tm` processes: the warning goes to their stderr) ------


def _tm(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TM_")}
    return subprocess.run(
        [tm_executable(), "--project", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_a_corrupt_state_file_is_named_as_such_and_tags_use_repairs_it(tmp_path: Path) -> None:
    tm = Tm.init(tmp_path)
    tm.ok("add-task", "--title", "Kept")
    tasks_before = tm.tasks_file.read_bytes()
    state = tmp_path / ".taskmaster" / "state.json"
    state.write_bytes(b'{"currentTag": "mas')
    result = tm.fails(1, "list")
    assert f"corrupt state file {state}:1:" in result.stderr
    assert "corrupt task file" not in result.stderr and "tm tags use" in result.stderr
    assert state.read_bytes() == b'{"currentTag": "mas'  # a read never repairs behind one's back
    tm.ok("tags", "use", "master")
    assert orjson.loads(state.read_bytes()) == {"currentTag": "master"}
    assert [task["title"] for task in tm.json("list")["tasks"]] == ["Kept"]
    assert tm.tasks_file.read_bytes() == tasks_before


def test_a_current_tag_that_no_longer_exists_falls_back_to_master_with_one_warning(
    tmp_path: Path,
) -> None:
    tm = Tm.init(tmp_path)
    tm.ok("add-task", "--title", "In master")
    state = tmp_path / ".taskmaster" / "state.json"
    state.write_bytes(orjson.dumps({"currentTag": "gone", "migrationNoticeShown": True}))
    before = state.read_bytes()
    listed = _tm(tmp_path, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert orjson.loads(listed.stdout)["tag"] == "master"
    lines = listed.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Warning: "), listed.stderr
    assert "'gone'" in lines[0] and "master" in lines[0]
    added = _tm(tmp_path, "add-task", "--title", "Also master", "--json")
    assert added.returncode == 0 and len(added.stderr.splitlines()) == 1, added.stderr
    assert [task["title"] for task in tm.tasks()] == ["In master", "Also master"]
    tags = orjson.loads(_tm(tmp_path, "tags", "--json").stdout)
    assert [tag["name"] for tag in tags if tag["current"]] == ["master"]
    assert state.read_bytes() == before  # reads and writes of tasks leave state.json alone


def test_every_write_that_changes_a_tags_tasks_sets_its_updated_time(tmp_path: Path) -> None:
    tm = Tm.init(tmp_path)
    tm.ok("tags", "add", "side")
    stale = "2020-01-01T00:00:00.000Z"

    def age_all() -> None:
        data = tm.data()
        for tag in data.values():
            tag["metadata"]["updated"] = stale
        tm.tasks_file.write_bytes(orjson.dumps(data))

    def updated(tag: str) -> str:
        return tm.data()[tag]["metadata"]["updated"]

    age_all()
    tm.ok("add-task", "--title", "One")
    assert updated("master") > stale and updated("side") == stale
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", updated("master"))
    age_all()
    tm.ok("set-status", "--id", "1", "--status", "done")
    assert updated("master") > stale
    age_all()
    raw = tm.tasks_file.read_bytes()
    tm.ok("set-status", "--id", "1", "--status", "done")  # changes nothing: no write at all
    assert tm.tasks_file.read_bytes() == raw
    tm.ok("move", "--from", "1", "--to-tag", "side")
    assert updated("master") > stale and updated("side") > stale
