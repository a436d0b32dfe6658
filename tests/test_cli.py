"""The `tm` group: help, global options, project discovery, exit codes and error reporting."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import click
import orjson
import pytest
from click.testing import CliRunner
from test_cli_support import Tm, write_document

from taskmaster.cli import ai, cli, context, main

SLOW_MODULES = ("falcon", "waitress", "watchdog", "redis")


@pytest.fixture
def tm(tmp_path: Path) -> Tm:
    return Tm.init(tmp_path)


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    """Every command this tool carries out (not the AI ones that only explain themselves)."""
    for name, command in group.commands.items():
        if not prefix and name in ai.ALTERNATIVES:
            continue
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _all_commands(command, (*prefix, name))


EXPECTED_COMMANDS = {
    "init",
    "list",
    "show",
    "next",
    "set-status",
    "add-task",
    "update-task",
    "remove-task",
    "claim",
    "claims",
    "add-subtask",
    "update-subtask",
    "remove-subtask",
    "clear-subtasks",
    "add-dependency",
    "remove-dependency",
    "validate-dependencies",
    "fix-dependencies",
    "move",
    "history",
    "undo",
    "doctor",
    "tags",
    "generate",
    "storage",
    "git",
    # claude-task-master's names for `tm tags ...`
    "add-tag",
    "use-tag",
    "delete-tag",
    "rename-tag",
    "copy-tag",
}
AI_COMMANDS = {
    "parse-prd",
    "expand",
    "update",
    "scope-up",
    "scope-down",
    "analyze-complexity",
    "complexity-report",
    "research",
    "models",
}


LATER_COMMANDS = {"serve", "mcp"}  # added by the API and MCP front ends


def test_the_group_has_the_specified_commands() -> None:
    assert set(cli.commands) - LATER_COMMANDS == EXPECTED_COMMANDS | AI_COMMANDS
    assert set(cli.commands["tags"].commands) == {"list", "add", "use", "remove", "rename", "copy"}


@pytest.mark.parametrize("path", [path for path, _ in _all_commands(cli)], ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...], tmp_path: Path) -> None:
    # Outside any project: help must never need one.
    result = CliRunner().invoke(cli, [*path, "--help"], env={"TM_PROJECT": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: cli {' '.join(path)} ")
    command = cli
    for name in path:
        command = command.commands[name]
    assert command.help and len(command.help.strip()) > 20
    first_line = command.help.strip().splitlines()[0]
    assert " ".join(first_line.split()) in " ".join(result.stdout.split())
    assert "Traceback" not in result.output


def test_every_task_command_takes_tag_and_json() -> None:
    no_tag = {
        ("init",),
        ("tags",),
        ("storage",),
        ("git",),  # the task file as git sees it: every tag at once
        ("claim",),  # renew and release name a claim by its token, whatever its tag
        ("undo",),  # names a revision, whatever its tag
        ("doctor",),  # checks every tag
        *((name,) for name in EXPECTED_COMMANDS if "-tag" in name),
    }
    for path, command in _all_commands(cli):
        if path[0] in LATER_COMMANDS:
            continue
        params = [*command.params, *getattr(getattr(command, "claiming", None), "params", [])]
        options = {opt for param in params for opt in getattr(param, "opts", [])}
        assert "--json" in options, path
        if path[:1] not in {p[:1] for p in no_tag}:
            assert "--tag" in options, path


def test_group_help_lists_commands_with_aliases_and_examples() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "list (ls)" in result.stdout
    assert "set-status (status)" in result.stdout
    assert "tm set-status 3 done" in result.stdout


def test_aliases_run_the_real_commands(tm: Tm) -> None:
    tm.add("Write docs")
    assert tm.json("ls")["tasks"][0]["title"] == "Write docs"
    tm.ok("status", "1", "done")
    assert tm.task(1)["status"] == "done"


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("tm, version ")


# finding the project -----------------------------------------------------------------------


def test_not_a_project_exits_1_and_points_to_init(tmp_path: Path) -> None:
    result = Tm(tmp_path / "nowhere").fails(1, "list")
    assert "tm init" in result.stderr
    assert str(tmp_path / "nowhere") in result.stderr
    assert result.stdout == ""


def test_project_is_found_from_a_subdirectory(
    tm: Tm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tm.add("Found from below")
    deep = tmp_path / "src" / "pkg"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    result = CliRunner().invoke(cli, ["list", "--json"], env={"TM_PROJECT": None})
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["tasks"][0]["title"] == "Found from below"


def test_tm_project_environment_variable(tm: Tm, tmp_path: Path) -> None:
    tm.add("Via env")
    result = CliRunner().invoke(cli, ["list", "--json"], env={"TM_PROJECT": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert [t["title"] for t in orjson.loads(result.stdout)["tasks"]] == ["Via env"]


def test_file_option_uses_that_file(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "my-tasks.json"
    write_document(other, {"master": {"tasks": [{"id": 7, "title": "Seven"}]}})
    result = CliRunner().invoke(cli, ["-f", str(other), "show", "7", "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["title"] == "Seven"
    result = CliRunner().invoke(cli, ["--file", str(other), "set-status", "7", "done"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(other.read_bytes())["master"]["tasks"][0]["status"] == "done"


def test_reference_layout_is_used_when_present(tmp_path: Path) -> None:
    write_document(
        tmp_path / ".taskmaster" / "tasks" / "tasks.json",
        {"master": {"tasks": [{"id": 1, "title": "Old layout"}]}},
    )
    tm = Tm(tmp_path, tasks_file=tmp_path / ".taskmaster" / "tasks" / "tasks.json")
    assert tm.json("show", "1")["title"] == "Old layout"
    assert not (tmp_path / ".taskmaster" / "tasks.json").exists()


# init ------------------------------------------------------------------------------------------


def test_init_creates_a_project_once(tmp_path: Path) -> None:
    tm = Tm(tmp_path / "app")
    first = tm.json("init")
    assert first == {
        "root": str(tmp_path / "app"),
        "tasksFile": str(tmp_path / "app" / ".taskmaster" / "tasks.json"),
        "created": True,
        "changed": [
            str(tmp_path / "app" / ".taskmaster"),
            str(tmp_path / "app" / ".taskmaster" / "tasks.json"),
            str(tmp_path / "app" / ".taskmaster" / "state.json"),
            str(tmp_path / "app" / ".taskmaster" / ".gitignore"),
        ],
    }
    assert tm.data()["master"]["tasks"] == []
    state = orjson.loads((tmp_path / "app" / ".taskmaster" / "state.json").read_bytes())
    assert state["currentTag"] == "master"
    tm.add("Keep me")
    assert tm.json("init")["created"] is False
    assert [t["title"] for t in tm.tasks()] == ["Keep me"]
    assert "already" in tm.ok("init").stdout


def test_init_on_an_existing_project_says_what_it_added(tmp_path: Path) -> None:
    tm = Tm.init(tmp_path)
    assert "nothing changed" in tm.ok("init").stdout
    (tmp_path / ".taskmaster" / "state.json").unlink()
    (tmp_path / ".taskmaster" / ".gitignore").unlink()
    out = tm.ok("init").stdout
    assert "nothing changed" not in out
    assert "added what was missing" in out
    assert ".taskmaster/state.json" in out and ".taskmaster/.gitignore" in out
    assert tm.json("init")["changed"] == []


def test_after_init_and_writes_git_status_is_clean(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(tmp_path), *args], check=True, capture_output=True, text=True
        ).stdout

    git("init", "-q")
    tm = Tm.init(tmp_path)
    tm.add("First")
    git("add", "-A")
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "init")
    tm.add("Second")  # rewrites the task file and its revision sidecar
    (tmp_path / ".taskmaster" / ".tasks.json.abc123.tmp").write_text("{}")  # a crashed write
    assert git("status", "--porcelain") == " M .taskmaster/tasks.json\n"
    assert "tm-lock" not in git("ls-files") and "tm-rev" not in git("ls-files")


def test_init_keeps_an_existing_gitignore_and_adds_only_what_is_missing(tmp_path: Path) -> None:
    gitignore = tmp_path / ".taskmaster" / ".gitignore"
    gitignore.parent.mkdir()
    gitignore.write_text("*.tm-lock\nnotes/")  # no final newline
    Tm.init(tmp_path)
    lines = gitignore.read_text().splitlines()
    assert lines[:2] == ["*.tm-lock", "notes/"]
    assert lines.count("*.tm-lock") == 1 and "*.tm-rev" in lines
    before = gitignore.read_bytes()
    Tm(tmp_path).ok("init")
    assert gitignore.read_bytes() == before


def test_init_directory_argument_and_human_output(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "x")])
    assert result.exit_code == 0, result.output
    assert "Created a Task Master project" in result.stdout
    assert (tmp_path / "x" / ".taskmaster" / "tasks.json").is_file()


def test_init_rejects_file_option(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["-f", str(tmp_path / "t.json"), "init", str(tmp_path)])
    assert result.exit_code == 2
    assert "--file" in result.stderr


# errors ----------------------------------------------------------------------------------------


def test_unknown_id_exits_1_naming_id_and_tag(tm: Tm) -> None:
    result = tm.fails(1, "show", "42")
    assert result.stderr == "Error: task 42 not found in tag 'master'\n"


def test_unknown_tag_exits_1(tm: Tm) -> None:
    assert "nope" in tm.fails(1, "list", "--tag", "nope").stderr
    assert "nope" in tm.fails(1, "--tag", "nope", "list").stderr


def test_bad_status_is_a_usage_error(tm: Tm) -> None:
    tm.add("One")
    result = tm.fails(2, "set-status", "1", "finished")
    assert "finished" in result.stderr
    assert tm.fails(2, "list", "--status", "bogus").exit_code == 2
    assert tm.fails(2, "add-task", "-t", "x", "--priority", "urgent").exit_code == 2
    assert tm.task(1)["status"] == "pending"


def test_malformed_id_is_a_usage_error(tm: Tm) -> None:
    assert "abc" in tm.fails(2, "show", "abc").stderr
    assert tm.fails(2, "set-status", "--id", "1.2.3", "--status", "done").exit_code == 2


def test_corrupt_file_exits_1_and_is_left_unchanged(tm: Tm) -> None:
    garbage = b'{"master": {"tasks": [ {"id": 1, "title": "half'
    tm.tasks_file.write_bytes(garbage)
    for args in (("list",), ("add-task", "-t", "x"), ("set-status", "1", "done"), ("next",)):
        result = tm.fails(1, *args)
        assert "corrupt task file" in result.stderr
        assert str(tm.tasks_file) in result.stderr
        assert tm.tasks_file.read_bytes() == garbage


def test_debug_shows_the_traceback(tm: Tm) -> None:
    result = tm("--debug", "show", "42")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1] == "Error: task 42 not found in tag 'master'"


def test_unexpected_exception_is_one_line_without_debug(
    tm: Tm, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taskmaster.core import TaskMaster

    def boom(self, *args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(TaskMaster, "list_tasks", boom)
    result = tm.fails(1, "list")
    assert "RuntimeError: disk on fire" in result.stderr
    debug = tm("--debug", "list")
    assert debug.exit_code == 1 and "Traceback" in debug.stderr


def test_lock_timeout_exits_1_and_reads_still_work(tm: Tm) -> None:
    tm.add("Before")
    holder_code = (
        "import sys, time\n"
        "from taskmaster.storage.file import FileStorage\n"
        "with FileStorage(sys.argv[1]).locked():\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(30)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", holder_code, str(tm.tasks_file)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = tm.fails(1, "--lock-timeout", "0.2", "add-task", "-t", "Blocked")
        assert "write lock" in result.stderr and "0.2 s" in result.stderr
        assert [t["title"] for t in tm.json("list")["tasks"]] == ["Before"]  # reads: no lock
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert tm.fails(2, "--lock-timeout", "-1", "list").exit_code == 2


def test_lock_timeout_option_reaches_storage(tm: Tm, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    from taskmaster import compose

    original = compose.open_project

    def spy(*args, **kwargs):
        seen.append(kwargs["settings"].lock_timeout)
        return original(*args, **kwargs)

    monkeypatch.setattr(compose, "open_project", spy)
    tm.ok("--lock-timeout", "2.5", "list")
    tm.runner.invoke(cli, ["--project", str(tm.root), "list"], env={"TM_LOCK_TIMEOUT": "4"})
    tm.ok("list")
    assert seen == [2.5, 4.0, 10.0]


# colour ----------------------------------------------------------------------------------------


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_tty_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert context.use_color(FakeTty()) is True
    assert context.use_color(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert context.use_color(FakeTty()) is False


def test_status_is_coloured_when_colour_is_on(tm: Tm, monkeypatch: pytest.MonkeyPatch) -> None:
    tm.add("Colourful")
    plain = tm.ok("list").stdout
    assert "\x1b[" not in plain
    monkeypatch.setattr("taskmaster.cli.use_color", lambda: True)
    coloured = tm.runner.invoke(cli, ["--project", str(tm.root), "list"], color=True).stdout
    assert click.style("pending", fg="yellow") in coloured
    assert click.unstyle(coloured) == plain


# start-up cost ---------------------------------------------------------------------------------


def _tm_executable() -> str:
    candidate = Path(sys.executable).with_name("tm")
    assert candidate.exists(), "the package must be installed (pip install -e .)"
    return str(candidate)


def test_tm_list_does_not_import_server_watcher_or_redis(tm: Tm) -> None:
    tm.add("Fast")
    env = {**os.environ, "TM_PROJECT": str(tm.root)}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", _tm_executable(), "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Fast" in proc.stdout
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "taskmaster" in imported and "click" in imported  # the check itself works
    assert imported.isdisjoint(SLOW_MODULES), imported & set(SLOW_MODULES)


def test_main_entry_point(tm: Tm, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("TM_PROJECT", str(tm.root))
    with pytest.raises(SystemExit) as exit_info:
        main(["next", "--json"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == "null"
