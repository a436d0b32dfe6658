"""Choosing a project's storage by URL, and what each front end says when the store is down.

Without a database: selection and precedence are shown with `file:` URLs (real `tm`
processes), the project file (`.taskmaster/storage.toml`) with its parser, and the edge mapping
of `StorageUnavailable` with a store that raises it on demand (a pure mapping: the same store,
"down" or not). The PostgreSQL versions are in tests/integration/test_postgres_frontends.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from click.testing import CliRunner
from falcon.testing import TestClient
from test_api_support import assert_problem

from taskmaster import compose
from taskmaster.api import create_app
from taskmaster.cli import cli
from taskmaster.compose import (
    Project,
    Settings,
    check_storage_url,
    file_url,
    init_project,
    open_project,
)
from taskmaster.config import Config
from taskmaster.core import TaskMaster
from taskmaster.errors import CorruptStateFile, InvalidInput, StorageUnavailable, TaskMasterError
from taskmaster.mcp.toolkit import tool_errors
from taskmaster.model import Document
from taskmaster.project import read_storage_url, storage_file, write_storage_url
from taskmaster.storage import ProjectState
from taskmaster.storage.base import Commit, Draft, Snapshot
from taskmaster.storage.memory import MemoryStorage
from taskmaster.transfer import export_bytes, import_into, load_document, migrate

T = TypeVar("T")
TM = str(Path(sys.executable).with_name("tm"))


# the URL ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://tm@db.internal:5433/tasks?project=app",
        "postgres://localhost/tasks",
        "postgresql:///tasks",  # libpq: the local socket
        "  postgresql://u:secret@h/db  ",
        "file:///tmp/x/tasks.json",
        "memory:",
    ],
)
def test_well_formed_urls_are_accepted(url: str) -> None:
    assert check_storage_url(url) == url.strip()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://h/db", "unknown storage"),
        ("tasks.json", "unknown storage"),
        ("", "empty storage URL"),
        ("postgresql://h:port/db", "malformed"),
        ("postgresql://h/db?project=", "project key"),
        ("postgresql://h/db?project=a&project=b", "project key"),
        ("postgresql:h/db", "malformed"),
        ("file://otherhost/tasks.json", "malformed"),
        ("file:", "malformed"),
    ],
)
def test_malformed_urls_are_refused_saying_why(url: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        check_storage_url(url)


def test_a_refused_url_never_shows_its_password() -> None:
    with pytest.raises(InvalidInput) as info:
        check_storage_url("postgresql://me:hunter2@h:x/db")
    assert "hunter2" not in str(info.value) and "me:***@" in str(info.value)


def _tm(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TM_")}
    return subprocess.run(
        [TM, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, "NO_COLOR": "1", **(env or {})},
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--storage", "mysql://h/db", "list"], {}),
        (["--storage", "postgresql://h:notaport/db", "list"], {}),
        (["list"], {"TM_STORAGE_URL": "redis://h/0"}),
        (["init", "--storage", "postgresql://h/db?project="], {}),
    ],
)
def test_a_bad_storage_url_is_a_usage_error(
    tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    proc = _tm(*args, cwd=tmp_path, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "storage" in proc.stderr and proc.stderr.rstrip().splitlines()[-1].startswith("Error:")
    assert not (tmp_path / ".taskmaster").exists()


# which store a command uses -----------------------------------------------------------------


def _titles(proc: subprocess.CompletedProcess[str]) -> list[str]:
    assert proc.returncode == 0, proc.stderr
    return [task["title"] for task in orjson.loads(proc.stdout)["tasks"]]


@pytest.fixture
def four_stores(tmp_path: Path) -> dict[str, Path]:
    """A project directory with a task file, a project file naming another task file, and two
    more task files for --storage and TM_STORAGE_URL: each holds one task named after it."""
    places = {}
    for name in ("own", "named", "env", "option"):
        directory = tmp_path / name
        project, _ = init_project(directory)
        project.close()
        assert _tm("add-task", "-t", name, cwd=directory).returncode == 0
        places[name] = directory / ".taskmaster" / "tasks.json"
    return places


def test_the_option_wins_over_the_variable_the_project_file_and_the_task_file(
    four_stores: dict[str, Path], tmp_path: Path
) -> None:
    here = tmp_path / "own"
    assert _titles(_tm("list", "--json", cwd=here)) == ["own"]
    write_storage_url(here, file_url(four_stores["named"]))
    assert _titles(_tm("list", "--json", cwd=here)) == ["named"]
    env = {"TM_STORAGE_URL": file_url(four_stores["env"])}
    assert _titles(_tm("list", "--json", cwd=here, env=env)) == ["env"]
    option = ["--storage", file_url(four_stores["option"])]
    assert _titles(_tm(*option, "list", "--json", cwd=here, env=env)) == ["option"]
    # and a write goes where the read came from
    assert _tm(*option, "add-task", "-t", "second", cwd=here, env=env).returncode == 0
    assert _titles(_tm("--project", str(tmp_path / "option"), "list", "--json", cwd=tmp_path)) == [
        "option",
        "second",
    ]
    assert _titles(_tm("list", "--json", cwd=here)) == ["named"]


def test_project_dir_finds_the_project_file(four_stores: dict[str, Path], tmp_path: Path) -> None:
    here = tmp_path / "own"
    write_storage_url(here, file_url(four_stores["named"]))
    (here / "sub").mkdir()
    assert _titles(_tm("--project", str(here), "list", "--json", cwd=tmp_path)) == ["named"]
    assert _titles(_tm("list", "--json", cwd=here / "sub")) == ["named"]
    info = orjson.loads(_tm("storage", "info", "--json", cwd=here).stdout)
    assert info["location"] == str(four_stores["named"].resolve())
    assert info["projectFile"] == str(storage_file(here))
    assert info["backend"] == "file" and "schemaVersion" not in info


def test_with_a_url_no_project_directory_is_needed(
    four_stores: dict[str, Path], tmp_path: Path
) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    env = {"TM_STORAGE_URL": file_url(four_stores["env"])}
    assert _titles(_tm("list", "--json", cwd=bare, env=env)) == ["env"]
    proc = _tm("list", cwd=bare)
    assert proc.returncode == 1 and "no Task Master project" in proc.stderr


def test_file_and_storage_together_is_a_usage_error_and_file_beats_the_variable(
    four_stores: dict[str, Path], tmp_path: Path
) -> None:
    url = file_url(four_stores["env"])
    proc = _tm("--storage", url, "-f", str(four_stores["own"]), "list", cwd=tmp_path)
    assert proc.returncode == 2 and "only one" in proc.stderr
    proc = _tm(
        "-f", str(four_stores["own"]), "list", "--json", cwd=tmp_path, env={"TM_STORAGE_URL": url}
    )
    assert _titles(proc) == ["own"]


# the project file ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://tm@db/tasks?project=a",
        'postgresql://u:p"\\q@h/db',  # quotes and backslashes survive TOML
        "postgresql://h/db?project=caf\u00e9",
    ],
)
def test_the_project_file_holds_the_url_as_written(tmp_path: Path, url: str) -> None:
    (tmp_path / ".taskmaster").mkdir()
    path = write_storage_url(tmp_path, url)
    assert read_storage_url(tmp_path) == url
    assert "PGPASSWORD" in path.read_text()  # the file itself says where passwords belong


def test_a_corrupt_project_file_is_reported_naming_it(tmp_path: Path) -> None:
    (tmp_path / ".taskmaster").mkdir()
    storage_file(tmp_path).write_text('url = "postgresql://h/db\n')
    with pytest.raises(CorruptStateFile, match=r"storage\.toml"):
        read_storage_url(tmp_path)
    storage_file(tmp_path).write_text('host = "h"\n')
    with pytest.raises(CorruptStateFile, match="url ="):
        read_storage_url(tmp_path)
    proc = _tm("list", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1 and "storage.toml" in proc.stderr


def test_a_project_file_with_a_bad_url_names_the_file(tmp_path: Path) -> None:
    (tmp_path / ".taskmaster").mkdir()
    write_storage_url(tmp_path, "mysql://h/db")
    with pytest.raises(InvalidInput, match=r"storage\.toml: unknown storage"):
        open_project(tmp_path)


def test_the_reference_tools_config_is_never_written(tmp_path: Path) -> None:
    project, _ = init_project(tmp_path)
    project.close()
    config = tmp_path / ".taskmaster" / "config.json"
    config.write_text('{"global": {"defaultTag": "master"}}\n')
    before = config.read_bytes()
    proc = _tm("init", "--storage", "memory:", cwd=tmp_path)
    assert proc.returncode == 1 and "needs no" in proc.stderr
    assert config.read_bytes() == before and not storage_file(tmp_path).exists()


# export, import, migrate on the file backend -------------------------------------------------

UNKNOWN_KEYS = {
    "master": {
        "tasks": [
            {
                "id": 1,
                "title": "Task",
                "status": "pending",
                "dependencies": [],
                "x-task": {"deep": [1, {"k": None}]},
                "subtasks": [
                    {"id": 1, "title": "Sub", "status": "done", "dependencies": [], "x-sub": 7}
                ],
            }
        ],
        "metadata": {"created": "2025-01-01T00:00:00.000Z", "x-meta": True},
        "x-tag": "kept",
    },
    "feature": {"tasks": [], "metadata": {}},
    "x-top": {"not": "a tag"},
}
FLAT_LEGACY = {
    "tasks": [{"id": 1, "title": "Old", "status": "pending", "dependencies": [], "x": 1}],
    "x-flat": "kept",
}


def _write(path: Path, data: Any) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = Document.from_data(orjson.loads(orjson.dumps(data))).to_json()
    path.write_bytes(raw)
    return raw


@pytest.mark.parametrize("document", [UNKNOWN_KEYS, FLAT_LEGACY], ids=["tagged", "flat"])
def test_export_is_the_task_file_byte_for_byte(tmp_path: Path, document: Any) -> None:
    project, _ = init_project(tmp_path)
    assert project.paths is not None
    raw = _write(project.paths.tasks_file, document)
    try:
        assert export_bytes(project.core.storage)[0] == raw
        out = _tm("storage", "export", cwd=tmp_path)
        assert out.returncode == 0 and out.stdout.encode() == raw
        target = tmp_path / "out" / "tasks.json"
        assert _tm("storage", "export", "--to", str(target), cwd=tmp_path).returncode == 0
        assert target.read_bytes() == raw and not (target.parent / "state.json").exists()
    finally:
        project.close()


def test_import_replaces_the_document_and_a_corrupt_file_changes_nothing(tmp_path: Path) -> None:
    project_dir, source = tmp_path / "p", tmp_path / "in" / "tasks.json"
    project, _ = init_project(project_dir)
    project.close()
    assert _tm("add-task", "-t", "before", cwd=project_dir).returncode == 0
    tasks_file = project_dir / ".taskmaster" / "tasks.json"
    before = tasks_file.read_bytes()
    for bad in (b'{"master": {"tasks": [', b'{"name": "a package.json"}', b""):
        source.parent.mkdir(exist_ok=True)
        source.write_bytes(bad)
        proc = _tm("storage", "import", str(source), "--yes", cwd=project_dir)
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.startswith("Error: ") and proc.stderr.count("\n") == 1
        assert "nothing was imported" in proc.stderr
        assert tasks_file.read_bytes() == before
    # a project holding tasks is not replaced without asking
    raw = _write(source, UNKNOWN_KEYS)
    proc = _tm("storage", "import", str(source), cwd=project_dir)
    assert proc.returncode == 2 and tasks_file.read_bytes() == before
    proc = _tm("storage", "import", str(source), "--yes", "--json", cwd=project_dir)
    assert proc.returncode == 0, proc.stderr
    assert orjson.loads(proc.stdout)["tasks"] == 1
    assert tasks_file.read_bytes() == raw


def test_import_with_state_takes_the_current_tag(tmp_path: Path) -> None:
    project, _ = init_project(tmp_path / "p")
    source = tmp_path / "in" / "tasks.json"
    _write(source, UNKNOWN_KEYS)
    (source.parent / "state.json").write_text('{"currentTag": "feature"}')
    try:
        commit = import_into(project.core, load_document(source), ProjectState("feature"))
        assert commit.changed and project.core.current_tag() == "feature"
    finally:
        project.close()


def test_migrate_refuses_a_target_with_tasks_unless_forced(tmp_path: Path) -> None:
    source, _ = init_project(tmp_path / "a")
    target, _ = init_project(tmp_path / "b")
    target.close()
    assert source.paths is not None
    raw = _write(source.paths.tasks_file, UNKNOWN_KEYS)
    url = file_url(tmp_path / "b" / ".taskmaster" / "tasks.json")
    try:
        result = migrate(source, url, Settings())  # b is empty: fine
        assert result["verified"] and result["tasks"] == 1
        assert (tmp_path / "b" / ".taskmaster" / "tasks.json").read_bytes() == raw
        with pytest.raises(InvalidInput, match="already holds tasks"):
            migrate(source, url, Settings())
        assert migrate(source, url, Settings(), force=True)["verified"]
        with pytest.raises(InvalidInput, match="the project itself"):
            migrate(source, file_url(source.paths.tasks_file), Settings(), force=True)
    finally:
        source.close()


# StorageUnavailable at every edge ------------------------------------------------------------

LOCATION = "127.0.0.1:1/db project p"


class Unreliable:
    """A memory store that raises StorageUnavailable from every call while `down` is set."""

    def __init__(self) -> None:
        self.inner = MemoryStorage()
        self.inner.create(Document.empty(), ProjectState())
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise StorageUnavailable.at(LOCATION, "connection refused", retry_after=7)

    @property
    def key(self) -> str:
        return "test:" + self.inner.key

    def describe(self) -> Mapping[str, str]:
        return {"backend": "test", "location": LOCATION}

    def revision(self) -> int:
        self._check()
        return self.inner.revision()

    def state(self) -> ProjectState:
        self._check()
        return self.inner.state()

    def change_epoch(self) -> int | None:
        return self.inner.change_epoch()

    def read(self) -> Snapshot:
        self._check()
        return self.inner.read()

    def transact(
        self, operation: Callable[[Draft], T], *, expected_revision: int | None = None
    ) -> Commit[T]:
        self._check()
        return self.inner.transact(operation, expected_revision=expected_revision)

    def create(self, document: Document, state: ProjectState) -> list[str]:
        self._check()
        return self.inner.create(document, state)

    def changes(self, on_change: Callable[[int], None]) -> Any:
        return self.inner.changes(on_change)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def unreliable(tmp_path: Path) -> Iterator[tuple[Project, Unreliable]]:
    store = Unreliable()
    project = Project(TaskMaster(store), tmp_path)
    yield project, store
    project.close()


def test_api_answers_503_with_retry_after_and_health_recovers(
    unreliable: tuple[Project, Unreliable],
) -> None:
    project, store = unreliable
    app = create_app(project, Config(watch=False))
    client = TestClient(app)
    try:
        assert client.simulate_post("/api/v1/tasks", json={"title": "a"}).status_code == 201
        assert client.simulate_get("/api/v1/health").json["status"] == "ok"
        store.down = True
        for result in (
            client.simulate_get("/api/v1/tasks"),
            client.simulate_post("/api/v1/tasks", json={"title": "b"}),
            client.simulate_get("/api/v1/export"),
        ):
            problem = assert_problem(result, 503, kind="storage-unavailable")
            assert result.headers["retry-after"] == "7"
            assert problem["location"] == LOCATION
        health = client.simulate_get("/api/v1/health")
        assert health.status_code == 503 and health.headers["retry-after"] == "7"
        assert health.json["status"] == "degraded"
        assert health.json["storage"]["kind"] == "storage-unavailable"
        assert health.json["store"]["backend"] == "test"
        store.down = False
        health = client.simulate_get("/api/v1/health")
        assert health.status_code == 200 and health.json["status"] == "ok"
        tasks = client.simulate_get("/api/v1/tasks").json["tasks"]
        assert [task["title"] for task in tasks] == ["a"]  # b was never half-written
    finally:
        app.close()


def test_cli_says_one_error_line_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, unreliable: tuple[Project, Unreliable]
) -> None:
    _, store = unreliable
    store.down = True
    monkeypatch.setitem(compose.BACKENDS, "unreliable", lambda url, paths, settings: store)
    runner = CliRunner(env={"TM_PROJECT": None, "TM_STORAGE_URL": None})
    for args in (["list"], ["add-task", "-t", "x"], ["storage", "export"], ["storage", "info"]):
        result = runner.invoke(cli, ["--storage", "unreliable:", *args])
        assert result.exit_code == 1, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: storage "), result.stderr
        assert "unavailable" in lines[0] and "Traceback" not in result.stderr


def test_mcp_turns_it_into_a_tool_error() -> None:
    from mcp.server.mcpserver.exceptions import ToolError

    @tool_errors
    def get_tasks() -> str:
        raise StorageUnavailable.at(LOCATION, "server closed the connection unexpectedly")

    with pytest.raises(ToolError, match="is unavailable") as info:
        get_tasks()
    assert isinstance(info.value.__cause__, TaskMasterError)


def test_tm_serve_sizes_the_connection_pool_to_its_threads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from taskmaster.api import server
    from taskmaster.storage.postgres import PostgresStorage

    served: list[Project] = []
    monkeypatch.setattr(server, "serve", lambda project, config, announce: served.append(project))
    runner = CliRunner(env={"TM_PROJECT": None, "TM_STORAGE_URL": None, "TM_THREADS": None})
    url = "postgresql://tm@127.0.0.1:1/db?project=p"  # never connected: the pool opens lazily
    for args, threads in ((["serve", "--threads", "5"], 5), (["serve"], Config().threads)):
        result = runner.invoke(cli, ["--project", str(tmp_path), "--storage", url, *args])
        assert result.exit_code == 0, result.output
        storage = served[-1].core.storage
        assert isinstance(storage, PostgresStorage) and storage.pool_size == threads
        served[-1].close()
    # every other command leaves it to the backend
    assert Settings().pool_size is None


def test_rest_export_is_the_task_file_with_its_revision(tmp_path: Path) -> None:
    from test_api_support import Api

    api = Api(tmp_path)
    try:
        api.add("exported")
        raw = api.tasks_file.read_bytes()
        result = api.get("/api/v1/export")
        assert result.status_code == 200 and result.content == raw
        assert result.headers["content-type"] == "application/json"
        assert result.headers["etag"] == f'"{api.core.revision()}"'
        assert "tasks.json" in result.headers["content-disposition"]
        again = api.get("/api/v1/export", headers={"If-None-Match": result.headers["etag"]})
        assert again.status_code == 304
        head = api.client.simulate_head("/api/v1/export")
        assert head.status_code == 200 and head.content == b""
        api.add("second")  # a new revision: a new body, never the cached one
        fresh = api.get("/api/v1/export")
        assert fresh.content == api.tasks_file.read_bytes() != raw
    finally:
        api.close()
