"""`resume-events`: event-stream clients on several `tm serve` instances are cut off and
reconnect at random while writers write; none may miss or repeat a commit.

Every client is a thread of the harness with a raw socket (HTTP/1.0, so the stream is the
plain body): it holds a connection for a random time, drops it (the socket closed under the
server, sometimes after a partial frame), stays away a moment, and reconnects to a random
instance. An event counts when its frame is complete, as an EventSource dispatches it; the
client's last event id is that of the last complete event. Taskmaster's clients reconnect with
`Last-Event-ID`; the baseline's clients (the same servers: `baseline_stack = "taskmaster"`)
reconnect without it, as a plain SSE client that ignores ids does.

Writer threads add tasks through the REST API of random instances: an instance learns of the
other one's commits from its watcher (no Redis), and announces them from the journal.

At the end, once every client's live connection saw the last acknowledged write (or
`drain_s` passed), each client's deliveries are recorded (one `observe` op on channel
``sse``), with the journal's revisions above the revision before the first write: the checker
(`events-exactly-once`) asks that each client saw each of those exactly once, in order.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from harness.events_check import SSE_CHANNEL
from harness.history import OBSERVE, OK, WRITE
from harness.runners.base import ScenarioRun
from harness.targets import BASELINE


@dataclass
class Client:
    name: str
    instances: list[int]
    resume: bool
    rng: random.Random
    hold_ms: tuple[float, float]
    away_ms: tuple[float, float]
    last_id: int | None = None
    deliveries: list[list[int]] = field(default_factory=list)
    """[revision, connection] per delivered commit (consecutive events of one revision on one
    connection are one delivery)."""
    connections: int = 0
    resets: int = 0
    reset_info: list[list[Any]] = field(default_factory=list)
    """[the id it resumed from, the revision and oldest entry the reset named] per reset."""
    resumed_from: int | None = None
    failed_connects: int = 0
    connected: threading.Event = field(default_factory=threading.Event)

    def run(self, ports: list[int], stop: threading.Event, draining: threading.Event) -> None:
        while not stop.is_set():
            port = ports[self.rng.choice(self.instances)]
            hold = self.rng.uniform(*self.hold_ms) / 1000
            # Once the writers are done, hold on until told to stop: the tail must arrive.
            self._connection(port, None if draining.is_set() else hold, stop)
            if stop.is_set():
                break
            time.sleep(self.rng.uniform(*self.away_ms) / 1000)

    def _connection(self, port: int, hold: float | None, stop: threading.Event) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            self.failed_connects += 1
            return
        self.connections += 1
        number = self.connections
        deadline = None if hold is None else time.monotonic() + hold
        try:
            headers = "Host: harness\r\nAccept: text/event-stream\r\n"
            self.resumed_from = self.last_id if self.resume else None
            if self.resumed_from is not None:
                headers += f"Last-Event-ID: {self.resumed_from}\r\n"
            sock.sendall(f"GET /api/v1/events HTTP/1.0\r\n{headers}\r\n".encode())
            sock.settimeout(0.05)
            buffer = b""
            head_done = False
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    return  # the server ended the stream
                buffer += data
                if not head_done:
                    end = buffer.find(b"\r\n\r\n")
                    if end < 0:
                        continue
                    status = buffer.split(b" ", 2)[1] if b" " in buffer else b""
                    if status != b"200":
                        self.failed_connects += 1
                        return
                    head_done = True
                    buffer = buffer[end + 4 :]
                    self.connected.set()
                while (cut := buffer.find(b"\n\n")) >= 0:
                    frame, buffer = buffer[:cut], buffer[cut + 2 :]
                    self._dispatch(frame, number)
        finally:
            sock.close()

    def _dispatch(self, frame: bytes, connection: int) -> None:
        fields: dict[str, str] = {}
        for line in frame.decode().split("\n"):
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        if "id" in fields:  # as an EventSource: set even by a frame without data
            self.last_id = int(fields["id"]) if fields["id"] else None
        if "data" not in fields:
            return
        if fields.get("event") == "reset":
            self.resets += 1
            data = orjson.loads(fields["data"])
            self.reset_info.append([self.resumed_from, data.get("revision"), data.get("oldest")])
            return
        revision = int(orjson.loads(fields["data"]).get("revision", -1))
        if self.deliveries and self.deliveries[-1] == [revision, connection]:
            return  # another event of the same commit
        self.deliveries.append([revision, connection])


def run(run: ScenarioRun) -> None:
    params = run.params
    instances = int(params.get("instances", 2))
    run.init_project(int(params.get("tasks", 3)))
    apis = run.start_servers(instances)
    ports = [api.port for api in apis]
    resume = run.target.name != BASELINE
    stop = threading.Event()
    draining = threading.Event()
    hold = params.get("hold_ms", [100, 600])
    away = params.get("away_ms", [20, 300])
    clients = [
        Client(
            f"client-{i}",
            list(range(instances)),
            resume,
            random.Random(run.rng.randrange(1 << 30)),
            (float(hold[0]), float(hold[1])),
            (float(away[0]), float(away[1])),
        )
        for i in range(int(params.get("clients", 4)))
    ]
    threads = [
        threading.Thread(target=c.run, args=(ports, stop, draining), name=c.name, daemon=True)
        for c in clients
    ]
    for thread in threads:
        thread.start()
    for client in clients:
        if not client.connected.wait(20):
            raise RuntimeError(f"{client.name} could not open an event stream")
    start = _revision(run)
    run.progress.say(
        f"{len(clients)} event-stream clients ({'with' if resume else 'without'} "
        f"Last-Event-ID) over {instances} instances; revision {start} before the first write"
    )
    writers = int(params.get("writers", 2))
    writes = int(params.get("writes", 30))
    pause_ms = params.get("write_pause_ms", [5, 60])
    acked: list[int] = []
    lock = threading.Lock()

    def writer(index: int, rng: random.Random) -> None:
        for number in range(writes):
            spec = {"op": "add", "value": {"title": f"w{index}-{number}", "details": ""}}
            op = run.actor.write(
                "api", spec, instance=rng.randrange(instances), phase="storm", actor=f"w{index}"
            )
            if op.outcome == OK and op.revision is not None:
                with lock:
                    acked.append(op.revision)
            time.sleep(rng.uniform(float(pause_ms[0]), float(pause_ms[1])) / 1000)

    writer_threads = [
        threading.Thread(
            target=writer, args=(i, random.Random(run.rng.randrange(1 << 30))), daemon=True
        )
        for i in range(writers)
    ]
    with run.monitor(writers * writes, (WRITE,)):
        for thread in writer_threads:
            thread.start()
        for thread in writer_threads:
            thread.join(timeout=float(params.get("timeout_s", 120)))
    draining.set()
    last = max(acked, default=start)
    deadline = time.monotonic() + float(params.get("drain_s", 5))
    while time.monotonic() < deadline and not all(_seen(c, last) for c in clients):
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(timeout=5)
    committed = _journal_revisions(run, start)
    for client in clients:
        run.history.record(
            OBSERVE,
            actor=client.name,
            channel=SSE_CHANNEL,
            phase="final",
            value={
                "committed": committed,
                "deliveries": client.deliveries,
                "connections": client.connections,
                "resets": client.resets,
                "reset_info": client.reset_info,
                "failed_connects": client.failed_connects,
                "resume": client.resume,
            },
        )
    connections = sum(c.connections for c in clients)
    delivered = sum(len(c.deliveries) for c in clients)
    run.note(
        f"{len(committed)} commits above revision {start}; {len(clients)} clients opened "
        f"{connections} connections (so {connections - len(clients)} reconnects) and got "
        f"{delivered} commit deliveries (every client every commit once: "
        f"{len(clients) * len(committed)}); resets: {sum(c.resets for c in clients)}"
    )


def _seen(client: Client, revision: int) -> bool:
    return any(delivered >= revision for delivered, _ in client.deliveries[-5:])


def _revision(run: ScenarioRun) -> int:
    body = run.apis[0].request("GET", "/api/v1/health").json()
    return int(body["revision"])


def _journal_revisions(run: ScenarioRun, above: int) -> list[int]:
    """The revisions of every commit above `above`, from the project's journal."""
    from taskmaster.compose import Settings, file_url, open_storage

    storage = open_storage(run.target.storage or file_url(run.target.tasks_file), Settings())
    try:
        return [int(e["revision"]) for e in storage.history(above)]
    finally:
        storage.close()
