"""claude-task-master's command names: the tag commands, update-subtask, and the AI commands."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import orjson
import pytest
from test_cli_support import Tm

from taskmaster.cli import ai, cli


@pytest.fixture
def tm(tmp_path: Path) -> Tm:
    tm = Tm.init(tmp_path)
    tm.add("Master one")
    return tm


def state(tm: Tm) -> dict:
    return orjson.loads((tm.root / ".taskmaster" / "state.json").read_bytes())


# tag commands under the reference names ---------------------------------------------------------


def test_the_reference_tag_commands_do_what_tm_tags_does(tm: Tm) -> None:
    out = tm.ok("add-tag", "feature", "--copy-from-current", "-d", "The feature").stdout
    assert out == "Tag 'feature' created with 1 task copied from 'master'.\n"
    assert [t["title"] for t in tm.tasks("feature")] == ["Master one"]
    assert tm.data()["feature"]["metadata"]["description"] == "The feature"
    tm.ok("add-tag", "empty")
    tm.ok("add-tag", "copy", "--copy-from", "feature")
    assert len(tm.tasks("copy")) == 1

    assert tm.ok("use-tag", "feature").stdout == "Now using tag 'feature' (1 task).\n"
    assert state(tm)["currentTag"] == "feature"
    tm.ok("rename-tag", "copy", "renamed")
    assert "renamed" in tm.data() and "copy" not in tm.data()
    tm.ok("copy-tag", "renamed", "again", "-d", "Second copy")
    assert tm.data()["again"]["metadata"]["description"] == "Second copy"

    tm.fails(2, "delete-tag", "again")  # no terminal and no --yes: refused
    assert tm.ok("delete-tag", "again", "--yes").stdout == "Tag 'again' deleted (1 task).\n"
    assert "again" not in tm.data()


def test_reference_tag_commands_are_hidden_from_help_but_explained(tm: Tm) -> None:
    listing = tm.ok("--help").stdout
    assert "add-tag" not in listing
    assert "add-tag, use-tag, delete-tag" in " ".join(tm.ok("tags", "--help").stdout.split())
    assert "Same as `tm tags remove`" in tm.ok("delete-tag", "--help").stdout
    add_help = tm.ok("add-tag", "--help").stdout
    assert "\n  Examples:\n    tm tags add feature-x" in add_help and "\b" not in add_help


def test_tags_show_metadata_adds_the_dates(tm: Tm) -> None:
    tm.ok("add-tag", "feature", "-d", "The feature")
    created = tm.data()["feature"]["metadata"]["created"]
    plain = tm.ok("tags").stdout
    assert created not in plain
    for args in (("tags", "--show-metadata"), ("tags", "list", "--show-metadata")):
        lines = tm.ok(*args).stdout.splitlines()
        assert lines[0].split() == ["Tag", "Tasks", "Done", "Created", "Updated", "Description"]
        feature = next(line for line in lines if "feature" in line)
        assert created in feature and feature.endswith("The feature")


# update-subtask -----------------------------------------------------------------------------------


def test_update_subtask_appends_timestamped_notes(tm: Tm) -> None:
    tm.ok("add-subtask", "-p", "1", "-t", "Child", "--details", "Plan")
    out = tm.ok("update-subtask", "--id", "1.1", "--prompt", "Found the cause").stdout
    assert out == "Subtask 1.1 updated: a note was added to its details.\n"
    sub = tm.json("update-subtask", "-i", "1.1", "-p", "Fixed it", "--research")
    assert sub["id"] == "1.1"
    details = tm.task(1)["subtasks"][0]["details"]
    block = (
        r"<info added on (?P<{n}>\d{{4}}-\d\d-\d\dT[\d:.]+Z)>\n{text}\n</info added on (?P={n})>"
    )
    first = block.format(n="first", text="Found the cause")
    second = block.format(n="second", text="Fixed it")
    assert re.fullmatch(f"Plan\n{first}\n{second}", details), details


def test_update_subtask_refuses_a_task_id_an_empty_note_and_a_missing_subtask(tm: Tm) -> None:
    before = tm.tasks_file.read_bytes()
    assert "subtask id" in tm.fails(2, "update-subtask", "-i", "1", "-p", "x").stderr
    assert "empty" in tm.fails(2, "update-subtask", "-i", "1.1", "-p", "  ").stderr
    tm.fails(2, "update-subtask", "-i", "1.1")  # --prompt is required
    tm.fails(1, "update-subtask", "-i", "1.9", "-p", "x")
    assert tm.tasks_file.read_bytes() == before


# AI commands ------------------------------------------------------------------------------------

REFERENCE_INVOCATIONS = [
    ["parse-prd", "docs/prd.txt", "--num-tasks", "10", "--force", "--research", "--append"],
    ["expand", "--all", "--force", "--research", "-n", "5"],
    ["expand", "--id", "3", "--prompt", "Use Redis", "-cr", "report.json"],
    ["update", "--from", "4", "--prompt", "Use Postgres"],
    ["scope-up", "--id", "1", "--strength", "heavy"],
    ["scope-down", "--id", "1"],
    ["analyze-complexity", "--threshold", "6", "--from", "1", "--to", "4", "-o", "x.json"],
    ["complexity-report", "--file", "x.json"],
    ["research", "What is new in Python?", "-i", "1,2", "--save-to", "3", "-d", "high"],
    ["models", "--set-main", "gpt-4o", "--openrouter"],
    ["models", "--help"],
]


@pytest.mark.parametrize("args", REFERENCE_INVOCATIONS, ids=" ".join)
def test_ai_commands_answer_with_one_line_and_exit_2(tm: Tm, args: list[str]) -> None:
    before = tm.tasks_file.read_bytes()
    result = tm.fails(2, *args)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: `tm {args[0]}` needs an AI model")
    assert ai.ALTERNATIVES[args[0]] in lines[0]
    assert result.stdout == ""
    assert tm.tasks_file.read_bytes() == before


def test_every_ai_command_names_a_way_to_do_it_instead() -> None:
    for name, instead in ai.ALTERNATIVES.items():
        assert name in cli.commands and cli.commands[name].hidden
        assert len(instead) > 20


def test_add_tag_from_branch_names_the_tag_after_the_git_branch(tm: Tm) -> None:
    tm.fails(1, "add-tag", "--from-branch")  # not a git repository yet
    subprocess.run(
        ["git", "-C", str(tm.root), "init", "-q", "-b", "Feature/Login_Page.v2"], check=True
    )
    tm.ok("add-tag", "--from-branch", "--copy-from-current")
    tag = tm.data()["feature-login_page-v2"]
    assert tag["metadata"]["description"] == 'Tag created from git branch "Feature/Login_Page.v2"'
    assert len(tag["tasks"]) == 1
    tm.fails(2, "tags", "add", "x", "--from-branch")
    tm.fails(2, "add-tag")  # neither a name nor --from-branch
    subprocess.run(["git", "-C", str(tm.root), "checkout", "-q", "-b", "main"], check=True)
    assert "does not make a tag name" in tm.fails(1, "tags", "add", "--from-branch").stderr
