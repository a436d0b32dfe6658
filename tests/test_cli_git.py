"""`tm git merge-driver` as git calls it (files in, exit code and report out), and `tm git
install` for projects in unusual places of a repository."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from strategies import make_task
from test_cli_support import Tm

from taskmaster.cli import cli
from taskmaster.git.setup import attributes_pattern, driver_command
from taskmaster.model import Document


def write(path: Path, *tasks: dict) -> Path:
    path.write_bytes(Document.from_data({"master": {"tasks": list(tasks)}}).to_json())
    return path


def driver(tmp_path: Path, base: list, ours: list, theirs: list, *extra: str):
    files = [
        write(tmp_path / name, *side)
        for name, side in (("base", base), ("ours", ours), ("theirs", theirs))
    ]
    result = CliRunner().invoke(
        cli, ["git", "merge-driver", *map(str, files), ".taskmaster/tasks.json", *extra]
    )
    return result, files[1]


def test_a_clean_merge_exits_0_with_the_result_in_ours(tmp_path: Path) -> None:
    result, ours = driver(
        tmp_path,
        [make_task(1)],
        [make_task(1), make_task(2, title="o")],
        [make_task(1, status="done"), make_task(2, 1, title="t"), make_task(3, 2, title="t3")],
    )
    assert result.exit_code == 0, result.output
    assert (
        result.stdout == "tm: .taskmaster/tasks.json: tag 'master': theirs' new task 2 is now 4\n"
    )
    assert result.stderr == ""
    merged = orjson.loads(ours.read_bytes())["master"]["tasks"]
    assert [(t["id"], t["title"], t["dependencies"]) for t in merged] == [
        (1, "Task 1", []),
        (2, "o", []),
        (4, "t", [1]),
        (3, "t3", [4]),
    ]
    assert merged[0]["status"] == "done"
    assert ours.read_bytes() == Document.from_data(orjson.loads(ours.read_bytes())).to_json()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_conflicts_exit_1_with_one_line_each_and_valid_json_in_ours(tmp_path: Path) -> None:
    result, ours = driver(
        tmp_path,
        [make_task(1), make_task(2)],
        [make_task(1, title="Ours\nline"), make_task(2, status="done")],
        [make_task(1, title="Theirs " + "x" * 60), make_task(2, status="blocked")],
    )
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "tm: .taskmaster/tasks.json: 2 conflicts; ours' value was kept at each, and the file "
        "is valid JSON:"
    )
    assert lines[1] == (
        '  tag \'master\', task 1, title: ours "Ours\\nline" vs theirs "Theirs '
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxx..."
    )
    assert lines[2] == '  tag \'master\', task 2, status: ours "done" vs theirs "blocked"'
    assert lines[3] == "Fix them with tm or an editor, then `git add .taskmaster/tasks.json`."
    merged = orjson.loads(ours.read_bytes())["master"]["tasks"]
    assert [t["title"] for t in merged] == ["Ours\nline", "Task 2"]


def test_json_reports_conflicts_and_renumbering(tmp_path: Path) -> None:
    result, _ = driver(
        tmp_path,
        [make_task(1)],
        [make_task(1, title="o"), make_task(2, title="o2")],
        [make_task(1, title="t"), make_task(2, title="t2")],
        "--json",
    )
    assert result.exit_code == 1
    report = orjson.loads(result.stdout)
    assert report["path"] == ".taskmaster/tasks.json" and report["clean"] is False
    assert report["renumbered"] == [{"tag": "master", "old": "2", "new": "3"}]
    assert report["conflicts"] == [
        {"tag": "master", "id": "1", "field": "title", "base": "Task 1", "ours": "o", "theirs": "t"}
    ]


def test_a_side_that_does_not_parse_exits_1_and_leaves_ours_as_it_was(tmp_path: Path) -> None:
    base, ours, theirs = (write(tmp_path / name, make_task(1)) for name in ("b", "o", "t"))
    theirs.write_text("<<<<<<< HEAD\n")
    before = ours.read_bytes()
    result = CliRunner().invoke(cli, ["git", "merge-driver", str(base), str(ours), str(theirs)])
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: corrupt task file theirs (the branch being merged)")
    assert ours.read_bytes() == before


def test_missing_arguments_are_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["git", "merge-driver", str(tmp_path / "nope")])
    assert result.exit_code == 2
    result = CliRunner().invoke(cli, ["git", "merge-driver", "a", "b", "c"])
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_the_driver_command_works_through_a_shell_without_the_environment_on_path(
    tmp_path: Path,
) -> None:
    assert driver_command("/opt/my env/python") == (
        "'/opt/my env/python' -m taskmaster git merge-driver %O %A %B %P"
    )
    base, ours, theirs = (write(tmp_path / name, make_task(1)) for name in ("O", "A", "B"))
    write(theirs, make_task(1), make_task(2))
    # As git runs it: through `sh -c`, the placeholders replaced, a PATH of system commands.
    command = driver_command().replace("%O %A %B %P", f"{base} {ours} {theirs} tasks.json")
    source = str(Path(__file__).resolve().parents[1])
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": source}
    done = subprocess.run(command, shell=True, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [t["id"] for t in orjson.loads(ours.read_bytes())["master"]["tasks"]] == [1, 2]


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("where", ["my project", "sub/dir", "odd[name]#1"])
def test_install_names_the_task_file_from_the_repository_root(tmp_path: Path, where: str) -> None:
    _git(tmp_path, "init", "-q")
    project = tmp_path / where
    project.mkdir(parents=True)
    (project / ".taskmaster" / "tasks").mkdir(parents=True)  # the reference tool's layout
    write(project / ".taskmaster" / "tasks" / "tasks.json", make_task(1))
    tm = Tm(project)
    done = tm.json("git", "install")
    relative = f"{where}/.taskmaster/tasks/tasks.json"
    assert done["tasksFile"] == relative
    assert attributes_pattern(relative) in (tmp_path / ".gitattributes").read_text()
    # git itself reads the pattern as naming exactly that file.
    assert _git(tmp_path, "check-attr", "merge", "--", relative).endswith(": taskmaster\n")
    other = f"{where}/.taskmaster/tasks/other.json"
    assert _git(tmp_path, "check-attr", "merge", "--", other).endswith(": unspecified\n")
    assert tm.json("git", "install")["changed"] == []
    assert tm.ok("git").stdout.startswith(f"git merges {relative} with: ")
    gitignore = project / ".taskmaster" / ".gitignore"
    assert "*.tm-rev" in gitignore.read_text().splitlines()


def test_install_again_updates_a_driver_command_that_changed(tmp_path: Path) -> None:
    from taskmaster.git.setup import install
    from taskmaster.project import locate

    _git(tmp_path, "init", "-q")
    tm = Tm.init(tmp_path)
    paths = locate(tmp_path)
    install(paths, command="/old/venv/bin/python -m taskmaster git merge-driver %O %A %B %P")
    assert tm.json("git", "install")["changed"] == ["merge.taskmaster.driver"]
    assert _git(tmp_path, "config", "--local", "merge.taskmaster.driver").strip() == (
        driver_command()
    )
