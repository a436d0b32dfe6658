"""The naive stack of the design documents' "Current" architecture, kept only to be beaten.

Direct, non-atomic writes of the whole file and no lock: exactly what loses updates and tears
files. And an API server with a per-process response cache (5-minute TTL) that nothing ever
invalidates: exactly what serves stale data; and, when given a budget, a per-process rate
limiter ("Per-Instance Buckets"): two instances with 100 req/min each allow 200 req/min in
total. And an agent server (`NaiveAgent`) that, like the reference tool's MCP server, loaded
the tasks once, answers from that copy and writes the whole copy back: stale reads and lost
updates for everything the other front ends change meanwhile. Every harness scenario runs
against this too, to prove that its check can fail. It lives here, never in the `taskmaster`
package.

    python -m harness.baseline --file F set-status ID STATUS
    python -m harness.baseline --file F update-task ID [--title T] [--status S] [--details D]
    python -m harness.baseline --file F add-task --title T
    python -m harness.baseline --file F show ID --json
    python -m harness.baseline --file F list --json
    python -m harness.baseline --file F serve --port N [--cache-ttl 300] [--rate-limit 20/minute]
    python -m harness.baseline --storage postgresql://...?project=KEY COMMAND ...

The database form (`--storage`, `NaiveDbStore`) is the same naive program on PostgreSQL: the
project is one JSON document in a row; every command reads it, changes it in Python and writes
it back in a statement of its own, without locking the row in between. Nothing is ever torn
(each statement is atomic), but updates are lost, and the API cache is as stale as ever.

(`--rate-limit` defaults to the NAIVE_RATE_LIMIT environment variable; unset: no limit.)

(`--file` may also follow the command.) Same command and route shapes as `tm` for the few the
scenarios use.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

TAG = "master"
CACHE_TTL = 300.0
RATE_LIMIT_ENV = "NAIVE_RATE_LIMIT"


class TornRead(ValueError):
    """The naive reader caught the file half written."""


class NaiveFileStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def read(self) -> Any:
        text = self.path.read_text()
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise TornRead(f"{self.path}: {err}") from None

    def transact(self, operation: Callable[[Any], T]) -> T:
        """Read, modify, write back, with nothing stopping another process in between."""
        data = self.read()
        result = operation(data)
        self._write(data)
        return result

    def _write(self, data: Any) -> None:
        with open(self.path, "w") as handle:  # truncates first: a reader can see it half done
            handle.write(json.dumps(data, indent=2))


class NaiveStoreDown(OSError):
    """The naive database store could not reach its server (an OSError, as a missing file
    would be, so every naive front end reports it the same way)."""


class NaiveDbStore:
    """One project as one JSON document in PostgreSQL, used as naively as the file: read it,
    change it in Python, write it all back, with nothing stopping another process in between
    (no transaction around the two, no row lock)."""

    TABLE = "naive_documents"

    def __init__(self, url: str) -> None:
        from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        self.key = query.pop("project", "default")
        self.conninfo = urlunsplit(parts._replace(query=urlencode(query)))
        self.path = url  # where it is, for messages
        self._local = threading.local()

    def _connection(self) -> Any:
        import psycopg

        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            try:
                conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)
            except psycopg.Error as err:
                raise NaiveStoreDown(f"{self.path}: {str(err).strip()[:200]}") from None
            self._local.conn = conn
        return conn

    def _execute(self, statement: str, args: tuple[Any, ...]) -> Any:
        import psycopg

        try:
            return self._connection().execute(statement, args)
        except psycopg.OperationalError as err:
            self._local.conn = None
            raise NaiveStoreDown(f"{self.path}: {str(err).strip()[:200]}") from None

    def close(self) -> None:
        """Close this thread's connection (the others close with their threads)."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def create(self, data: Any) -> None:
        self._execute(
            f"CREATE TABLE IF NOT EXISTS {self.TABLE} (key text PRIMARY KEY, body text NOT NULL)",
            (),
        )
        self._execute(
            f"INSERT INTO {self.TABLE} (key, body) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
            "SET body = EXCLUDED.body",
            (self.key, json.dumps(data, indent=2)),
        )

    def read(self) -> Any:
        row = self._execute(f"SELECT body FROM {self.TABLE} WHERE key = %s", (self.key,)).fetchone()
        if row is None:
            raise NaiveStoreDown(f"{self.path}: no project {self.key!r}")
        return json.loads(row[0])

    def transact(self, operation: Callable[[Any], T]) -> T:
        """Read, modify, write back: two statements, nothing held in between."""
        data = self.read()
        result = operation(data)
        self._write(data)
        return result

    def _write(self, data: Any) -> None:
        self._execute(
            f"UPDATE {self.TABLE} SET body = %s WHERE key = %s",
            (json.dumps(data, indent=2), self.key),
        )


def naive_store(location: Path | str) -> NaiveFileStore | NaiveDbStore:
    """The naive store at `location`: a PostgreSQL URL, else a task file."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        return NaiveDbStore(text)
    return NaiveFileStore(location)


# the naive operations on the raw document ------------------------------------------------------


class NaiveError(Exception):
    status = 400


class NoSuchTask(NaiveError):
    status = 404


class RateLimited(NaiveError):
    status = 429


def tasks_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    return data[TAG]["tasks"] if TAG in data else data["tasks"]


def find_task(data: dict[str, Any], task_id: int) -> dict[str, Any]:
    for task in tasks_of(data):
        if int(task["id"]) == task_id:
            return task
    raise NoSuchTask(f"task {task_id} not found")


def set_status(task_id: int, status: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def apply(data: dict[str, Any]) -> dict[str, Any]:
        task = find_task(data, task_id)
        task["status"] = status
        return task

    return apply


def update_task(task_id: int, fields: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def apply(data: dict[str, Any]) -> dict[str, Any]:
        task = find_task(data, task_id)
        task.update(fields)
        return task

    return apply


def add_task(title: str, **fields: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def apply(data: dict[str, Any]) -> dict[str, Any]:
        tasks = tasks_of(data)
        task = {
            "id": max((int(t["id"]) for t in tasks), default=0) + 1,
            "title": title,
            "description": fields.get("description", ""),
            "details": fields.get("details", ""),
            "testStrategy": "",
            "status": fields.get("status", "pending"),
            "dependencies": [],
            "priority": fields.get("priority", "medium"),
            "subtasks": [],
        }
        tasks.append(task)
        return task

    return apply


class NaiveCore:
    """The naive counterpart of the `TaskMaster` facade, for direct writers."""

    def __init__(self, path: Path | str) -> None:
        self.store = naive_store(path)

    def set_status(self, task_id: int, status: str) -> dict[str, Any]:
        return self.store.transact(set_status(task_id, status))

    def update_task(self, task_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        return self.store.transact(update_task(task_id, fields))

    def add_task(self, title: str, **fields: Any) -> dict[str, Any]:
        return self.store.transact(add_task(title, **fields))

    def show(self, task_id: int) -> dict[str, Any]:
        return find_task(self.store.read(), task_id)

    def close(self) -> None:
        pass


# the naive agent server ------------------------------------------------------------------------


class NaiveAgent:
    """The reference tool's MCP server as it behaves: a long-lived process that loaded the
    tasks once, when the agent session began, answers every call from that copy, and writes
    the whole copy back (in place, no lock) after each change. What another program changes
    after the load is never seen (stale reads) and is overwritten by the next write (lost
    updates). Same tool names, arguments and answers as `tm mcp`, for the tools the harness
    calls; it does not speak the MCP protocol itself (see `harness.agent`)."""

    TOOLS = ("get_task", "set_task_status", "update_task", "add_task")

    def __init__(self, path: Path | str) -> None:
        self.store = naive_store(path)
        self.loaded_at = time.monotonic_ns()
        self.data = self.store.read()

    def call(self, tool: str, arguments: dict[str, Any]) -> str:
        """The tool's answer as JSON text; a `NaiveError` for a refused call."""
        if tool not in self.TOOLS:
            raise NaiveError(f"unknown tool {tool!r}")
        task_id = int(arguments.get("id", 0) or 0)
        if tool == "get_task":
            return json.dumps(find_task(self.data, task_id))
        if tool == "set_task_status":
            result: Any = [set_status(task_id, str(arguments["status"]))(self.data)]
        elif tool == "update_task":
            names = ("title", "status", "details", "description", "priority")
            fields = {n: arguments[n] for n in names if arguments.get(n) is not None}
            result = update_task(task_id, fields)(self.data)
        else:
            result = add_task(str(arguments["title"]), details=arguments.get("details") or "")(
                self.data
            )
        self.store._write(self.data)  # the copy loaded at start, whole, over whatever is there
        return json.dumps(result)


# the naive API server ----------------------------------------------------------------------------

_TASK = re.compile(r"^/api/v1/tasks/(\d+)$")
_STATUS = re.compile(r"^/api/v1/tasks/(\d+)/status$")


class TtlCache:
    """A per-process response cache: entries live `ttl` seconds and are never invalidated."""

    def __init__(self, ttl: float = CACHE_TTL) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, bytes]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] < time.monotonic():
                return None
            return entry[1]

    def put(self, key: str, body: bytes) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + self.ttl, body)


class LocalRateLimiter:
    """A per-process limiter (moving window, in memory, per client address): each instance
    counts only what it sees itself."""

    def __init__(self, limit: str) -> None:
        from limits import parse
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self.item = parse(limit)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def allow(self, client: str) -> bool:
        return self._limiter.hit(self.item, client)


class NaiveApp:
    """WSGI app: GET /tasks/{id} and /tasks (cached), PUT /tasks/{id}/status, PATCH /tasks/{id},
    POST /tasks, GET /health; every route but /health behind the per-process limiter, if any."""

    def __init__(
        self, path: Path | str, cache_ttl: float = CACHE_TTL, rate_limit: str | None = None
    ) -> None:
        self.core = NaiveCore(path)
        self.cache = TtlCache(cache_ttl)
        self.limiter = LocalRateLimiter(rate_limit) if rate_limit else None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        try:
            if (
                self.limiter is not None
                and path != "/api/v1/health"
                and not self.limiter.allow(environ.get("REMOTE_ADDR", "-"))
            ):
                raise RateLimited("rate limit exceeded")
            status, body = self.route(method, path, environ)
        except NaiveError as err:
            status, body = err.status, {"error": str(err)}
        except (TornRead, OSError) as err:
            status, body = 500, {"error": str(err)}
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        start_response(
            f"{status} {'OK' if status < 400 else 'Error'}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
        )
        return [data]

    def route(self, method: str, path: str, environ: dict[str, Any]) -> tuple[int, Any]:
        if path == "/api/v1/health":
            return 200, {"status": "ok"}
        if method == "GET" and (path == "/api/v1/tasks" or _TASK.match(path)):
            cached = self.cache.get(path)
            if cached is not None:
                return 200, cached
            data = self.core.store.read()
            match = _TASK.match(path)
            value = find_task(data, int(match.group(1))) if match else {"tasks": tasks_of(data)}
            body = json.dumps(value).encode()
            self.cache.put(path, body)
            return 200, body
        if method == "PUT" and (match := _STATUS.match(path)):
            status = _body(environ).get("status")
            return 200, self.core.set_status(int(match.group(1)), str(status))
        if method == "PATCH" and (match := _TASK.match(path)):
            return 200, self.core.update_task(int(match.group(1)), _body(environ))
        if method == "POST" and path == "/api/v1/tasks":
            body = _body(environ)
            title = str(body.pop("title", "") or body.pop("prompt", ""))
            return 201, self.core.add_task(title, **body)
        raise NoSuchTask(f"no route {method} {path}")


def _body(environ: dict[str, Any]) -> dict[str, Any]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b"{}"
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        raise NaiveError(f"bad JSON body: {err}") from None
    if not isinstance(value, dict):
        raise NaiveError("the body must be a JSON object")
    return value


def serve(
    path: Path | str,
    port: int,
    cache_ttl: float = CACHE_TTL,
    threads: int = 4,
    rate_limit: str | None = None,
) -> None:
    import waitress

    limited = f", at most {rate_limit} per client in this process" if rate_limit else ""
    print(f"naive API serving {path} on http://127.0.0.1:{port}/api/v1{limited}", flush=True)
    app = NaiveApp(path, cache_ttl, rate_limit)
    waitress.serve(app, host="127.0.0.1", port=port, threads=threads, _quiet=True)


# the naive CLI -----------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--file", "-f", type=Path, default=argparse.SUPPRESS)
    common.add_argument("--storage", default=argparse.SUPPRESS, help="a PostgreSQL URL")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="python -m harness.baseline", description=__doc__.split("\n\n")[0], parents=[common]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("set-status", parents=[common])
    cmd.add_argument("id", type=int)
    cmd.add_argument("status")
    cmd = commands.add_parser("update-task", parents=[common])
    cmd.add_argument("id", type=int)
    for name in ("title", "status", "details", "description", "priority"):
        cmd.add_argument(f"--{name}")
    cmd = commands.add_parser("add-task", parents=[common])
    cmd.add_argument("--title", required=True)
    cmd.add_argument("--details", default="")
    cmd = commands.add_parser("show", parents=[common])
    cmd.add_argument("id", type=int)
    commands.add_parser("list", parents=[common])
    cmd = commands.add_parser("serve", parents=[common])
    cmd.add_argument("--port", type=int, required=True)
    cmd.add_argument("--cache-ttl", type=float, default=CACHE_TTL)
    cmd.add_argument("--rate-limit", default=None, help=f"e.g. 20/minute [env {RATE_LIMIT_ENV}]")
    return parser


def main(argv: Iterable[str] | None = None) -> int:
    args = _parser().parse_args(list(argv) if argv is not None else None)
    path = getattr(args, "storage", None) or getattr(args, "file", None)
    if path is None:
        print("Error: --file or --storage is required", file=sys.stderr)
        return 2
    core = NaiveCore(path)
    try:
        if args.command == "serve":
            limit = args.rate_limit or os.environ.get(RATE_LIMIT_ENV) or None
            serve(path, args.port, args.cache_ttl, rate_limit=limit)
            return 0
        if args.command == "set-status":
            result: Any = core.set_status(args.id, args.status)
        elif args.command == "update-task":
            names = ("title", "status", "details", "description", "priority")
            fields = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
            result = core.update_task(args.id, fields)
        elif args.command == "add-task":
            result = core.add_task(args.title, details=args.details)
        elif args.command == "show":
            result = core.show(args.id)
        else:
            result = {"tag": TAG, "tasks": tasks_of(core.store.read())}
    except (NaiveError, TornRead, OSError) as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1
    if getattr(args, "json", False):
        print(json.dumps(result, indent=2))
    else:
        print(f"Task {result.get('id', '')}: ok" if isinstance(result, dict) else "ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
