"""What the API (and the CLI and MCP beside it) answer when the file system fails under the
task file: a 503 `storage-error` problem with `Retry-After` on every route, `degraded` in
health, never a 500, and the file never touched."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from falcon.testing import Result
from test_api_support import Api, assert_problem

from taskmaster.storage import Commit
from taskmaster.storage.file import FileStorage

TM = str(Path(sys.executable).with_name("tm"))


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    api = Api(tmp_path)
    api.add("first")
    api.post("/api/v1/tasks/1/subtasks", {"title": "child"})
    yield api
    api.close()


def _every_route(api: Api) -> list[Result]:
    """One request per route and method, reads and writes."""
    return [
        api.get("/api/v1/tasks"),
        api.get("/api/v1/tasks/1"),
        api.get("/api/v1/tasks/1.1"),
        api.get("/api/v1/next"),
        api.get("/api/v1/tags"),
        api.get("/api/v1/tags/master"),
        api.get("/api/v1/current-tag"),
        api.get("/api/v1/dependencies/validation"),
        api.post("/api/v1/tasks", {"title": "x"}),
        api.patch("/api/v1/tasks/1", {"title": "y"}),
        api.put("/api/v1/tasks/1/status", {"status": "done"}),
        api.post("/api/v1/set-status", {"ids": [1], "status": "done"}),
        api.post("/api/v1/tasks/1/subtasks", {"title": "z"}),
        api.delete("/api/v1/tasks/1/subtasks"),
        api.post("/api/v1/tasks/1/dependencies", {"dependsOn": "1.1"}),
        api.delete("/api/v1/tasks/1/dependencies/2"),
        api.delete("/api/v1/tasks/1"),
        api.post("/api/v1/move", {"from": [1], "to": [5]}),
        api.post("/api/v1/clear-subtasks", {"all": True}),
        api.post("/api/v1/dependencies/fix"),
        api.post("/api/v1/generate"),
        api.post("/api/v1/tags", {"name": "feature"}),
        api.patch("/api/v1/tags/master", {"name": "other"}),
        api.put("/api/v1/current-tag", {"name": "master"}),
        api.delete("/api/v1/tags/master"),
    ]


def test_a_directory_in_place_of_the_task_file_is_a_503_storage_error_everywhere(
    api: Api,
) -> None:
    api.tasks_file.unlink()
    api.tasks_file.mkdir()
    for result in _every_route(api):
        problem = assert_problem(result, 503, kind="storage-error")
        assert problem["errno"] == errno.EISDIR
        assert problem["path"] == str(api.tasks_file)
        assert int(result.headers["retry-after"]) > 0
    assert api.tasks_file.is_dir() and not any(api.tasks_file.iterdir())


def test_health_is_degraded_and_says_what_is_wrong_then_recovers(api: Api) -> None:
    saved = api.tasks_file.read_bytes()
    api.tasks_file.unlink()
    api.tasks_file.mkdir()
    result = api.get("/api/v1/health")
    assert result.status_code == 503
    assert result.headers["content-type"] == "application/json"
    assert int(result.headers["retry-after"]) > 0
    assert result.json["status"] == "degraded"
    assert result.json["storage"]["state"] == "error"
    assert result.json["storage"]["kind"] == "storage-error"
    assert "Is a directory" in result.json["storage"]["error"]
    # HEAD, as a load balancer may probe, gets the same status.
    assert api.client.simulate_head("/api/v1/health").status_code == 503

    api.tasks_file.rmdir()
    api.tasks_file.write_bytes(saved)
    healthy = api.get("/api/v1/health")
    assert healthy.status_code == 200
    assert healthy.json["status"] == "ok"
    assert healthy.json["storage"] == {"state": "ok", "error": None}


class FullDisk(FileStorage):
    """A disk that is full: every write fails with ENOSPC, as `write(2)` does; reads work."""

    def transact(self, operation: Callable[..., Any], **options: Any) -> Commit[Any]:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))


def test_a_full_disk_is_a_503_storage_error_and_reads_still_work(api: Api) -> None:
    before = api.tasks_file.read_bytes()
    api.core.storage = FullDisk(api.tasks_file)
    result = api.post("/api/v1/tasks", {"title": "x"})
    problem = assert_problem(result, 503, kind="storage-error")
    assert problem["errno"] == errno.ENOSPC
    assert problem["reason"] == os.strerror(errno.ENOSPC)
    assert int(result.headers["retry-after"]) > 0
    assert api.get("/api/v1/tasks").status_code == 200
    assert api.tasks_file.read_bytes() == before


def _tm(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TM_")}
    return subprocess.run(
        [TM, "--project", str(root), *args], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.mark.parametrize(
    "args", [("list",), ("show", "--id", "1"), ("add-task", "--title", "x"), ("tags",)]
)
def test_the_cli_says_one_error_line_for_a_directory_in_place_of_the_file(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    assert _tm(tmp_path, "init").returncode == 0
    tasks_file = tmp_path / ".taskmaster" / "tasks.json"
    tasks_file.unlink()
    tasks_file.mkdir()
    proc = _tm(tmp_path, *args)
    assert proc.returncode == 1, proc
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    assert "Is a directory" in lines[0]
    assert "Traceback" not in proc.stderr


def test_a_hard_linked_task_file_is_a_409_that_says_why_and_reads_go_on(
    api: Api, tmp_path: Path
) -> None:
    os.link(api.tasks_file, tmp_path / "second-name.json")
    before = api.tasks_file.read_bytes()
    problem = assert_problem(
        api.put("/api/v1/tasks/1/status", {"status": "done"}), 409, kind="task-file-hard-linked"
    )
    assert problem["links"] == 2 and "hard links" in problem["detail"]
    assert api.get("/api/v1/tasks/1").status_code == 200
    assert api.tasks_file.read_bytes() == before


def test_a_shared_id_is_a_409_naming_the_repair(api: Api) -> None:
    document = orjson.loads(api.tasks_file.read_bytes())
    twin = dict(document["master"]["tasks"][0], title="twin")
    document["master"]["tasks"].append(twin)
    api.tasks_file.write_bytes(orjson.dumps(document))
    before = api.tasks_file.read_bytes()
    problem = assert_problem(
        api.put("/api/v1/tasks/1/status", {"status": "done"}), 409, kind="duplicate-id"
    )
    assert "1" in problem["taskId"] and "fix-dependencies" in problem["detail"]
    assert_problem(api.delete("/api/v1/tasks/1"), 409, kind="duplicate-id")
    assert api.tasks_file.read_bytes() == before


@pytest.mark.parametrize("name", ["tasks.json", "state.json"])
def test_a_fifo_in_place_of_a_project_file_is_refused_at_once_never_waited_on(
    api: Api, name: str
) -> None:
    # open() on a FIFO blocks until a writer comes: every request would hang.
    path = api.tasks_file.with_name(name)
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    for result in (
        api.get("/api/v1/tasks"),
        api.put("/api/v1/tasks/1/status", {"status": "done"}),
    ):
        problem = assert_problem(result, 503)
        assert "a FIFO, not a regular file" in problem["detail"]
    if name == "tasks.json":
        assert api.get("/api/v1/health").json["status"] == "degraded"
    assert path.exists() and not path.is_file()


def test_the_cli_says_one_error_line_for_a_fifo_in_place_of_the_file(tmp_path: Path) -> None:
    assert _tm(tmp_path, "init").returncode == 0
    tasks_file = tmp_path / ".taskmaster" / "tasks.json"
    tasks_file.unlink()
    os.mkfifo(tasks_file)
    for args in (("list",), ("add-task", "-t", "x")):
        proc = _tm(tmp_path, *args)
        assert proc.returncode == 1, proc
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and "a FIFO, not a regular file" in lines[0], proc.stderr
