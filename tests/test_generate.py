"""Markdown task files: names, content, stale files, atomic and idempotent writes; `tm generate`."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest
from test_cli_support import Tm

from taskmaster import generate
from taskmaster.commands import AddTask
from taskmaster.compose import init_project
from taskmaster.errors import InvalidInput
from taskmaster.generate import render_task, task_file_name, task_file_pattern, write_task_files
from taskmaster.model import check_tag_name

TASKS = [
    {
        "id": 1,
        "title": "Scaffold",
        "description": "Create the repo",
        "details": "uv init\nruff",
        "testStrategy": "CI is green",
        "status": "done",
        "dependencies": [],
        "priority": "high",
        "subtasks": [
            {"id": 1, "title": "Repo", "status": "done", "dependencies": []},
            {
                "id": 2,
                "title": "CI",
                "description": "Actions",
                "status": "pending",
                "dependencies": [1],
                "details": "matrix",
            },
        ],
    },
    {"id": 2, "title": "Schema", "status": "pending", "dependencies": [1, "1.2", 9]},
]


def test_file_names() -> None:
    assert task_file_name(1, "master") == "task_001.md"
    assert task_file_name(42, "feature-x") == "task_042_feature-x.md"
    assert task_file_name(1234, "master") == "task_1234.md"
    master, feature = task_file_pattern("master"), task_file_pattern("feature")
    assert master.fullmatch("task_001.md") and not master.fullmatch("task_001_feature.md")
    assert feature.fullmatch("task_007_feature.md")
    assert not feature.fullmatch("task_007.md") and not feature.fullmatch("task_007_x_feature.md")
    assert not task_file_pattern("a.b").fullmatch("task_001_aXb.md")  # the name is escaped


def test_render_task_content() -> None:
    text = render_task(TASKS[0], "master", {"1": "done", "1.1": "done", "1.2": "pending"})
    assert text.startswith("# Task 1: Scaffold\n\n- **Status:** done\n- **Priority:** high\n")
    assert "- **Dependencies:** none\n" in text
    assert "## Description\n\nCreate the repo\n" in text
    assert "## Details\n\nuv init\nruff\n" in text
    assert "## Test Strategy\n\nCI is green\n" in text
    assert "## Subtasks (1/2 done)" in text
    assert "### 1.2: CI\n\n- **Status:** pending\n- **Dependencies:** 1.1 (done)\n" in text
    assert "#### Details\n\nmatrix" in text
    assert text.endswith("\n") and not text.endswith("\n\n")
    other = render_task(TASKS[1], "feature", {"1": "done", "1.2": "pending"})
    assert "- **Dependencies:** 1 (done), 1.2 (pending), 9 (missing)" in other
    assert "- **Tag:** feature" in other
    assert "## Description" not in other  # empty sections are left out


def test_write_task_files_and_stale_removal(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = write_task_files(TASKS, "master", out)
    assert [p.name for p in first.files] == ["task_001.md", "task_002.md"]
    assert first.written == first.files and first.removed == []
    (out / "task_009.md").write_text("stale")
    (out / "task_001_feature.md").write_text("another tag's")
    (out / "notes.md").write_text("not ours")
    second = write_task_files(TASKS[:1], "master", out)
    assert [p.name for p in second.removed] == ["task_002.md", "task_009.md"]
    assert second.written == []  # unchanged content is not rewritten
    assert sorted(p.name for p in out.iterdir()) == [
        "notes.md",
        "task_001.md",
        "task_001_feature.md",
    ]
    assert second.to_dict()["files"] == [str(out / "task_001.md")]


def test_each_file_is_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = generate.replace_file

    def spy(path: Path, data: bytes, **kwargs) -> None:
        calls.append((path.name, kwargs))
        real(path, data, **kwargs)

    monkeypatch.setattr(generate, "replace_file", spy)
    write_task_files(TASKS, "feature", tmp_path)
    assert calls == [
        ("task_001_feature.md", {"durable": False}),
        ("task_002_feature.md", {"durable": False}),
    ]
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_facade_generate_default_directory(tmp_path: Path) -> None:
    project, _ = init_project(tmp_path)
    core = project.core
    core.execute(AddTask(values={"title": "Hello"}))
    result = core.generate(project.default_output_dir).result
    assert result.output_dir == tmp_path / ".taskmaster" / "tasks"
    assert (
        (tmp_path / ".taskmaster" / "tasks" / "task_001.md")
        .read_text()
        .startswith("# Task 1: Hello\n")
    )
    project.close()


def test_cli_generate(tmp_path: Path) -> None:
    tm = Tm.init(tmp_path)
    tm.add("One")
    tm.add("Two")
    out = tmp_path / "docs"
    report = tm.json("generate", "-o", str(out))
    assert report == {
        "tag": "master",
        "outputDir": str(out),
        "files": [str(out / "task_001.md"), str(out / "task_002.md")],
        "written": [str(out / "task_001.md"), str(out / "task_002.md")],
        "removed": [],
    }
    tm.ok("remove-task", "-i", "2", "-y")
    message = tm.ok("generate", "--output", str(out)).stdout
    assert message == f"1 task file for tag 'master' in {out} (0 written, 1 stale removed).\n"
    tm.ok("tags", "add", "feat", "--copy-from", "master")
    tm.ok("generate", "-o", str(out), "--tag", "feat")
    assert sorted(p.name for p in out.iterdir()) == ["task_001.md", "task_001_feat.md"]
    tm.ok("generate")
    assert (tmp_path / ".taskmaster" / "tasks" / "task_001.md").is_file()
    assert tm.fails(1, "generate", "--tag", "nope").exit_code == 1


# hostile names and links ---------------------------------------------------------------------


def test_a_hostile_tag_from_the_project_files_never_names_a_file_outside(tmp_path: Path) -> None:
    """The tag comes from tasks.json's keys and state.json, both of which a cloned repository
    controls: a name that climbs out of the directory is refused, and nothing is written."""
    outside = tmp_path / "outside"
    outside.mkdir()
    tm = Tm.init(tmp_path / "project")
    hostile = f"/../../../../../../../..{outside}/pwned"
    document = {
        "master": {"tasks": [], "metadata": {}},
        hostile: {"tasks": [{"id": 1, "title": "Owned", "status": "pending"}], "metadata": {}},
    }
    tm.tasks_file.write_bytes(orjson.dumps(document))
    state = tm.root / ".taskmaster" / "state.json"
    state.write_bytes(orjson.dumps({"currentTag": hostile}))
    # The directory the name starts with, which the repository can ship too, lets the
    # kernel walk the `..` parts out of the output directory.
    (tm.root / ".taskmaster" / "tasks" / "task_001_").mkdir(parents=True)
    result = tm.fails(1, "generate")
    assert "invalid tag name" in result.stderr
    result = tm.fails(1, "generate", "--tag", hostile)
    assert "invalid tag name" in result.stderr
    assert list(outside.iterdir()) == []
    assert [p.name for p in (tm.root / ".taskmaster" / "tasks").iterdir()] == ["task_001_"]


def test_a_tag_name_with_a_trailing_newline_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="invalid tag name"):
        write_task_files(TASKS, "feature\n", tmp_path)
    with pytest.raises(InvalidInput, match="invalid tag name"):
        check_tag_name("feature\n")
    assert list(tmp_path.iterdir()) == []
    tm = Tm.init(tmp_path / "project")
    assert "invalid tag name" in tm.fails(1, "tags", "add", "feature\n").stderr


def test_a_symlinked_task_file_is_neither_written_through_nor_deleted(tmp_path: Path) -> None:
    """A `task_*.md` that is a symlink to a file elsewhere: generate refuses the whole run
    before writing anything, whether the link would be rewritten or removed as stale."""
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("keep me\n")
    (out / "task_001.md").symlink_to(victim)
    with pytest.raises(generate.OutsideOutputDir, match="outside the output directory"):
        write_task_files(TASKS, "master", out)
    assert victim.read_text() == "keep me\n"
    assert (out / "task_001.md").is_symlink() and not (out / "task_002.md").exists()
    (out / "task_001.md").unlink()
    (out / "task_009.md").symlink_to(victim)  # would be "stale": task 9 does not exist
    with pytest.raises(generate.OutsideOutputDir):
        write_task_files(TASKS, "master", out)
    assert victim.read_text() == "keep me\n" and (out / "task_009.md").is_symlink()
    assert list(out.glob("task_00[12].md")) == []
