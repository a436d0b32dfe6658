"""`CurrentTag`: the cached answer follows state.json, and config.json only when it matters."""

from __future__ import annotations

import json
from pathlib import Path

from test_cli_support import Tm

from taskmaster.project import CurrentTag, ProjectPaths


def _paths(tmp_path: Path) -> ProjectPaths:
    (tmp_path / ".taskmaster" / "tasks").mkdir(parents=True)
    return ProjectPaths(tmp_path, tmp_path / ".taskmaster" / "tasks" / "tasks.json")


def _write(path: Path, data: object) -> None:
    path.write_text(json.dumps(data))


def test_without_state_or_config_the_tag_is_master(tmp_path: Path) -> None:
    assert CurrentTag(_paths(tmp_path)).get() == "master"


def test_a_new_state_file_is_seen(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    current = CurrentTag(paths)
    assert current.get() == "master"
    _write(paths.state_file, {"currentTag": "feature"})
    assert current.get() == "feature"


def test_config_default_counts_while_state_names_no_tag(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    current = CurrentTag(paths)
    _write(paths.state_file, {"migrationNoticeShown": True})
    assert current.get() == "master"
    _write(paths.config_file, {"global": {"defaultTag": "release"}})
    assert current.get() == "release"
    paths.config_file.unlink()
    assert current.get() == "master"


def test_config_cannot_override_a_tag_named_in_state(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    current = CurrentTag(paths)
    _write(paths.state_file, {"currentTag": "feature"})
    assert current.get() == "feature"
    _write(paths.config_file, {"global": {"defaultTag": "release"}})
    assert current.get() == "feature"
    _write(paths.state_file, {})
    assert current.get() == "release"


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
