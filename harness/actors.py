"""How an actor talks to a target: the CLI (a real process per command), the HTTP API, or the
core directly, and how each operation is recorded.

A write is described by a small spec, the same for every channel:

    {"op": "set-status", "task": 3, "value": {"status": "done"}}
    {"op": "update",     "task": 3, "value": {"title": "w1-7"}}
    {"op": "add",                   "value": {"title": "w1-8", "details": "..."}}

and recorded under the key `task/<id>` (or `add/<title>`) with `value` = the fields it set.
Outcomes: `ok` acknowledged; `fail` definitely refused (an error exit, a 4xx/5xx answer, an
exception before the write); `info` unknown (killed, timed out, connection lost mid-request).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.history import FAIL, INFO, OBSERVE, OK, READ, WRITE, HistoryWriter, Op, now_ns
from harness.processes import child_env, die_with_parent
from harness.targets import Target

READ_FIELDS = ("title", "status", "details")
CLI_TIMEOUT = 60.0
HTTP_TIMEOUT = 30.0


def write_key(spec: dict[str, Any]) -> str:
    if spec["op"] == "add":
        return f"add/{spec['value']['title']}"
    return f"task/{spec['task']}"


# the CLI ----------------------------------------------------------------------------------------


def cli_args(spec: dict[str, Any]) -> list[str]:
    value = spec["value"]
    if spec["op"] == "set-status":
        return ["set-status", str(spec["task"]), value["status"]]
    if spec["op"] == "update":
        args = ["update-task", str(spec["task"])]
        for name in ("title", "status", "details", "description"):
            if name in value:
                args += [f"--{name}", str(value[name])]
        return args
    if spec["op"] == "add":
        return ["add-task", "--title", value["title"], "--details", value.get("details", "")]
    raise ValueError(f"unknown op {spec['op']!r}")


def core_command(spec: dict[str, Any]) -> Any:
    """The facade's command for a write spec (the safe target's direct writers)."""
    from taskmaster import commands
    from taskmaster.model import TaskId

    value = spec["value"]
    if spec["op"] == "set-status":
        return commands.SetStatus(ids=(TaskId.parse(spec["task"]),), status=value["status"])
    if spec["op"] == "update":
        return commands.UpdateTask(id=TaskId.parse(spec["task"]), fields=dict(value))
    if spec["op"] == "add":
        return commands.AddTask(
            values={"title": value["title"], "details": value.get("details", "")}
        )
    raise ValueError(f"unknown op {spec['op']!r}")


def naive_write(core: Any, spec: dict[str, Any]) -> None:
    """The same write on the naive baseline's direct writer."""
    value = spec["value"]
    if spec["op"] == "set-status":
        core.set_status(spec["task"], value["status"])
    elif spec["op"] == "update":
        core.update_task(spec["task"], dict(value))
    else:
        core.add_task(value["title"], details=value.get("details", ""))


@dataclass
class CliResult:
    outcome: str
    code: int | None
    stdout: str = ""
    error: str | None = None


def run_cli(
    argv: list[str], timeout: float = CLI_TIMEOUT, env: dict[str, str] | None = None
) -> CliResult:
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=child_env(env),
            preexec_fn=die_with_parent,
        )
    except subprocess.TimeoutExpired:
        return CliResult(INFO, None, error=f"timed out after {timeout:g} s")
    if done.returncode == 0:
        return CliResult(OK, 0, done.stdout)
    lines = (done.stderr or done.stdout).strip().splitlines()
    error = lines[-1] if lines else f"exit {done.returncode}"
    # Killed by a signal: it may have written or not.
    outcome = INFO if done.returncode < 0 else FAIL
    return CliResult(outcome, done.returncode, done.stdout, error)


# the HTTP API -----------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def revision(self) -> int | None:
        tag = self.headers.get("etag", "").removeprefix("W/").strip('"')
        return int(tag) if tag.isdigit() else None


@dataclass
class ApiClient:
    """A client of one API instance; reads reuse a kept-alive connection per thread, writes use
    a fresh one, so a dropped idle connection can never make a write's outcome ambiguous."""

    port: int
    index: int = 0
    timeout: float = HTTP_TIMEOUT
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def request(
        self, method: str, path: str, body: Any = None, *, keep_alive: bool = False
    ) -> Response:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        if keep_alive:
            for attempt in range(2):
                conn = self._connection()
                try:
                    return self._send(conn, method, path, payload, headers)
                except (http.client.HTTPException, ConnectionError):
                    self._drop()
                    if attempt:
                        raise
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            return self._send(conn, method, path, payload, headers)
        finally:
            conn.close()

    @staticmethod
    def _send(
        conn: http.client.HTTPConnection,
        method: str,
        path: str,
        payload: bytes | None,
        headers: dict[str, str],
    ) -> Response:
        conn.request(method, path, body=payload, headers=headers)
        answer = conn.getresponse()
        data = answer.read()
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data)

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        self._drop()


def api_request(spec: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    value = spec["value"]
    if spec["op"] == "set-status":
        return "PUT", f"/api/v1/tasks/{spec['task']}/status", {"status": value["status"]}
    if spec["op"] == "update":
        return "PATCH", f"/api/v1/tasks/{spec['task']}", dict(value)
    if spec["op"] == "add":
        return "POST", "/api/v1/tasks", dict(value)
    raise ValueError(f"unknown op {spec['op']!r}")


# the MCP server ---------------------------------------------------------------------------------


def mcp_call(spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The tool and its arguments (all but projectRoot) for a write spec."""
    value = spec["value"]
    if spec["op"] == "set-status":
        return "set_task_status", {"id": str(spec["task"]), "status": value["status"]}
    if spec["op"] == "update":
        names = ("title", "status", "details", "description")
        fields = {name: value[name] for name in names if name in value}
        return "update_task", {"id": str(spec["task"]), **fields}
    if spec["op"] == "add":
        return "add_task", {"title": value["title"], "details": value.get("details", "")}
    raise ValueError(f"unknown op {spec['op']!r}")


def task_of(body: Any) -> dict[str, Any] | None:
    if isinstance(body, dict):
        for wrapper in ("task", "data"):
            if isinstance(body.get(wrapper), dict):
                return body[wrapper]
        return body
    return None


def project(task: dict[str, Any] | None) -> dict[str, Any]:
    return {name: task[name] for name in READ_FIELDS if task and name in task}


# performing and recording -----------------------------------------------------------------------


class Actor:
    """Performs operations on one target through any channel and records each as an Op."""

    def __init__(
        self,
        history: HistoryWriter,
        target: Target,
        apis: list[ApiClient] | None = None,
        *,
        crashable: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.history = history
        self.target = target
        self.apis = apis if apis is not None else []
        self.crashable = crashable
        self.env = env if env is not None else {}
        """Extra environment of the CLI processes (e.g. TM_REDIS_URL)."""
        self._core: Any = None

    @property
    def core(self) -> Any:
        if self._core is None:
            self._core = self.target.open_core()
        return self._core

    def write(
        self,
        channel: str,
        spec: dict[str, Any],
        *,
        instance: int | None = None,
        phase: str | None = None,
        actor: str | None = None,
    ) -> Op:
        op = self.history.op(
            WRITE,
            actor=actor or self.history.actor,
            channel=channel,
            instance=instance if channel == "api" else None,
            key=write_key(spec),
            value=dict(spec["value"]),
            phase=phase,
            info={"op": spec["op"]},
        )
        if self.crashable:
            self.history.pending(op)
        op.start = now_ns()
        if channel == "cli":
            result = run_cli(self.target.cli(*cli_args(spec)), env=self.env)
            op.info["exit"] = result.code
            return self.history.complete(op, result.outcome, error=result.error)
        if channel == "api":
            return self._api_write(op, spec, self.apis[instance or 0])
        if channel == "core":
            return self._core_write(op, spec)
        raise ValueError(f"unknown channel {channel!r}")

    def _api_write(self, op: Op, spec: dict[str, Any], api: ApiClient) -> Op:
        method, path, body = api_request(spec)
        try:
            response = api.request(method, path, body)
        except (OSError, http.client.HTTPException) as err:
            return self.history.complete(op, INFO, error=f"{type(err).__name__}: {err}")
        op.info.update(status=response.status, content_type=response.content_type)
        if 200 <= response.status < 300:
            return self.history.complete(op, OK, revision=response.revision)
        return self.history.complete(op, FAIL, error=_problem_text(response))

    def _core_write(self, op: Op, spec: dict[str, Any]) -> Op:
        core = self.core
        revision = None
        try:
            if self.target.safe:
                revision = core.execute(core_command(spec)).revision
            else:
                naive_write(core, spec)
        except Exception as err:
            return self.history.complete(op, FAIL, error=f"{type(err).__name__}: {err}")
        return self.history.complete(op, OK, revision=revision)

    def read(
        self,
        task_id: int,
        *,
        instance: int = 0,
        phase: str | None = None,
        actor: str | None = None,
    ) -> Op:
        op = self.history.op(
            READ,
            actor=actor or self.history.actor,
            channel="api",
            instance=instance,
            key=f"task/{task_id}",
            phase=phase,
        )
        try:
            response = self.apis[instance].request(
                "GET", f"/api/v1/tasks/{task_id}", keep_alive=True
            )
        except (OSError, http.client.HTTPException) as err:
            return self.history.complete(op, FAIL, error=f"{type(err).__name__}: {err}")
        op.info.update(status=response.status, content_type=response.content_type)
        if response.status == 200:
            task = task_of(response.json())
            return self.history.complete(op, OK, value=project(task), revision=response.revision)
        return self.history.complete(op, FAIL, error=_problem_text(response))

    def close(self) -> None:
        if self._core is not None:
            with contextlib.suppress(Exception):
                self._core.close()
        for api in self.apis:
            api.close()


def _problem_text(response: Response) -> str:
    body = response.json()
    if isinstance(body, dict):
        text = body.get("detail") or body.get("error") or body.get("title")
        if text:
            return f"HTTP {response.status}: {text}"
    return f"HTTP {response.status}"


# looking at the file itself ----------------------------------------------------------------------


def file_state(path: Path) -> dict[str, Any]:
    """What the raw file holds: parses?, sha256, and the fields the checker compares."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {"parses": False, "error": "file missing", "sha": None, "size": 0}
    state: dict[str, Any] = {"sha": hashlib.sha256(raw).hexdigest(), "size": len(raw)}
    try:
        data = json.loads(raw)
        tasks = data["master"]["tasks"] if "master" in data else data["tasks"]
    except (ValueError, KeyError, TypeError) as err:
        state.update(parses=False, error=f"{type(err).__name__}: {str(err)[:120]}")
        return state
    state["parses"] = True
    state["tasks"] = {str(t.get("id")): project(t) for t in tasks if isinstance(t, dict)}
    state["titles"] = [t.get("title") for t in tasks if isinstance(t, dict)]
    return state


def observe(
    history: HistoryWriter,
    path: Path,
    *,
    phase: str | None = None,
    expect_sha: str | None = None,
    kind: str = OBSERVE,
) -> Op:
    state = file_state(path)
    if kind == OBSERVE:
        # The checker needs parses/sha/error only; the full state is kept for the final one.
        state = {k: v for k, v in state.items() if k in ("parses", "sha", "size", "error")}
    info = {"expect_sha": expect_sha} if expect_sha else {}
    return history.record(kind, channel="file", value=state, phase=phase, info=info)
