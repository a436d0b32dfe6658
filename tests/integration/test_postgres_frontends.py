"""The front ends on PostgreSQL storage: real `tm` processes, a real `tm serve`, a real `tm mcp`
and a real PostgreSQL cluster of the tests' own (`postgres_server`), killed and restarted.

- selection: `tm --storage URL`, TM_STORAGE_URL (the option wins), no project directory
  needed; `tm init --storage` (twice: the second changes nothing) and its project file, found
  by `--project`, by a command run inside the directory, and by MCP `projectRoot`;
- transfer: an export is byte for byte what the file backend holds for the same document;
  import in one transaction (a corrupt file changes nothing); file -> PostgreSQL -> file keeps
  unknown keys at every level, tagged and flat;
- outage: the postmaster SIGKILLed under a running `tm serve` and `tm mcp`: one `Error:` line
  (exit 1) from `tm`, 503 `storage-unavailable` with Retry-After from the API, health
  `degraded`, a tool error from MCP; after the restart the same processes answer again.
"""

from __future__ import annotations

import http.client
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson
import pytest
from anyio.from_thread import start_blocking_portal
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from servers import TM, clean_env, free_port
from test_mcp import McpServer

from harness.postgres_server import PostgresServer
from taskmaster.compose import file_url
from taskmaster.model import Document
from taskmaster.storage.pg_schema import SCHEMA_VERSION

pytestmark = pytest.mark.slow


UNKNOWN_KEYS: dict[str, Any] = {
    "master": {
        "tasks": [
            {
                "id": 1,
                "title": "Task",
                "status": "pending",
                "dependencies": [],
                "priority": "high",
                "x-task": {"deep": [1, {"k": None}], "unicode": "caf\u00e9 \u2713"},
                "subtasks": [
                    {"id": 1, "title": "Sub", "status": "done", "dependencies": [], "x-sub": 7},
                    {"id": 2, "title": "Sub 2", "status": "pending", "dependencies": [1]},
                ],
            },
            {"id": 2, "title": "Second", "status": "done", "dependencies": [1], "x": [True]},
        ],
        "metadata": {"created": "2025-01-01T00:00:00.000Z", "x-meta": {"n": 1.5}},
        "x-tag": "kept",
    },
    "feature": {
        "tasks": [{"id": 1, "title": "Feature", "status": "pending", "dependencies": []}],
        "metadata": {"description": "a second tag"},
    },
    "x-top": {"not": "a tag"},
}
FLAT_LEGACY: dict[str, Any] = {
    "tasks": [
        {"id": 1, "title": "Old", "status": "pending", "dependencies": [], "x": 1},
        {"id": 2, "title": "Older", "status": "done", "dependencies": [1], "subtasks": []},
    ],
    "x-flat": "kept",
}
DOCUMENTS = pytest.mark.parametrize("document", [UNKNOWN_KEYS, FLAT_LEGACY], ids=["tagged", "flat"])


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return clean_env(NO_COLOR="1", **(extra or {}))


def tm(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TM, *args], capture_output=True, text=True, cwd=cwd, env=_env(env), timeout=timeout
    )


def ok(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> str:
    proc = tm(*args, cwd=cwd, env=env)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc.stdout


def ok_json(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> Any:
    return orjson.loads(ok(*args, "--json", cwd=cwd, env=env))


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def titles(listing: Any) -> list[str]:
    return [task["title"] for task in listing["tasks"]]


def file_bytes(path: Path, data: Any) -> bytes:
    """Write `data` as the file backend writes a document; the bytes written."""
    raw = Document.from_data(orjson.loads(orjson.dumps(data))).to_json()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    return raw


def other_project(url: str) -> str:
    base, _, key = url.partition("?project=")
    return f"{base}?project={key}x"


# selection ---------------------------------------------------------------------------------


def test_init_on_a_url_twice_and_the_project_file_it_writes(
    tmp_path: Path, postgres_url: str
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    first = ok_json("init", "--storage", postgres_url, cwd=app)
    project_file = app / ".taskmaster" / "storage.toml"
    assert first["created"] is True and str(project_file) in first["changed"]
    assert first["storage"]["backend"] == "postgresql"
    assert postgres_url in project_file.read_text()
    again = ok_json("init", "--storage", postgres_url, cwd=app)
    assert again["created"] is False and again["changed"] == []
    assert "nothing changed" in ok("init", "--storage", postgres_url, cwd=app)
    # TM_STORAGE_URL does for init what the option does
    assert ok_json("init", cwd=app, env={"TM_STORAGE_URL": postgres_url})["changed"] == []
    # another URL for this directory is refused, and the file is left as it was
    before = project_file.read_bytes()
    proc = tm("init", "--storage", other_project(postgres_url), cwd=app)
    assert "already names" in one_error_line(proc) and project_file.read_bytes() == before

    ok("add-task", "-t", "in the database", cwd=app)
    (app / "sub").mkdir()
    assert titles(ok_json("list", cwd=app / "sub")) == ["in the database"]
    assert titles(ok_json("--project", str(app), "list", cwd=tmp_path)) == ["in the database"]
    assert titles(ok_json("--storage", postgres_url, "list", cwd=tmp_path)) == ["in the database"]
    assert not (app / ".taskmaster" / "tasks.json").exists()
    info = ok_json("storage", "info", cwd=app)
    assert info["backend"] == "postgresql" and info["projectFile"] == str(project_file)
    assert info["schemaVersion"] == SCHEMA_VERSION
    assert isinstance(info["revision"], int) and "password" not in orjson.dumps(info).decode()


def test_init_refuses_to_hide_a_task_file_that_holds_tasks(
    tmp_path: Path, postgres_url: str
) -> None:
    ok("init", cwd=tmp_path)
    ok("add-task", "-t", "on disk", cwd=tmp_path)
    proc = tm("init", "--storage", postgres_url, cwd=tmp_path)
    assert "storage migrate" in one_error_line(proc)
    assert not (tmp_path / ".taskmaster" / "storage.toml").exists()
    assert titles(ok_json("list", cwd=tmp_path)) == ["on disk"]
    # the way it is meant: copy, then point the directory at the copy
    ok("storage", "migrate", "--to", postgres_url, cwd=tmp_path)
    ok("init", "--storage", postgres_url, cwd=tmp_path)
    ok("add-task", "-t", "in the database", cwd=tmp_path)
    assert titles(ok_json("list", cwd=tmp_path)) == ["on disk", "in the database"]


def test_the_option_and_the_variable_need_no_project_directory(
    tmp_path: Path, postgres_url: str
) -> None:
    other = other_project(postgres_url)
    ok("init", "--storage", postgres_url, cwd=tmp_path)
    ok("init", str(tmp_path / "seed"), "--storage", other, cwd=tmp_path)
    bare = tmp_path / "bare"
    bare.mkdir()
    ok("--storage", postgres_url, "add-task", "-t", "by option", cwd=bare)
    ok("add-task", "-t", "by variable", cwd=bare, env={"TM_STORAGE_URL": other})
    assert titles(ok_json("list", cwd=bare, env={"TM_STORAGE_URL": postgres_url})) == ["by option"]
    # the option wins over the variable
    mixed = ok_json("--storage", other, "list", cwd=bare, env={"TM_STORAGE_URL": postgres_url})
    assert titles(mixed) == ["by variable"]
    assert not (bare / ".taskmaster").exists()
    # a project that does not exist in the database says how to create it
    missing = other_project(other)
    assert "init --storage" in one_error_line(tm("--storage", missing, "list", cwd=bare))


@pytest.fixture
def mcp_server(tmp_path: Path) -> Iterator[McpServer]:
    base = tmp_path.resolve()
    (base / "allowed").mkdir()
    (base / "main").mkdir()
    ok("init", cwd=base / "main")
    log = base / "server.log"
    params = StdioServerParameters(
        command=TM,
        args=["--project", str(base / "main"), "mcp", "--allow-root", str(base / "allowed")],
        cwd=str(base),
        env=_env(),
    )
    with ExitStack() as stack:
        errlog = stack.enter_context(log.open("w"))
        portal = stack.enter_context(start_blocking_portal())
        client = stack.enter_context(
            portal.wrap_async_context_manager(
                Client(stdio_client(params, errlog=errlog), read_timeout_seconds=60)
            )
        )
        yield McpServer(portal, client, base, log)
    text = log.read_text()
    assert "Traceback" not in text and "unexpected exception" not in text, text


def test_mcp_project_root_opens_the_database_the_project_file_names(
    mcp_server: McpServer, postgres_url: str
) -> None:
    project = mcp_server.allowed / "db-project"
    project.mkdir()
    ok("init", "--storage", postgres_url, cwd=project)
    root = str(project)
    added = mcp_server.ok("add_task", projectRoot=root, title="from the agent")
    assert added["id"] == 1
    ok("add-task", "-t", "from tm", cwd=project)
    listing = mcp_server.ok("get_tasks", projectRoot=root)
    assert titles(listing) == ["from the agent", "from tm"]  # nothing stale
    assert titles(ok_json("--storage", postgres_url, "list", cwd=mcp_server.base)) == [
        "from the agent",
        "from tm",
    ]
    exported = mcp_server.call("export_tasks", projectRoot=root).content[0].text
    assert exported.encode() == ok("storage", "export", cwd=project).encode()
    assert "'file' does not apply" in mcp_server.error(
        "get_tasks", projectRoot=root, file=".taskmaster/tasks.json"
    )
    assert not (project / ".taskmaster" / "tasks.json").exists()


def test_tm_mcp_on_a_url_serves_a_directory_without_taskmaster(
    tmp_path: Path, postgres_url: str
) -> None:
    ok("init", str(tmp_path / "seed"), "--storage", postgres_url, cwd=tmp_path)
    bare = (tmp_path / "bare").resolve()
    bare.mkdir()
    params = StdioServerParameters(
        command=TM, args=["mcp"], cwd=str(bare), env=_env({"TM_STORAGE_URL": postgres_url})
    )
    with ExitStack() as stack:
        errlog = stack.enter_context((tmp_path / "log").open("w"))
        portal = stack.enter_context(start_blocking_portal())
        client = stack.enter_context(
            portal.wrap_async_context_manager(
                Client(stdio_client(params, errlog=errlog), read_timeout_seconds=60)
            )
        )
        server = McpServer(portal, client, tmp_path, tmp_path / "log")
        server.ok("add_task", projectRoot=str(bare), title="bare")
    assert titles(ok_json("list", cwd=tmp_path / "seed")) == ["bare"]
    assert not (bare / ".taskmaster").exists()


# transfer ----------------------------------------------------------------------------------


@DOCUMENTS
def test_file_to_postgres_to_file_is_byte_identical(
    tmp_path: Path, postgres_url: str, document: dict[str, Any]
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    ok("init", cwd=source)
    raw = file_bytes(source / ".taskmaster" / "tasks.json", document)
    if "feature" in document:
        ok("tags", "use", "feature", cwd=source)  # the state travels too
    state_before = (source / ".taskmaster" / "state.json").read_bytes()
    assert (source / ".taskmaster" / "tasks.json").read_bytes() == raw

    moved = ok_json("storage", "migrate", "--to", postgres_url, cwd=source)
    assert moved["verified"] is True and moved["to"]["backend"] == "postgresql"
    # the export is what the file backend holds for the same document, byte for byte
    assert ok("--storage", postgres_url, "storage", "export", cwd=tmp_path).encode() == raw
    # and back to a file: the same bytes, and the same current tag
    back = tmp_path / "back" / ".taskmaster" / "tasks.json"
    ok("--storage", postgres_url, "storage", "migrate", "--to", file_url(back), cwd=tmp_path)
    assert back.read_bytes() == raw
    assert (back.parent / "state.json").read_bytes() == state_before
    # a second migration onto tasks is refused, unless forced
    again = tm("storage", "migrate", "--to", postgres_url, cwd=source)
    assert "--force" in one_error_line(again)
    ok("storage", "migrate", "--to", postgres_url, "--force", cwd=source)
    # a write on PostgreSQL keeps every unknown key too
    ok("--storage", postgres_url, "set-status", "1", "review", "--tag", "master", cwd=tmp_path)
    exported = orjson.loads(ok("--storage", postgres_url, "storage", "export", cwd=tmp_path))
    expected = orjson.loads(raw)
    tasks = expected["master"]["tasks"] if "master" in expected else expected["tasks"]
    tasks[0]["status"] = "review"
    if "master" in exported:
        exported["master"]["metadata"].pop("updated", None)
        expected["master"]["metadata"].pop("updated", None)
    assert exported == expected


@DOCUMENTS
def test_import_in_one_transaction_and_a_corrupt_file_changes_nothing(
    tmp_path: Path, postgres_url: str, document: dict[str, Any]
) -> None:
    ok("init", "--storage", postgres_url, cwd=tmp_path)
    ok("add-task", "-t", "before", cwd=tmp_path)
    before = ok("storage", "export", cwd=tmp_path)
    revision = ok_json("storage", "info", cwd=tmp_path)["revision"]
    bad = tmp_path / "bad.json"
    for content in (b'{"master": {"tasks": [{"id": 1,', b'{"name": "pkg"}', b"[1, 2]"):
        bad.write_bytes(content)
        line = one_error_line(tm("storage", "import", str(bad), "--yes", cwd=tmp_path))
        assert "nothing was imported" in line
    assert ok("storage", "export", cwd=tmp_path) == before
    assert ok_json("storage", "info", cwd=tmp_path)["revision"] == revision

    good = tmp_path / "in" / "tasks.json"
    raw = file_bytes(good, document)
    assert tm("storage", "import", str(good), cwd=tmp_path).returncode == 2  # not confirmed
    result = ok_json("storage", "import", str(good), "--yes", cwd=tmp_path)
    assert result["changed"] is True and result["revision"] > revision
    assert ok("storage", "export", cwd=tmp_path).encode() == raw
    again = ok_json("storage", "import", str(good), "--yes", cwd=tmp_path)
    assert again["changed"] is False


def test_export_with_state_and_the_rest_api_export(tmp_path: Path, postgres_url: str) -> None:
    ok("init", "--storage", postgres_url, cwd=tmp_path)
    ok("add-task", "-t", "one", cwd=tmp_path)
    ok("tags", "add", "feature", cwd=tmp_path)
    ok("tags", "use", "feature", cwd=tmp_path)
    out = tmp_path / "export" / "tasks.json"
    ok("storage", "export", "--to", str(out), "--with-state", cwd=tmp_path)
    assert orjson.loads((out.parent / "state.json").read_bytes()) == {"currentTag": "feature"}
    # the reference layout reads it: a file project made of the export lists the same tasks
    assert titles(ok_json("-f", str(out), "list", "--tag", "master", cwd=tmp_path)) == ["one"]
    with served(tmp_path, postgres_url) as server:
        status, headers, body = server.get("/api/v1/export")
        assert status == 200 and body == out.read_bytes()
        assert headers["etag"] == f'"{ok_json("storage", "info", cwd=tmp_path)["revision"]}"'
        status, _, body = server.get("/api/v1/health")
        health = orjson.loads(body)
        assert status == 200 and health["store"]["backend"] == "postgresql"
        assert "tasksFile" not in health


# outage ------------------------------------------------------------------------------------


class Served:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port

    def request(
        self, method: str, path: str, body: Any = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            payload = orjson.dumps(body) if body is not None else None
            headers = {"Content-Type": "application/json"} if payload else {}
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            return (
                response.status,
                {key.lower(): value for key, value in response.getheaders()},
                response.read(),
            )
        finally:
            conn.close()

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        return self.request("GET", path)

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def served(cwd: Path, url: str | None = None) -> Served:
    """`tm serve` in `cwd` (its project file, or TM_STORAGE_URL=url), once healthy."""
    port = free_port()
    process = subprocess.Popen(
        [TM, "serve", "--port", str(port), "--threads", "4"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env({"TM_STORAGE_URL": url} if url else None),
    )
    server = Served(process, port)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"tm serve exited with {process.returncode}:\n{out}\n{err}")
        try:
            if server.get("/api/v1/health")[0] == 200:
                return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.__exit__()
            pytest.fail("tm serve did not become healthy within 30 s")
        time.sleep(0.05)


def wait_for(check: Any, seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds} s")
        time.sleep(0.1)


def test_outage_one_error_line_503_degraded_and_recovery_without_restart(
    tmp_path: Path, postgres_server: PostgresServer, postgres_url: str, mcp_server: McpServer
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    ok("init", "--storage", postgres_url, cwd=app)
    ok("add-task", "-t", "before the outage", cwd=app)
    agent_project = mcp_server.allowed / "agent"
    agent_project.mkdir()
    ok("init", "--storage", postgres_url, cwd=agent_project)
    root = str(agent_project)
    assert titles(mcp_server.ok("get_tasks", projectRoot=root)) == ["before the outage"]

    with served(app) as server:
        assert server.get("/api/v1/tasks")[0] == 200
        postgres_server.kill()
        try:
            # tm: one line, exit 1, for a read and for a write
            for args in (["list"], ["add-task", "-t", "lost?"], ["storage", "info"]):
                line = one_error_line(tm(*args, cwd=app, timeout=90))
                assert "unavailable" in line, line
            # the API: 503 storage-unavailable with Retry-After, for reads and writes
            for method, path, body in (
                ("GET", "/api/v1/tasks", None),
                ("GET", "/api/v1/export", None),
                ("POST", "/api/v1/tasks", {"title": "during"}),
                ("PUT", "/api/v1/tasks/1/status", {"status": "done"}),
            ):
                status, headers, raw = server.request(method, path, body)
                assert status == 503, (path, raw)
                assert headers["content-type"] == "application/problem+json"
                problem = orjson.loads(raw)
                assert problem["type"] == "urn:taskmaster:problem:storage-unavailable", problem
                assert int(headers["retry-after"]) >= 1
            status, headers, raw = server.get("/api/v1/health")
            health = orjson.loads(raw)
            assert status == 503 and health["status"] == "degraded", health
            assert health["storage"]["kind"] == "storage-unavailable"
            assert "retry-after" in headers
            # MCP: a tool error, and the server goes on
            assert "unavailable" in mcp_server.error("get_tasks", projectRoot=root)
            assert "unavailable" in mcp_server.error("add_task", projectRoot=root, title="x")
        finally:
            postgres_server.restart()
        # the same processes recover by themselves
        wait_for(lambda: server.get("/api/v1/health")[0] == 200)
        health = orjson.loads(server.get("/api/v1/health")[2])
        assert health["status"] == "ok"
        status, _, raw = server.request("POST", "/api/v1/tasks", {"title": "after"})
        assert status == 201, raw
        tasks = orjson.loads(server.get("/api/v1/tasks")[2])
        assert titles(tasks) == ["before the outage", "after"]  # nothing half-applied
        assert titles(wait_for(lambda: _mcp_tasks(mcp_server, root))) == [
            "before the outage",
            "after",
        ]
    assert titles(ok_json("list", cwd=app)) == ["before the outage", "after"]


def _mcp_tasks(server: McpServer, root: str) -> Any:
    result = server.call("get_tasks", projectRoot=root)
    return None if result.is_error else orjson.loads(result.content[0].text)


def test_a_password_in_the_url_is_accepted_and_the_project_file_kept_private(
    tmp_path: Path, postgres_url: str
) -> None:
    # The test cluster trusts every local connection, so any password does.
    with_password = postgres_url.replace("postgres@", "postgres:s3cret@", 1)
    proc = tm("init", "--storage", with_password, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Warning:" in proc.stderr and "PGPASSWORD" in proc.stderr
    assert "s3cret" not in proc.stdout + proc.stderr
    project_file = tmp_path / ".taskmaster" / "storage.toml"
    assert project_file.stat().st_mode & 0o777 == 0o600
    ok("add-task", "-t", "with a password", cwd=tmp_path)
    info = ok("storage", "info", "--json", cwd=tmp_path)
    assert "s3cret" not in info
    assert titles(ok_json("--storage", postgres_url, "list", cwd=tmp_path)) == ["with a password"]


def _many_tasks(title: str, count: int) -> dict[str, Any]:
    def tag(name: str) -> dict[str, Any]:
        tasks = [
            {"id": i, "title": f"{title} {name} {i}", "status": "pending", "dependencies": []}
            for i in range(1, count + 1)
        ]
        return {"tasks": tasks, "metadata": {"x-version": title}}

    return {"master": tag("master"), "other": tag("other"), f"x-{title}": True}


def test_an_import_is_seen_whole_or_not_at_all(tmp_path: Path, postgres_url: str) -> None:
    """Readers in another connection, all through a series of imports, only ever see one of the
    imported documents exactly: never part of one and part of the other."""
    import threading

    from taskmaster.compose import Settings, open_url
    from taskmaster.transfer import export_bytes, import_into

    ok("init", "--storage", postgres_url, cwd=tmp_path)
    versions = {name: Document.from_data(_many_tasks(name, 150)) for name in ("a", "b")}
    expected = {document.to_json(): name for name, document in versions.items()}
    writer = open_url(postgres_url, tmp_path, Settings())
    reader = open_url(postgres_url, tmp_path, Settings())
    seen: list[str] = []
    torn: list[bytes] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            raw, _ = export_bytes(reader.core.storage)
            name = expected.get(raw)
            if name is None and seen:  # before the first import: the empty project
                torn.append(raw)
            elif name is not None:
                seen.append(name)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for round_ in range(12):
            commit = import_into(writer.core, versions["ab"[round_ % 2]])
            assert commit.changed
    finally:
        done.set()
        thread.join(timeout=30)
        writer.close()
        reader.close()
    assert torn == []
    assert set(seen) == {"a", "b"}, seen  # the reader really ran through the imports
