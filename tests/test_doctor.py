"""`tm doctor` (and GET /api/v1/doctor, MCP doctor): each check finds what it is for, on real
files and real git repositories, and never changes the user's files."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_api_support import Api
from test_cli_support import Tm
from test_mcp import McpServer, init_project, serve

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture
def tm(tmp_path: Path) -> Tm:
    tm = Tm.init(tmp_path)
    tm.ok("add-task", "--title", "one")
    tm.ok("add-task", "--title", "two")
    return tm


def checks(tm: Tm, code: int = 0) -> dict[str, dict[str, Any]]:
    result = tm("doctor", "--json")
    assert result.exit_code == code, result.output
    report = orjson.loads(result.stdout)
    assert report["ok"] == (code == 0)
    return {check["name"]: check for check in report["checks"]}


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def test_a_healthy_project_outside_git_is_ok(tm: Tm) -> None:
    found = checks(tm)
    assert {name: c["status"] for name, c in found.items()} == {
        "task-file": "ok",
        "ids": "ok",
        "ref-lock": "ok",
        "sidecars": "ok",
        "reversions": "ok",
        "git": "skip",
    }
    out = tm.ok("doctor").stdout
    assert out.splitlines()[0].startswith("ok    task-file")


def test_a_corrupt_task_file_fails_and_is_left_as_it_is(tm: Tm) -> None:
    tm.tasks_file.write_bytes(b'{"master": {"tasks": [')
    found = checks(tm, code=1)
    assert found["task-file"]["status"] == "fail"
    assert "ids" not in found  # nothing to check in a file that does not parse
    assert tm.tasks_file.read_bytes() == b'{"master": {"tasks": ['
    assert "FAIL  task-file" in tm.fails(1, "doctor").stdout


def test_a_directory_in_place_of_the_task_file_fails_every_check_that_reads_it(tm: Tm) -> None:
    tm.tasks_file.unlink()
    tm.tasks_file.mkdir()
    found = checks(tm, code=1)
    assert found["task-file"]["status"] == "fail"
    assert "Is a directory" in found["task-file"]["summary"]
    assert found["reversions"]["status"] == "fail"
    assert found["ref-lock"]["status"] == "ok"  # the others still run
    assert tm.tasks_file.is_dir() and not any(tm.tasks_file.iterdir())


def test_an_id_two_tasks_share_fails(tm: Tm) -> None:
    data = orjson.loads(tm.tasks_file.read_bytes())
    data["master"]["tasks"][1]["id"] = 1
    tm.tasks_file.write_bytes(orjson.dumps(data))
    found = checks(tm, code=1)
    assert found["ids"]["status"] == "fail"
    assert any("1" in line for line in found["ids"]["details"])


def test_a_missing_dependency_is_a_warning(tm: Tm) -> None:
    data = orjson.loads(tm.tasks_file.read_bytes())
    data["master"]["tasks"][0]["dependencies"] = [99]
    tm.tasks_file.write_bytes(orjson.dumps(data))
    assert checks(tm)["ids"]["status"] == "warn"


def test_a_reversion_is_reported_with_its_revision(tm: Tm) -> None:
    stale = tm.tasks_file.read_bytes()
    tm.ok("set-status", "2", "done")
    reverted = tm.json("history")["entries"][-1]["revision"]
    temporary = tm.tasks_file.with_name("tasks.json.tmp.42")
    temporary.write_bytes(stale)
    os.replace(temporary, tm.tasks_file)
    check = checks(tm)["reversions"]
    assert check["status"] == "warn"
    assert check["details"][0].endswith(f"reverted revision {reverted}: 2 status")


def test_an_unfinished_write_of_a_killed_writer_is_a_warning(tm: Tm) -> None:
    orphan = tm.tasks_file.with_name(".tasks.json.abc123.tmp")
    orphan.write_bytes(b"{")
    check = checks(tm)["sidecars"]
    assert check["status"] == "warn" and any(orphan.name in d for d in check["details"])
    assert orphan.exists()  # reported, not removed


@needs_git
def test_git_that_would_commit_the_sidecars_and_has_no_merge_driver_is_a_warning(
    tm: Tm,
) -> None:
    git(tm.root, "init", "-q")
    (tm.root / ".taskmaster" / ".gitignore").unlink()
    check = checks(tm)["git"]
    assert check["status"] == "warn"
    committed, driver = check["details"]
    assert "tasks.json.tm-journal" in committed and "tasks.json.tm-rev" in committed
    assert "merge driver" in driver


def test_the_reference_lock_is_described_and_a_killed_tms_is_a_warning(tm: Tm) -> None:
    lock = tm.tasks_file.with_name("tasks.json.lock")
    lock.mkdir()  # the reference core's form, while it writes
    check = checks(tm)["ref-lock"]
    assert check["status"] == "ok" and "directory form" in check["summary"]
    lock.rmdir()
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that ran and is gone
    lock.write_text(orjson.dumps({"pid": dead.pid, "timestamp": 0, "tool": "taskmaster"}).decode())
    check = checks(tm)["ref-lock"]
    assert check["status"] == "warn"
    assert f"pid {dead.pid}, not running" in check["summary"]
    assert "killed" in check["details"][0]
    assert lock.exists()  # reported, not removed


def test_stale_files_the_reference_tool_leaves_are_a_warning(tm: Tm) -> None:
    litter = tm.tasks_file.with_name("tasks.json.lock.stale.123.456")
    litter.write_text("{}")
    check = checks(tm)["ref-lock"]
    assert check["status"] == "warn" and litter.name in check["details"][-1]


# the same report over REST and MCP -------------------------------------------------------------
def test_the_api_serves_the_same_report(tmp_path: Path) -> None:
    api = Api(tmp_path)
    try:
        api.add("one")
        answer = api.get("/api/v1/doctor")
        assert answer.status_code == 200
        names = [c["name"] for c in answer.json["checks"]]
        assert names == ["task-file", "ids", "ref-lock", "sidecars", "reversions", "git"]
        api.tasks_file.write_bytes(b"not json")
        broken = api.get("/api/v1/doctor")
        assert broken.status_code == 200 and broken.json["status"] == "fail"
        assert api.tasks_file.read_bytes() == b"not json"
    finally:
        api.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpServer]:
    yield from serve(tmp_path_factory.mktemp("mcp-doctor").resolve())


def test_mcp_doctor_gives_the_same_report(server: McpServer) -> None:
    root = init_project(server.allowed / "doctor")
    report = server.ok("doctor", projectRoot=str(root))
    assert report["status"] in ("ok", "warn") and report["ok"] is True
    assert [c["name"] for c in report["checks"]][:2] == ["task-file", "ids"]
