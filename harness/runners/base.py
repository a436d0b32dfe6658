"""What every scenario runner uses: one `ScenarioRun` per (scenario, target).

It owns the target's folder in the run folder (project, history, logs, barriers, specs), the
processes started for it, the harness's own history writer and the seeded random generator
(the same seed gives both targets the same plan).
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.actors import Actor, ApiClient, observe
from harness.history import (
    EVENT,
    FINAL,
    INITIAL,
    META,
    READ,
    WRITE,
    HistoryWriter,
    Op,
    count_completed,
    now_ns,
)
from harness.processes import Barriers, Proc, Supervisor, free_port, wait_http
from harness.progress import Monitor, Progress
from harness.redis_server import (
    MISSING,
    REQUIRE_ENV,
    RedisServer,
    redis_required,
    redis_server_binary,
)
from harness.runners.postgres_support import PostgresMissing, new_project_url, shared_server
from harness.targets import BASELINE, SAFE, Target

if TYPE_CHECKING:
    from harness.postgres_server import PostgresServer
    from harness.scenarios import Scenario

STATUSES = ("pending", "in-progress", "done", "review", "deferred", "blocked")
REDIS_URL_ENV = "TM_REDIS_URL"


class ScenarioSkipped(Exception):
    """The scenario cannot run on this machine (no redis-server...): the row says why."""


def initial_task(task_id: int, pad: str = "") -> dict[str, Any]:
    return {
        "id": task_id,
        "title": f"task {task_id}",
        "description": "",
        "details": pad,
        "testStrategy": "",
        "status": "pending",
        "dependencies": [],
        "priority": "medium",
        "subtasks": [],
    }


class ScenarioRun:
    def __init__(
        self,
        scenario: Scenario,
        target: str,
        run_root: Path,
        seed: int,
        progress: Progress,
    ) -> None:
        self.scenario = scenario
        self.params = scenario.params
        self.seed = seed
        self.dir = run_root / scenario.name / target
        self.dir.mkdir(parents=True, exist_ok=True)
        self.target = Target(target, self.dir / "project")
        self.supervisor = Supervisor(self.dir / "logs")
        self.history = HistoryWriter.in_dir(self.dir, "harness")
        self.barriers = Barriers(self.dir / "barriers")
        self.rng = random.Random(f"{seed}:{scenario.name}")
        self.progress = progress
        self.apis: list[ApiClient] = []
        self.servers: list[Proc] = []
        self.env: dict[str, str] = {}
        """Extra environment of every process the run starts: servers, workers, the CLI
        processes of both (the same for both targets; the naive stack ignores TM_*)."""
        self.redis: RedisServer | None = None
        self.postgres: PostgresServer | None = None
        self.actor = Actor(self.history, self.target, self.apis, env=self.env)
        self.notes: list[str] = []
        self.config: dict[str, Any] = {}
        self.expected_ops: int | None = None
        self.task_ids: list[int] = []
        self.started = now_ns()

    # the backend ---------------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """`file` (the task file) or `postgresql` (the scenario's `backend` parameter)."""
        return str(self.params.get("backend", "file"))

    def prepare(self) -> None:
        """Set up the scenario's programs and backend before its runner starts."""
        if self.target.name == BASELINE and self.params.get("baseline_stack") == "taskmaster":
            # What this baseline lacks is a protocol (claims, fencing tokens), not a lock:
            # it runs taskmaster's own programs, so that nothing else differs.
            self.target = replace(self.target, stack=SAFE)
            self.actor = Actor(self.history, self.target, self.apis, env=self.env)
        if self.backend == "postgresql":
            self.use_postgres()
        elif self.backend != "file":
            raise ValueError(f"unknown backend {self.backend!r} (file or postgresql)")

    def use_postgres(self) -> PostgresServer:
        """Keep this target's tasks in a database of its own on the run's PostgreSQL cluster:
        every `tm` gets `--storage URL` (the naive stack its own `--storage URL`), and the
        project directory stays empty: no task file anywhere. Without PostgreSQL the scenario
        is skipped (failed when TM_REQUIRE_POSTGRES=1)."""
        try:
            server = shared_server()
        except PostgresMissing as err:
            raise ScenarioSkipped(str(err)) from None
        url = new_project_url(server, self.scenario.name, self.target.name)
        self.postgres = server
        self.target = replace(self.target, storage=url)
        self.actor = Actor(self.history, self.target, self.apis, env=self.env)
        self.config["storage"] = url
        self.event(f"PostgreSQL on port {server.port}: {url}", pid=server.pid)
        return server

    # the project ---------------------------------------------------------------------------
    def init_project(self, count: int, pad: str = "") -> list[int]:
        """A fresh project with tasks 1..count, byte for byte the same for both targets."""
        tasks = [initial_task(i, pad) for i in range(1, count + 1)]
        document = {"master": {"tasks": tasks, "metadata": {"description": "harness project"}}}
        if self.target.storage is not None:
            self._init_database(document)
        else:
            folder = self.target.tasks_file.parent
            folder.mkdir(parents=True, exist_ok=True)
            self.target.tasks_file.write_text(json.dumps(document, indent=2) + "\n")
            (folder / "state.json").write_text('{"currentTag": "master"}\n')
        value = {
            f"task/{t['id']}": {k: t[k] for k in ("title", "status", "details")} for t in tasks
        }
        self.history.record(INITIAL, value=value)
        self.task_ids = [t["id"] for t in tasks]
        return self.task_ids

    def _init_database(self, document: dict[str, Any]) -> None:
        url = self.target.storage
        assert url is not None
        self.target.root.mkdir(parents=True, exist_ok=True)  # empty: the tasks are elsewhere
        if self.target.safe:
            from taskmaster.compose import Settings, open_storage
            from taskmaster.model import Document
            from taskmaster.storage import ProjectState

            storage = open_storage(url, Settings())
            try:
                raw = json.dumps(document, indent=2).encode()
                storage.create(Document.from_json(raw, url), ProjectState("master"))
            finally:
                storage.close()
        else:
            from harness.baseline import NaiveDbStore

            NaiveDbStore(url).create(document)

    def instance_dir(self, index: int) -> Path:
        """Where API server `index` runs: the project directory, or (PostgreSQL) an empty
        directory of its own, so that nothing but the database connects the instances."""
        if self.target.storage is None:
            return self.target.root
        folder = self.dir / f"instance-{index}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    # API servers ---------------------------------------------------------------------------
    def start_servers(
        self, count: int, env: dict[str, str] | None = None, name: str = "server"
    ) -> list[ApiClient]:
        """`count` API servers on free ports (real `tm serve`, or the naive server)."""
        started: list[tuple[int, int, Proc]] = []
        taken = {api.port for api in self.apis}
        for position in range(count):
            port = free_port()
            while port in taken:  # the kernel may hand out the same free port twice
                port = free_port()
            taken.add(port)
            index = len(self.apis) + position
            # On PostgreSQL each instance is started in (and as `tm --project`, on) its own
            # empty directory: the database is the one thing they share.
            where = self.instance_dir(index)
            target = self.target if where == self.target.root else replace(self.target, root=where)
            proc = self.supervisor.spawn(
                f"{name}-{index}",
                target.server(port),
                env={**self.env, **(env or {})},
                cwd=where,
            )
            started.append((index, port, proc))
        clients = []
        for index, port, proc in started:
            took = wait_http(port, "/api/v1/health", proc)
            client = ApiClient(port, index)
            self.apis.append(client)
            self.servers.append(proc)
            clients.append(client)
            self.event(f"{proc.name} ready on port {port}", took_ms=round(took * 1000))
        self.progress.say(f"{len(clients)} API server(s) up ({self._servers_text()})")
        return clients

    def _servers_text(self) -> str:
        return "tm serve" if self.target.safe else "naive server"

    def stop_servers(self) -> None:
        for api in self.apis:
            api.close()
        for proc in self.servers:
            proc.stop()
        self.apis.clear()
        self.servers.clear()

    # Redis ---------------------------------------------------------------------------------
    def use_redis(self) -> RedisServer:
        """Start this run's own redis-server (free port, run folder, no persistence) and hand
        its URL as TM_REDIS_URL to every process the run starts. Call it first: without
        redis-server the scenario is skipped (failed when TM_REQUIRE_REDIS=1)."""
        if redis_server_binary() is None:
            if redis_required():
                raise RuntimeError(f"{MISSING}, and {REQUIRE_ENV}=1 requires it")
            raise ScenarioSkipped(MISSING)
        self.redis = RedisServer(directory=self.dir / "redis", supervisor=self.supervisor)
        self.redis.start()
        self.env[REDIS_URL_ENV] = self.redis.url
        self.config["redis_url"] = self.redis.url
        self.event(f"redis-server up on port {self.redis.port}", pid=self.redis.pid)
        return self.redis

    # actor processes -----------------------------------------------------------------------
    def write_spec(self, name: str, spec: dict[str, Any]) -> Path:
        path = self.dir / "specs" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(spec, indent=1))
        return path

    def base_spec(self, actor: str) -> dict[str, Any]:
        return {
            "actor": actor,
            "target": self.target.to_dict(),
            "history": str(self.dir / "history" / f"{actor}.jsonl"),
            "barriers": str(self.barriers.folder),
            "ports": [api.port for api in self.apis],
        }

    def spawn_worker(self, role: str, actor: str, **spec: Any) -> Proc:
        data = {**self.base_spec(actor), "role": role, "env": self.env, **spec}
        path = self.write_spec(actor, data)
        argv = [sys.executable, "-m", "harness.workers", str(path)]
        return self.supervisor.spawn(actor, argv, env=self.env)

    def spawn_hooked(self, actor: str, mode: str, args: list[str], **spec: Any) -> Proc:
        """The target's real CLI (or server, with serve args) with a probe in its storage."""
        program, leading = self.target.cli_program()
        data = {
            **self.base_spec(actor),
            "mode": mode,
            "tasks_file": str(self.target.tasks_file),
            "storage": self.target.storage,
            **spec,
        }
        path = self.write_spec(f"probe-{actor}", data)
        argv = [sys.executable, "-m", "harness.hooked", str(path), program, *leading, *args]
        self.target.root.mkdir(parents=True, exist_ok=True)
        return self.supervisor.spawn(f"hooked-{actor}", argv, env=self.env, cwd=self.target.root)

    def wait_all(self, procs: Iterable[Proc], timeout: float) -> list[Proc]:
        """Wait for `procs` to exit; kill and return those still running after `timeout`."""
        deadline = time.monotonic() + timeout
        late = []
        for proc in procs:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                proc.popen.wait(timeout=remaining)
            except Exception:
                late.append(proc)
        for proc in late:
            proc.kill()
            self.note(f"{proc.name} did not finish in {timeout:g} s and was killed")
        return late

    # recording -----------------------------------------------------------------------------
    def event(self, text: str, **info: Any) -> Op:
        return self.history.record(EVENT, value={"event": text}, info=info)

    def note(self, text: str) -> None:
        """A line for the report row (what the run showed beyond the figures)."""
        text = text.replace(f"{self.target.root}/", "")
        if len(text) > 240:
            text = text[:237] + "..."
        self.notes.append(text)
        self.event(text)

    def observe(self, phase: str | None = None, expect_sha: str | None = None) -> Op:
        return observe(self.history, self.target, phase=phase, expect_sha=expect_sha)

    def read_everywhere(
        self, task_ids: Iterable[int], phase: str, offsets_ms: Iterable[float] = (0,)
    ) -> list[Op]:
        """Read each task on every instance, one thread per instance, each read started
        `offset` ms after now (the instant a write was acknowledged, when called right after)."""
        base = now_ns()
        ids, offsets = list(task_ids), list(offsets_ms)
        results: list[Op] = []
        lock = threading.Lock()

        def reader(index: int) -> None:
            for offset in offsets:
                delay = (base + offset * 1e6 - now_ns()) / 1e9
                if delay > 0:
                    time.sleep(delay)
                for task_id in ids:
                    op = self.actor.read(
                        task_id,
                        instance=index,
                        phase=phase,
                        actor=f"client-{index}",
                    )
                    op.info["offset_ms"] = offset
                    with lock:
                        results.append(op)

        threads = [
            threading.Thread(target=reader, args=(i,), name=f"read-{i}", daemon=True)
            for i in range(len(self.apis))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    def snapshot(self, phase: str) -> Op:
        """The file's content at a moment no write is in flight: every write acknowledged
        before it must be in it (the checker's `acknowledged-writes-present`). On PostgreSQL:
        the project as it reads, exported."""
        return observe(self.history, self.target, phase=phase, kind=FINAL)

    def final(self, settle_s: float = 0.0) -> Op:
        """After every write: read every task on every instance, then look at the file."""
        if settle_s:
            time.sleep(settle_s)
        if self.apis:
            self.read_everywhere(self.task_ids, "final")
        return self.snapshot("final")

    @contextmanager
    def monitor(self, total: int | None, kinds: tuple[str, ...] = (WRITE, READ)) -> Iterator[None]:
        """Progress lines while the block runs: processes started, `kinds` ops completed."""
        folder = self.dir / "history"

        def done() -> int:
            return count_completed(folder, kinds) - baseline

        def processes() -> int:
            # ours, plus the `tm` (or naive CLI) process behind every CLI operation
            return self.supervisor.started + count_completed(folder, (WRITE,), "cli")

        baseline = count_completed(folder, kinds)
        with Monitor(lambda: self.progress.update(processes(), done(), total)):
            yield
        self.progress.update(processes(), done(), total, force=True)
        self.progress.finish()

    # the end -------------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        scenario = self.scenario
        return {
            "scenario": scenario.name,
            "kind": scenario.kind,
            "summary": scenario.summary,
            "target": self.target.name,
            "seed": self.seed,
            "invariants": list(scenario.invariants),
            "baseline_expected": scenario.baseline_expected,
            "params": scenario.params,
            "notes": self.notes,
            "processes": self.supervisor.started,
            "duration_s": round((now_ns() - self.started) / 1e9, 2),
            **self.config,
        }

    def close(self) -> None:
        try:
            self.stop_servers()
            self.supervisor.close()
            self.actor.close()
        finally:
            self.history.record(META, start=self.started, value=self.meta())
            self.history.close()
