"""`lost-update`: the design documents' concurrent write, forced step by step, then a storm.

Forced part: the file's `interleaving` (e.g. A:read, B:read, A:write, B:write) is imposed on
real processes with barrier files. Each actor runs its target's real program with a probe in
its storage transaction (`harness.hooked`): A a CLI process, B an API server. The harness
starts an actor's operation when the actor's first event is next in the interleaving; inside
the transaction, right after reading, the probe waits until every event listed before the
actor's write has happened. Under taskmaster the lock stops B from reading while A holds it,
so A's wait times out and is recorded as such ("B could not read while A held the lock");
B then reads A's result. Under the naive stack the interleaving happens and A's update is
lost.

Storm: N writer processes x M operations (see `storm.py`).
"""

from __future__ import annotations

import threading
from typing import Any

from harness.actors import Actor, ApiClient, cli_args, write_key
from harness.history import EVENT, FAIL, INFO, OK, WRITE, read_history
from harness.processes import free_port, wait_http
from harness.runners.base import ScenarioRun
from harness.runners.storm import run_storm, tasks_needed


def run(run: ScenarioRun) -> None:
    forced = run.params.get("forced")
    storm = run.params.get("storm")
    forced_tasks = _forced_tasks(run) if forced else []
    first = max(forced_tasks, default=0) + 1
    count = first - 1 + (tasks_needed(storm) if storm else 0)
    run.init_project(count)
    if forced:
        run_forced(run, forced)
        snap = run.snapshot("after the forced interleaving")
        tasks = (snap.value or {}).get("tasks", {})
        run.note(
            ("project after it: " if run.target.database else "file after it: ")
            + ", ".join(f"task {t} {tasks.get(str(t), {}).get('status')}" for t in forced_tasks)
            + f" (A wrote {_wrote(run, 'A')}, B wrote {_wrote(run, 'B')})"
        )
    if storm:
        run.start_servers(int(storm.get("instances", 1)))
        run_storm(run, storm, first_task=first, phase="storm")
        run.stop_servers()
    run.final()


def _wrote(run: ScenarioRun, actor: str) -> str:
    write = run.scenario.actors.get(actor, {}).get("write", {})
    return f"task {write.get('task')} {write.get('value', {}).get('status')}"


def _forced_tasks(run: ScenarioRun) -> list[int]:
    return [int(a["write"]["task"]) for a in run.scenario.actors.values() if "task" in a["write"]]


def run_forced(run: ScenarioRun, forced: dict[str, Any]) -> None:
    sequence: list[str] = list(forced["interleaving"])
    timeout = float(forced.get("barrier_timeout_s", 1.0))
    actors: dict[str, dict[str, Any]] = run.scenario.actors
    order = list(dict.fromkeys(event.split(":")[0] for event in sequence))
    probe = {"sequence": sequence, "timeout": timeout}

    # API actors: a hooked API server each, up before anything starts.
    servers: dict[str, ApiClient] = {}
    for name in order:
        if actors[name]["channel"] == "api":
            port = free_port()
            proc = run.spawn_hooked(name, "barrier", run.target.serve_args(port), **probe)
            run.servers.append(proc)
            wait_http(port, "/api/v1/health", proc)
            servers[name] = ApiClient(port)

    threads: list[threading.Thread] = []
    started: set[str] = set()
    for position, event in enumerate(sequence):
        name = event.split(":")[0]
        if name in started:
            continue
        before = sequence[:position]
        if before and not run.barriers.wait(before, timeout=timeout * 2):
            missing = [e for e in before if not run.barriers.is_set(e)]
            run.event(f"starting {name} without {', '.join(missing)}", missing=missing)
        started.add(name)
        threads.append(_start_actor(run, name, actors[name], servers.get(name), probe))
    for thread in threads:
        thread.join(timeout=60)
    for client in servers.values():
        client.close()
    run.stop_servers()
    _explain(run, sequence, timeout)


def _start_actor(
    run: ScenarioRun,
    name: str,
    actor: dict[str, Any],
    server: ApiClient | None,
    probe: dict[str, Any],
) -> threading.Thread:
    spec = actor["write"]
    channel = actor["channel"]
    if channel == "cli":
        op = run.history.op(
            WRITE,
            actor=name,
            channel="cli",
            key=write_key(spec),
            value=dict(spec["value"]),
            phase="forced",
            info={"op": spec["op"]},
        )
        proc = run.spawn_hooked(name, "barrier", cli_args(spec), **probe)  # main thread

        def wait_cli() -> None:
            code = proc.popen.wait(timeout=60)
            outcome = OK if code == 0 else (INFO if code < 0 else FAIL)
            run.history.complete(op, outcome, info={**op.info, "exit": code, "probed": True})

        thread = threading.Thread(target=wait_cli, name=f"forced-{name}", daemon=True)
    elif channel == "api":
        assert server is not None
        actor_client = Actor(run.history, run.target, [server])

        def request() -> None:
            actor_client.write("api", spec, instance=0, phase="forced", actor=name)

        thread = threading.Thread(target=request, name=f"forced-{name}", daemon=True)
    else:
        raise ValueError(f"forced actors use the cli or api channel, not {channel!r}")
    thread.start()
    return thread


def _explain(run: ScenarioRun, sequence: list[str], timeout: float) -> None:
    """Turn the probes' events into the report's notes: what order really happened."""
    events = [
        op
        for op in read_history(run.dir)
        if op.kind == EVENT and op.actor.startswith("probe-") and isinstance(op.value, dict)
    ]
    happened = [op.value["event"] for op in events if op.value["event"] in sequence]
    run.note(f"forced {', '.join(sequence)}; happened {', '.join(happened)}")
    for op in events:
        name = op.value["event"]
        actor = name.split(":")[0]
        if name.endswith(":may-write") and op.info.get("timed_out"):
            others = ", ".join(op.info.get("missing", []))
            run.note(
                f"{actor} waited {op.info.get('waited_ms'):g} ms for {others} in vain: "
                f"{others.split(':')[0]} could not read while {actor} held the lock"
            )
        elif name.endswith(":read") and op.info.get("saw"):
            seen = ", ".join(f"{k}={v}" for k, v in op.info["saw"].items())
            run.note(f"{actor} read statuses {seen}")
