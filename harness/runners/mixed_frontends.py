"""`mixed-frontends`: every front end writes to one project at the same time.

An AI agent on the MCP server (an agent worker drives the real `tm mcp` through the SDK's stdio
client: set_task_status, update_task, add_task, and get_task reads), writer processes running
`tm` commands and API requests over K >= 2 `tm serve` instances, reader processes on the
instances and a file observer, all at once. Each writer and each agent owns its tasks; readers
(the API ones and the agent's get_task) read any task. After the storm every instance and every
agent reads every task once more: they must all agree with the file ("converged").

On the baseline the agent talks to the reference tool's MCP server as it behaves
(`harness.baseline.NaiveAgent`, in the agent's process, without the protocol): tasks loaded
once when the session began, every answer from that copy, the whole copy written back after
each change. Its get_task answers go stale as soon as another front end writes, and each of its
writes puts back what the others had changed since it loaded the file.

The run is an error when it proves nothing about the MCP front end: on taskmaster, no MCP write
or no MCP read acknowledged during the storm, or none of them while another front end was
writing; on the baseline, an agent that showed neither a stale read nor a write-back over
writes the others had acknowledged.
"""

from __future__ import annotations

import random
import time
from typing import Any

from harness.checker import check
from harness.history import EVENT, OK, READ, WRITE, Op, read_history
from harness.processes import Proc, tail
from harness.runners.base import STATUSES, ScenarioRun
from harness.runners.storm import (
    pick,
    several_instances,
    spawn_readers,
    start_writers,
    tasks_needed,
    worker_flags,
)

PHASE = "storm"
MCP = "mcp"


def agent_plan(
    rng: random.Random,
    agent: int,
    own: list[int],
    everything: list[int],
    calls: int,
    read_share: float,
    mix: dict[str, float],
) -> list[dict[str, Any]]:
    """`calls` tool calls: a get_task of any task with probability `read_share`, else a write
    to one of the agent's own tasks (titles are unique tokens `mcp<agent>-<n>`)."""
    steps: list[dict[str, Any]] = []
    status = dict.fromkeys(own, "pending")
    for index in range(calls):
        if rng.random() < read_share:
            steps.append({"read": rng.choice(everything)})
            continue
        kind = pick(rng, mix)
        task = rng.choice(own)
        token = f"mcp{agent}-{index}"
        if kind == "set-status":
            status[task] = rng.choice([s for s in STATUSES if s != status[task]])
            write = {"op": "set-status", "task": task, "value": {"status": status[task]}}
        elif kind == "add":
            write = {"op": "add", "value": {"title": f"{token}-add"}}
        else:
            write = {"op": "update", "task": task, "value": {"title": token}}
        steps.append({"write": write})
    return steps


def run(run: ScenarioRun) -> None:
    params = run.params
    storm, agent = params["storm"], params["agent"]
    instances = several_instances(run)
    readers = int(params.get("readers", 2))
    agents = int(agent.get("agents", 1))
    per_agent = int(agent.get("tasks_per_agent", 2))
    first_agent_task = tasks_needed(storm) + 1
    run.init_project(tasks_needed(storm) + agents * per_agent)

    go, stop, final = f"{PHASE}:go", "agents:stop", "agents:final"
    readers_stop = "readers:stop"
    # The agents first: opening a session (the SDK and `tm mcp` starting, ~2 s) is the long
    # pole; it overlaps the servers' start and the warm-up reads.
    agent_procs = _spawn_agents(run, agent, agents, per_agent, first_agent_task, go, stop, final)
    run.start_servers(instances)
    run.read_everywhere(run.task_ids, "warm")
    writers, _ = start_writers(run, storm, first_task=1, phase=PHASE, start_flag=go)
    ready = worker_flags(writers + agent_procs, "ready")
    _wait_flags(run, ready, agent_procs, float(agent.get("ready_timeout_s", 60)))
    # The readers read from the moment they start: not while the agents start (CPU is short).
    reader_procs = spawn_readers(run, readers, stop=readers_stop, phase=PHASE)
    watchers: list[Proc] = list(reader_procs)
    if params.get("observer", True):
        watchers.append(
            run.spawn_worker(
                "observer",
                "observer",
                stop=readers_stop,
                pause_ms=float(params.get("observe_pause_ms", 5)),
            )
        )
    _wait_flags(run, worker_flags(reader_procs, "ready"), watchers, 60)
    server = "tm mcp" if run.target.safe else "the naive agent server"
    run.progress.say(
        f"{agents} agent(s) on {server}, {len(writers)} writers x {storm['ops']} ops "
        f"(tm + API) and {readers} readers over {instances} instances"
    )
    run.barriers.mark(go)
    with run.monitor(None, (WRITE,)):
        run.wait_all(writers, timeout=float(storm.get("timeout_s", 180)))
        run.barriers.mark(stop)
        done = worker_flags(agent_procs, "done")
        _wait_flags(run, done, agent_procs, float(agent.get("timeout_s", 60)))
    run.barriers.mark(readers_stop)
    run.wait_all(watchers, timeout=30)
    # Every write is done: every instance reads every task, then every agent does, then the
    # file is looked at.
    time.sleep(float(params.get("settle_ms", 100)) / 1000)
    run.read_everywhere(run.task_ids, "final")
    run.barriers.mark(final)
    run.wait_all(agent_procs, timeout=float(agent.get("timeout_s", 60)))
    run.snapshot("final")
    _report(run, agents)


def _spawn_agents(
    run: ScenarioRun,
    agent: dict[str, Any],
    agents: int,
    per_agent: int,
    first_task: int,
    go: str,
    stop: str,
    final: str,
) -> list[Proc]:
    procs = []
    for index in range(agents):
        own = [first_task + index * per_agent + k for k in range(per_agent)]
        plan = agent_plan(
            run.rng,
            index,
            own,
            run.task_ids,
            int(agent.get("calls", 500)),
            float(agent.get("read_share", 0.5)),
            agent.get("mix", {"update": 2, "set-status": 1, "add": 1}),
        )
        procs.append(
            run.spawn_worker(
                "agent",
                f"agent-{index}",
                plan=plan,
                tasks=run.task_ids,
                start=go,
                stop=stop,
                final=final,
                pause_ms=float(agent.get("pause_ms", 10)),
                phase=PHASE,
                log=str(run.dir / "logs" / f"tm-mcp-{index}.log"),
            )
        )
    return procs


def _wait_flags(run: ScenarioRun, flags: list[str], procs: list[Proc], timeout: float) -> None:
    """Wait for `flags`; fail at once if one of `procs` exits first (an agent whose `tm mcp`
    did not start, say) rather than after the whole timeout."""
    deadline = time.monotonic() + timeout
    while not run.barriers.wait(flags, timeout=0.1):
        dead = [proc for proc in procs if not proc.alive()]
        if dead:
            proc = dead[0]
            raise RuntimeError(
                f"{proc.name} exited with {proc.popen.returncode}: {tail(proc)} "
                "(its server's log: logs/tm-mcp-*.log)"
            )
        if time.monotonic() > deadline:
            missing = [name for name in flags if not run.barriers.is_set(name)]
            raise RuntimeError(f"not set after {timeout:g} s: {', '.join(missing)}")


def _report(run: ScenarioRun, agents: int) -> None:
    ops = read_history(run.dir)
    storm = [op for op in ops if op.phase == PHASE and op.kind in (READ, WRITE)]
    mcp_writes = [op for op in storm if op.kind == WRITE and op.channel == MCP]
    mcp_reads = [op for op in storm if op.kind == READ and op.channel == MCP]
    others = [op for op in storm if op.kind == WRITE and op.channel != MCP and op.outcome == OK]
    by_channel = {
        channel: sum(op.channel == channel for op in others) for channel in ("cli", "api")
    }
    mcp_ok = [op for op in mcp_writes + mcp_reads if op.outcome == OK]
    overlapping = {
        channel: sum(_overlaps(op, [o for o in others if o.channel == channel]) for op in mcp_ok)
        for channel in ("cli", "api")
    }
    run.note(
        f"MCP ({'tm mcp' if run.target.safe else 'naive agent'}, {agents} agent(s)): "
        f"{_ok(mcp_writes)}/{len(mcp_writes)} writes and {_ok(mcp_reads)}/{len(mcp_reads)} "
        f"get_task reads acknowledged; {overlapping['cli']} of them overlapped a `tm` write, "
        f"{overlapping['api']} an API write (others acknowledged: {by_channel['cli']} tm, "
        f"{by_channel['api']} API)"
    )
    _note_planned(run, ops)
    result = check(ops, ["no-stale-read", "converged"])
    stale = [
        v
        for v in result.violations
        if v.anomaly == "stale-read" and v.ops and v.ops[0].channel == MCP
    ]
    unconverged = [
        v for v in result.violations if v.anomaly == "not-converged" and v.ops[0].channel == MCP
    ]
    if run.target.safe:
        if not _ok(mcp_writes) or not _ok(mcp_reads):
            raise RuntimeError(
                "no MCP write or no MCP read was acknowledged during the storm: the run "
                "proves nothing about the MCP front end (see logs/tm-mcp-*.log)"
            )
        if not any(overlapping.values()):
            raise RuntimeError(
                "no MCP call overlapped another front end's write: raise storm.ops or agent.calls"
            )
        return
    reverted = _reverted(ops)
    run.note(
        f"naive agent: {len(stale)} of its get_task answers stale, {len(unconverged)} final "
        f"reads still off the file; its write-backs of the copy it loaded at start reverted "
        f"{len(reverted)} writes other front ends had acknowledged "
        f"({sum(op.channel == 'cli' for op in reverted)} tm, "
        f"{sum(op.channel == 'api' for op in reverted)} API)"
    )
    if not stale and not reverted:
        raise RuntimeError(
            "the naive agent showed neither a stale read nor a write-back over acknowledged "
            "writes: the run proves nothing about the MCP front end"
        )


def _ok(ops: list[Op]) -> int:
    return sum(op.outcome == OK for op in ops)


def _overlaps(op: Op, others: list[Op]) -> bool:
    end = op.end or op.start
    return any(o.start < end and (o.end or o.start) > op.start for o in others)


def _note_planned(run: ScenarioRun, ops: list[Op]) -> None:
    for op in ops:
        info = op.info or {}
        if op.kind == EVENT and "planned" in info and info["calls"] >= info["planned"]:
            run.note(f"{op.actor} ran out of plan before the writers finished: raise agent.calls")


def _reverted(ops: list[Op]) -> list[Op]:
    """Writes of other front ends that a naive agent's write-back definitely overwrote: started
    after the agent loaded its copy and acknowledged before the write-back began, so the copy
    cannot hold them (each agent owns its tasks: its own writes never touch theirs)."""
    loaded = {
        op.actor: op.info["loaded_at"]
        for op in ops
        if op.kind == EVENT and "loaded_at" in (op.info or {})
    }
    others = [op for op in ops if op.kind == WRITE and op.channel != MCP and op.outcome == OK]
    found: dict[str, Op] = {}
    for back in ops:
        if back.kind != WRITE or back.channel != MCP or back.outcome != OK:
            continue
        since = loaded.get(back.actor)
        if since is None:
            continue
        for op in others:
            if op.start > since and (op.end or 0) < back.start:
                found[op.id] = op
    return list(found.values())
