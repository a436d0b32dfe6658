"""The write target for `tm serve`: set-status as one durable SQLite UPDATE per request.

`python -m benchmarks.sqlite_app --port N --db FILE [--threads T]`

The same route shape and body as `tm serve` (`PUT /api/v1/tasks/{id}/status`, `{"status": S}`,
answered with the task as JSON) under waitress with the same thread count, over SQLite in WAL
mode with `synchronous=FULL`: every answered write is committed and on disk, as `tm serve`'s
are. What is left between the two is what the task file's format and taskmaster's own work
cost per write.
"""

from __future__ import annotations

import argparse
import sqlite3
import threading
from pathlib import Path

import falcon
import orjson

from benchmarks.ceiling import serve_on_loopback


def create_db(path: Path, tasks: int, status: str = "done") -> None:
    """A `tasks` table of ids 1..`tasks`, each with `status`, in WAL mode."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE tasks (id INTEGER PRIMARY KEY, status TEXT NOT NULL)")
        connection.executemany(
            "INSERT INTO tasks VALUES (?, ?)", [(i, status) for i in range(1, tasks + 1)]
        )
        connection.commit()
    finally:
        connection.close()


def connect(path: Path) -> sqlite3.Connection:
    """A connection that commits durably (WAL, synchronous=FULL), waiting for the write lock."""
    connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    return connection


class TaskStatus:
    def __init__(self, db: Path) -> None:
        self.db = db
        # One connection per waitress thread: a sqlite3 connection is not for concurrent use.
        self.local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = connect(self.db)
        return connection

    def on_put(self, req: falcon.Request, resp: falcon.Response, task_id: str) -> None:
        try:
            status = orjson.loads(req.bounded_stream.read())["status"]
            ident = int(task_id)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise falcon.HTTPBadRequest(
                title='expected {"status": ...} and an integer id'
            ) from None
        if not isinstance(status, str):
            raise falcon.HTTPBadRequest(title="status must be a string")
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            changed = connection.execute(
                "UPDATE tasks SET status = ? WHERE id = ?", (status, ident)
            ).rowcount
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        if not changed:
            raise falcon.HTTPNotFound(title=f"no task {ident}")
        resp.data = orjson.dumps({"id": ident, "status": status})
        resp.content_type = falcon.MEDIA_JSON


class Health:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.data = b'{"status":"ok"}'
        resp.content_type = falcon.MEDIA_JSON


def app(db: Path) -> falcon.App:
    application = falcon.App()
    application.add_route("/api/v1/tasks/{task_id}/status", TaskStatus(db))
    application.add_route("/api/v1/health", Health())
    return application


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    serve_on_loopback(app(args.db), args.port, args.threads)


if __name__ == "__main__":
    main()
