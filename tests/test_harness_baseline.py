"""The naive stack really is the documents' "Current" one: no lock, non-atomic writes, a
response cache that nothing invalidates."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from harness import baseline
from harness.baseline import NaiveApp, NaiveFileStore, TornRead


def project(tmp_path: Path) -> Path:
    path = tmp_path / "tasks.json"
    tasks = [{"id": i, "title": f"t{i}", "status": "pending"} for i in (1, 2)]
    path.write_text(json.dumps({"master": {"tasks": tasks}}))
    return path


def call(app: NaiveApp, method: str, path: str, body: Any = None) -> tuple[str, Any]:
    raw = json.dumps(body).encode() if body is not None else b""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
    }
    status: list[str] = []
    data = b"".join(app(environ, lambda s, headers: status.append(s)))
    return status[0], json.loads(data)


def test_the_api_cache_is_never_invalidated(tmp_path: Path) -> None:
    path = project(tmp_path)
    app = NaiveApp(path)
    assert call(app, "GET", "/api/v1/tasks/1")[1]["status"] == "pending"
    status, task = call(app, "PUT", "/api/v1/tasks/1/status", {"status": "done"})
    assert status.startswith("200") and task["status"] == "done"
    assert json.loads(path.read_text())["master"]["tasks"][0]["status"] == "done"
    assert call(app, "GET", "/api/v1/tasks/1")[1]["status"] == "pending"  # stale, for 5 min


def test_routes_of_the_api(tmp_path: Path) -> None:
    app = NaiveApp(project(tmp_path), cache_ttl=0)
    assert call(app, "GET", "/api/v1/health") == ("200 OK", {"status": "ok"})
    status, task = call(app, "POST", "/api/v1/tasks", {"title": "new"})
    assert status.startswith("201") and task["id"] == 3
    assert call(app, "PATCH", "/api/v1/tasks/2", {"title": "x"})[1]["title"] == "x"
    assert call(app, "GET", "/api/v1/tasks/9")[0].startswith("404")
    assert call(app, "GET", "/api/v1/tasks")[1]["tasks"][2]["title"] == "new"


def test_a_torn_file_is_a_500(tmp_path: Path) -> None:
    path = project(tmp_path)
    path.write_text('{"master": {"tas')
    assert call(NaiveApp(path), "GET", "/api/v1/tasks/1")[0].startswith("500")
    with pytest.raises(TornRead):
        NaiveFileStore(path).read()


def test_the_naive_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = project(tmp_path)
    assert baseline.main(["--file", str(path), "set-status", "1", "done"]) == 0
    assert baseline.main(["update-task", "2", "--title", "y", "--file", str(path)]) == 0
    assert baseline.main(["--file", str(path), "add-task", "--title", "z"]) == 0
    capsys.readouterr()
    assert baseline.main(["--file", str(path), "show", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "y"
    assert baseline.main(["--file", str(path), "set-status", "9", "done"]) == 1
    assert baseline.main(["list"]) == 2
    data = json.loads(path.read_text())["master"]["tasks"]
    assert [t["status"] for t in data] == ["done", "pending", "pending"]


def test_transact_writes_in_place_without_a_lock(tmp_path: Path) -> None:
    path = project(tmp_path)
    inode = path.stat().st_ino
    store = NaiveFileStore(path)
    assert store.transact(lambda data: len(data["master"]["tasks"])) == 2
    assert path.stat().st_ino == inode  # rewritten in place: readers can see it half done
    assert not list(tmp_path.glob("*.lock")) and not list(tmp_path.glob("*.tm-lock"))


def test_each_naive_instance_counts_its_own_budget(tmp_path: Path) -> None:
    path = project(tmp_path)
    first, second = NaiveApp(path, rate_limit="3/minute"), NaiveApp(path, rate_limit="3/minute")
    answers = [call(app, "GET", "/api/v1/tasks/1")[0] for app in (first, second) for _ in range(4)]
    # "two instances with 100 req/min each allow 200 req/min in total"
    assert [a[:3] for a in answers] == ["200"] * 3 + ["429"] + ["200"] * 3 + ["429"]
    assert call(first, "GET", "/api/v1/health")[0].startswith("200")  # never limited
    assert call(first, "GET", "/api/v1/tasks/1")[1] == {"error": "rate limit exceeded"}


def test_the_naive_server_takes_its_budget_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[Any] = []
    monkeypatch.setattr(baseline, "serve", lambda *args, **kw: served.append((args, kw)))
    monkeypatch.setenv(baseline.RATE_LIMIT_ENV, "5/second")
    path = project(tmp_path)
    assert baseline.main(["--file", str(path), "serve", "--port", "1"]) == 0
    assert served[-1][1]["rate_limit"] == "5/second"
    assert (
        baseline.main(["--file", str(path), "serve", "--port", "1", "--rate-limit", "1/hour"]) == 0
    )
    assert served[-1][1]["rate_limit"] == "1/hour"
    monkeypatch.delenv(baseline.RATE_LIMIT_ENV)
    assert baseline.main(["--file", str(path), "serve", "--port", "1"]) == 0
    assert served[-1][1]["rate_limit"] is None


def test_the_naive_agent_serves_the_copy_it_loaded_and_writes_it_back(tmp_path: Path) -> None:
    path = project(tmp_path)
    agent = baseline.NaiveAgent(path)
    assert json.loads(agent.call("get_task", {"id": "1"}))["status"] == "pending"
    # another front end changes task 1 after the session began
    baseline.NaiveCore(path).set_status(1, "done")
    assert json.loads(agent.call("get_task", {"id": "1"}))["status"] == "pending"  # stale
    changed = json.loads(agent.call("set_task_status", {"id": "2", "status": "review"}))
    assert [(item["id"], item["status"]) for item in changed] == [(2, "review")]
    tasks = json.loads(path.read_text())["master"]["tasks"]
    assert [t["status"] for t in tasks] == ["pending", "review"]  # task 1's "done" is lost
    updated = json.loads(agent.call("update_task", {"id": 2, "title": "t", "status": None}))
    assert updated["title"] == "t"
    added = json.loads(agent.call("add_task", {"title": "new", "details": "d"}))
    assert (added["id"], added["details"]) == (3, "d")
    assert [t["title"] for t in json.loads(path.read_text())["master"]["tasks"]] == [
        "t1",
        "t",
        "new",
    ]
    with pytest.raises(baseline.NoSuchTask):
        agent.call("get_task", {"id": "9"})
    with pytest.raises(baseline.NaiveError, match="unknown tool"):
        agent.call("remove_task", {"id": "1"})
