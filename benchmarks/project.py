"""Scratch projects, PostgreSQL clusters and `tm serve` processes for benchmarks (process
handling is the harness's)."""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks.data import synthetic_document
from harness.postgres_server import (
    REQUIRE_ENV,
    PostgresServer,
    PostgresServerMissing,
    postgres_required,
)
from harness.processes import Proc, Supervisor, free_port, stat_fields, supervised, wait_http
from harness.targets import tm_executable
from taskmaster.compose import STORAGE_URL_ENV, Settings, open_storage, project_at
from taskmaster.model import DEFAULT_TAG, Document
from taskmaster.project import locate
from taskmaster.storage import ProjectState


@contextlib.contextmanager
def scratch_project(tasks: int) -> Iterator[Path]:
    """A project holding `tasks` synthetic tasks, removed afterwards.

    Laid out as `tm init` (and the reference tool) leave it, state.json with the current tag
    included: a server's per-request cost depends on which of these files exist.
    """
    with tempfile.TemporaryDirectory(prefix="tm-bench-") as scratch:
        root = Path(scratch)
        create_project(root, synthetic_document(tasks))
        yield root


def create_project(root: Path, document: Document) -> Path:
    """`.taskmaster/` in `root` holding `document`, master current; the task file's path."""
    (root / ".taskmaster").mkdir()
    project = project_at(locate(root, tasks_file=root / ".taskmaster" / "tasks.json"))
    try:
        project.core.storage.create(document, ProjectState(DEFAULT_TAG))
    finally:
        project.close()
    return root / ".taskmaster" / "tasks.json"


POSTGRES_DURABILITY = "fsync=on, synchronous_commit=on, full_page_writes=on"
"""How the benchmarks' cluster commits: every acknowledged commit is on disk, as SQLite's
`synchronous=FULL` (and the file backend's fsync before rename) has it. Checked against the
running server's own `SHOW` before a benchmark uses it."""


@contextlib.contextmanager
def postgres_cluster(name: str) -> Iterator[PostgresServer | None]:
    """A durable PostgreSQL cluster of the benchmark's own (initdb in a temporary directory, a
    free port), stopped and removed afterwards. None when the server binaries are missing,
    unless TM_REQUIRE_POSTGRES=1 (CI), which makes that an error."""
    try:
        server = PostgresServer(name=name, durable=True)
    except PostgresServerMissing as err:
        if postgres_required():
            raise SystemExit(f"the {name} benchmark needs PostgreSQL: {err}") from None
        print(f"  (no PostgreSQL: its cases are skipped; {REQUIRE_ENV}=1 makes this an error)")
        yield None
        return
    with server:
        shown = server_durability(server)
        if shown != POSTGRES_DURABILITY:
            raise RuntimeError(f"the {name} benchmark's cluster runs with {shown}")
        yield server


def server_durability(server: PostgresServer) -> str:
    """The cluster's own durability settings, as it reports them (`SHOW`)."""
    import psycopg

    names = [item.split("=")[0] for item in POSTGRES_DURABILITY.split(", ")]
    with psycopg.connect(server.url, autocommit=True, connect_timeout=10) as connection:
        values = [connection.execute(f"SHOW {name}").fetchone() for name in names]
    return ", ".join(
        f"{name}={value[0] if value else '?'}" for name, value in zip(names, values, strict=True)
    )


def postgres_project(server: PostgresServer, document: Document, prefix: str = "bench") -> str:
    """A new project holding `document` (master current) in the cluster's database; its URL."""
    url = f"{server.url}?project={prefix}_{secrets.token_hex(4)}"
    storage = open_storage(url, Settings())
    try:
        storage.create(document, ProjectState(DEFAULT_TAG))
    finally:
        storage.close()
    return url


def start_http(
    supervisor: Supervisor,
    name: str,
    argv: Callable[[int], list[str]],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[int, Proc]:
    """Spawn the server `argv(port)` on a free port; returns the port and process once healthy."""
    port = free_port()
    proc = supervisor.spawn(name, argv(port), env=env, cwd=cwd)
    wait_http(port, "/api/v1/health", proc)
    return port, proc


def start_server(
    supervisor: Supervisor, root: Path, name: str, *extra: str, env: dict[str, str] | None = None
) -> tuple[int, Proc]:
    """`tm serve` on a free port for the project at `root`, once healthy."""
    return start_http(
        supervisor,
        name,
        lambda port: [
            tm_executable(),
            "--project",
            str(root),
            "serve",
            "--port",
            str(port),
            *extra,
        ],
        env=env,
    )


def start_url_server(
    supervisor: Supervisor,
    directory: Path,
    url: str,
    name: str,
    *extra: str,
    env: dict[str, str] | None = None,
) -> tuple[int, Proc]:
    """`tm serve` on a free port for the project stored at `url` (TM_STORAGE_URL), started in
    `directory` (an empty one: no task file, nothing of a project there), once healthy."""
    return start_http(
        supervisor,
        name,
        lambda port: [tm_executable(), "serve", "--port", str(port), *extra],
        env={**(env or {}), STORAGE_URL_ENV: url},
        cwd=directory,
    )


def scraped(port: int, *names: str) -> tuple[float, ...]:
    """The values of metrics `names` on the server at `port`, from one read of its /metrics:
    each summed over its label sets, if it has any (0 where the metric is absent)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    totals = dict.fromkeys(names, 0.0)
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in totals:
            totals[name] += float(line.rsplit(maxsplit=1)[1])
    return tuple(totals[name] for name in names)


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user + system) process `pid` has used so far, from `/proc/<pid>/stat`;
    None where there is no /proc (or the process is gone)."""
    fields = stat_fields(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


__all__ = [
    "POSTGRES_DURABILITY",
    "cpu_seconds",
    "create_project",
    "postgres_cluster",
    "postgres_project",
    "scraped",
    "scratch_project",
    "start_http",
    "start_server",
    "start_url_server",
    "supervised",
]
