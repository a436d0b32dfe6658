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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.history import FAIL, INFO, OBSERVE, OK, READ, WRITE, HistoryWriter, Op, now_ns
from harness.processes import child_env, die_with_parent
from harness.targets import Target

READ_FIELDS = ("title", "status", "details")
OUTCOME_UNKNOWN_TEXT = "may or may not have been committed"
"""What taskmaster's StorageUnavailable says when the connection broke during the commit."""
CLI_TIMEOUT = 60.0
HTTP_TIMEOUT = 30.0


def write_key(spec: dict[str, Any]) -> str:
    if spec["op"] == "add":
        return f"add/{spec['value']['title']}"
    return f"task/{spec['task']}"


# one table: each write op, its command, and how the command travels -------------------------


@dataclass(frozen=True)
class WriteOp:
    """A write op of the specs: the facade's command for a spec, and the few facts each front
    end adds to that command (its names for some arguments, the REST route, the MCP tool).
    The CLI argv, the REST request and the MCP call are all derived from the command."""

    command: Callable[[dict[str, Any]], Any]
    method: str
    path: str
    """The REST route; `{id}` is the command's id (its one id, for an `ids` list)."""
    tool: str
    renamed: dict[str, str] = field(default_factory=dict)
    """Command argument -> its name as an MCP argument."""
    positional: tuple[str, ...] = ()
    """The command arguments the CLI takes in place, in order (`set-status ID STATUS`): the
    form both `tm` and the naive baseline's CLI read."""


def _one_id(spec: dict[str, Any]) -> Any:
    from taskmaster.model import TaskId

    return TaskId.parse(spec["task"])


def _set_status(spec: dict[str, Any]) -> Any:
    from taskmaster import commands

    return commands.SetStatus(ids=(_one_id(spec),), status=spec["value"]["status"])


def _update(spec: dict[str, Any]) -> Any:
    from taskmaster import commands

    return commands.UpdateTask(id=_one_id(spec), fields=dict(spec["value"]))


def _add(spec: dict[str, Any]) -> Any:
    from taskmaster import commands

    value = spec["value"]
    return commands.AddTask(values={"title": value["title"], "details": value.get("details", "")})


WRITES: dict[str, WriteOp] = {
    "set-status": WriteOp(
        _set_status,
        "PUT",
        "/api/v1/tasks/{id}/status",
        "set_task_status",
        {"ids": "id"},
        ("ids", "status"),
    ),
    "update": WriteOp(_update, "PATCH", "/api/v1/tasks/{id}", "update_task", positional=("id",)),
    "add": WriteOp(_add, "POST", "/api/v1/tasks", "add_task"),
}


def _write_op(spec: dict[str, Any]) -> WriteOp:
    try:
        return WRITES[spec["op"]]
    except KeyError:
        raise ValueError(f"unknown op {spec['op']!r}") from None


def core_command(spec: dict[str, Any]) -> Any:
    """The facade's command for a write spec (the safe target's direct writers)."""
    return _write_op(spec).command(spec)


def _arguments(spec: dict[str, Any], *, names: bool = True) -> tuple[WriteOp, dict[str, Any]]:
    """The command's JSON arguments, flat: a field mapping (update's `fields`) is spread out,
    as the CLI's options and the MCP tool's arguments take its members one by one (`names`:
    under the MCP tool's names)."""
    write = _write_op(spec)
    command = write.command(spec)
    flat: dict[str, Any] = {}
    for name, value in command.to_args().items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[write.renamed.get(name, name) if names else name] = value
    # A field the command was given says so even when it holds the default (an empty details).
    for name, value in getattr(command, "values", {}).items():
        flat.setdefault(name, value)
    return write, flat


def _text(value: Any) -> str:
    return ",".join(str(item) for item in value) if isinstance(value, list) else str(value)


# the CLI ----------------------------------------------------------------------------------------


def cli_args(spec: dict[str, Any]) -> list[str]:
    """`tm <command> [ARG...] --<option> <value>...`: the positional arguments, then the
    others as options named in kebab case."""
    write, flat = _arguments(spec, names=False)
    args = [core_command(spec).name, *(_text(flat.pop(name)) for name in write.positional)]
    for name, value in flat.items():
        option = "".join(f"-{c.lower()}" if c.isupper() else c for c in name)
        args += [f"--{option}", _text(value)]
    return args


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
    # Killed by a signal: it may have written or not; so may a write whose database connection
    # broke while it committed (the error says so).
    outcome = INFO if done.returncode < 0 or OUTCOME_UNKNOWN_TEXT in error else FAIL
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
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        keep_alive: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Response:
        payload = None if body is None else json.dumps(body).encode()
        headers = {
            **({"Content-Type": "application/json"} if payload is not None else {}),
            **(headers or {}),
        }
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
    """The route of the op; the body is the command's arguments (update: its fields) less the
    one the path names."""
    command = core_command(spec)
    write = _write_op(spec)
    args = command.to_args()
    target = args.pop("id", None) or (args.pop("ids", None) or [None])[0]
    body = args.pop("fields", args)
    return write.method, write.path.format(id=target), body


# the MCP server ---------------------------------------------------------------------------------


def mcp_call(spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The tool and its arguments (all but projectRoot) for a write spec."""
    write, flat = _arguments(spec)
    return write.tool, {name: _text(value) for name, value in flat.items()}


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
        body = response.json()
        if isinstance(body, dict) and body.get("outcomeUnknown"):
            # 503 storage-unavailable while committing: the write may have been applied
            return self.history.complete(op, INFO, error=_problem_text(response))
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
            details = getattr(err, "details", None)
            unknown = isinstance(details, dict) and bool(details.get("outcome_unknown"))
            return self.history.complete(
                op, INFO if unknown else FAIL, error=f"{type(err).__name__}: {err}"
            )
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
    return bytes_state(raw)


_STORES: dict[tuple[str, str], Any] = {}


def _store_of(target: Target) -> Any:
    """One long-lived reader of a target's database per process (taskmaster's own storage,
    or the naive store), as an observer keeps one."""
    assert target.storage is not None
    key = (target.name, target.storage)
    if key not in _STORES:
        if target.safe:
            from taskmaster.compose import Settings, open_storage

            _STORES[key] = open_storage(target.storage, Settings())
        else:
            from harness.baseline import NaiveDbStore

            _STORES[key] = NaiveDbStore(target.storage)
    return _STORES[key]


def close_stores() -> None:
    """Close the database readers `target_state` opened in this process."""
    while _STORES:
        _, store = _STORES.popitem()
        with contextlib.suppress(Exception):
            if hasattr(store, "close"):
                store.close()


def target_state(target: Target) -> dict[str, Any]:
    """What the target's store holds, as `file_state` says it for a file. For a database,
    "parses" means "the project reads": the document is exported (taskmaster:
    `storage.read().document`, as `tm storage export` writes it) and looked at like the file.
    A store whose server cannot be reached says `unavailable` (parses None): that is an
    outage, not a torn document."""
    if target.storage is None:
        return file_state(target.tasks_file)
    store = _store_of(target)
    try:
        if target.safe:
            raw = store.read().document.to_json()
        else:
            raw = json.dumps(store.read(), indent=2).encode()
    except Exception as err:
        unavailable = type(err).__name__ in ("StorageUnavailable", "NaiveStoreDown")
        reason = f"{type(err).__name__}: {str(err)[:160]}"
        if unavailable:
            return {"parses": None, "unavailable": True, "error": reason, "sha": None, "size": 0}
        return {"parses": False, "error": reason, "sha": None, "size": 0}
    return bytes_state(raw)


def read_document(target: Target) -> Any:
    """The whole task document the target holds now (the file parsed; a database's project
    exported), for the checks that need more than `target_state`'s fields (claim records)."""
    if target.storage is None:
        return json.loads(target.tasks_file.read_bytes())
    store = _store_of(target)
    if target.safe:
        return json.loads(store.read().document.to_json())
    return store.read()


def bytes_state(raw: bytes) -> dict[str, Any]:
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
    where: Path | Target,
    *,
    phase: str | None = None,
    expect_sha: str | None = None,
    kind: str = OBSERVE,
) -> Op:
    """Record what the file (a path) or a target's store holds now."""
    state = target_state(where) if isinstance(where, Target) else file_state(where)
    if kind == OBSERVE:
        # The checker needs parses/sha/error only; the full state is kept for the final one.
        names = ("parses", "sha", "size", "error", "unavailable")
        state = {k: v for k, v in state.items() if k in names}
    info = {"expect_sha": expect_sha} if expect_sha else {}
    return history.record(kind, channel="file", value=state, phase=phase, info=info)
