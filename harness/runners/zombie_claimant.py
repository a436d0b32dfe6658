"""`zombie-claimant`: an agent paused past its lease comes back and writes with its old claim.

Agent A claims task T with a short lease (`lease_s`) and, while it thinks, is SIGSTOPped for
`stopped_s` (longer than the lease). Agent B then claims T (A's claim is recorded as expired
by B's claiming transaction), writes its work and keeps its claim. A is SIGCONTed and writes
its work, under its old token; B then releases T done. Each agent is a worker process on the
front end its `[actors]` entry names (`harness.claimer`).

taskmaster: A's write carries its token and is refused (claim lost: T is B's now); B's work
is what the task holds at the end (`fenced-writes`, and the claim invariants).

baseline: the same, on the same real stack, without fencing: A writes without the token, as a
tool without fencing tokens would (leases alone cannot stop a zombie, which does not know its
lease ran out). Its write lands over B's: a write under a dead token, and B's work lost.

The run is an error when the interleaving did not happen: A not stopped before its write, B's
claim not acknowledged, or A's write not after B's.
"""

from __future__ import annotations

import signal
import time
from typing import Any

from harness.actors import read_document
from harness.claims_check import ACQUIRE, WORK, step_of
from harness.history import OK, Op, read_history
from harness.processes import Proc, stat_fields
from harness.runners.base import ScenarioRun
from harness.runners.double_claim import crashed, record_claims, spawn_claimer
from harness.runners.mixed_frontends import _wait_flags
from harness.runners.storm import worker_flags
from harness.targets import SAFE

PHASE = "zombie"


def _state(proc: Proc) -> str:
    """The process's state letter (`T`: stopped), from /proc."""
    fields = stat_fields(proc.pid)
    return fields[0] if fields is not None else "?"


def _wait_stopped(proc: Proc, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _state(proc) in ("T", "t"):
            return True
        time.sleep(0.002)
    return False


def run(run: ScenarioRun) -> None:
    params = run.params
    actors: dict[str, Any] = run.scenario.actors
    channels = {name: actors[name]["channel"] for name in ("A", "B")}
    task = str(params.get("task", 1))
    lease = float(params["lease_s"])
    stopped = float(params["stopped_s"])
    if stopped <= lease:
        raise ValueError(f"stopped_s ({stopped:g}) must outlast lease_s ({lease:g})")
    run.init_project(int(params.get("tasks", 3)))
    apis = sum(channel == "api" for channel in channels.values())
    if apis:
        run.start_servers(max(1, apis))
    fenced = run.target.name == SAFE
    names = {name: f"{name}-{channel}" for name, channel in channels.items()}
    a_go, b_go = f"{PHASE}:a-go", f"{PHASE}:b-go"
    common: dict[str, Any] = {"task": task, "rounds": 1, "phase": PHASE, "protocol": "claim"}
    zombie = spawn_claimer(
        run,
        names["A"],
        channels["A"],
        start=a_go,
        lease_s=lease,
        think_ms=float(params.get("think_ms", 500)),
        work_ms=0,
        release=False,
        fenced=fenced,
        **common,
    )
    holder = spawn_claimer(
        run,
        names["B"],
        channels["B"],
        instance=apis - 1 if apis else 0,
        start=b_go,
        lease_s=float(params.get("holder_lease_s", 60)),
        think_ms=0,
        work_ms=0,
        hold=f"{names['A']}:wrote",
        release=True,
        fenced=fenced,
        **common,
    )
    procs = [zombie, holder]
    timeout = float(params.get("timeout_s", 30))
    _wait_flags(run, worker_flags(procs, "ready"), procs, float(params.get("ready_timeout_s", 60)))
    run.progress.say(
        f"A ({channels['A']}) claims task {task} for {lease:g} s and is stopped {stopped:g} s; "
        f"B ({channels['B']}) claims it meanwhile; A comes back and writes"
        + ("" if fenced else " without its token")
    )
    run.barriers.mark(a_go)
    _wait_flags(run, [f"{names['A']}:claimed"], procs, timeout)
    zombie.signal_group(signal.SIGSTOP)
    if not _wait_stopped(zombie):
        raise RuntimeError(f"{zombie.name} did not stop on SIGSTOP (state {_state(zombie)})")
    token = run.barriers.read(f"{names['A']}:claimed")
    run.event(f"{zombie.name} SIGSTOPped, holding token {token}", pid=zombie.pid)
    time.sleep(stopped)
    run.barriers.mark(b_go)
    try:
        _wait_flags(run, [f"{names['B']}:wrote"], [holder], timeout)
    finally:
        # Whatever happened to B, A must not stay stopped (it would hold up the reaping).
        zombie.signal_group(signal.SIGCONT)
        run.event(f"{zombie.name} SIGCONTed", pid=zombie.pid)
    late = run.wait_all(procs, timeout=timeout)
    crashed(procs)
    run.stop_servers()
    run.snapshot("final")
    record_claims(run)
    _report(run, names, channels, task, lease, stopped, late)


def _one(ops: list[Op], actor: str, step: str) -> Op | None:
    found = [op for op in ops if op.actor == actor and step_of(op) == step]
    return found[0] if found else None


def _report(
    run: ScenarioRun,
    names: dict[str, str],
    channels: dict[str, str],
    task: str,
    lease: float,
    stopped: float,
    late: list[Proc],
) -> None:
    ops = [op for op in read_history(run.dir) if op.phase == PHASE]
    a_claim, b_claim = _one(ops, names["A"], ACQUIRE), _one(ops, names["B"], ACQUIRE)
    a_write, b_write = _one(ops, names["A"], WORK), _one(ops, names["B"], WORK)
    if late:
        raise RuntimeError(f"{', '.join(p.name for p in late)} did not finish")
    for what, op in (("A's claim", a_claim), ("B's claim", b_claim), ("B's write", b_write)):
        if op is None or op.outcome != OK:
            error = op.error if op is not None else "never made"
            raise RuntimeError(f"{what} was not acknowledged: {error}")
    assert a_claim is not None and b_claim is not None and b_write is not None
    if a_write is None:
        raise RuntimeError("A never wrote after it was resumed")
    if a_write.start <= (b_write.end or 0):
        raise RuntimeError("A wrote before B's write was acknowledged: no zombie write")
    a_token, b_token = a_claim.info.get("token"), b_claim.info.get("token")
    outcome = f"refused ({a_write.error})" if a_write.outcome != OK else "acknowledged: it landed"
    document = read_document(run.target)
    tasks = document["master"]["tasks"] if "master" in document else document["tasks"]
    final = next((t for t in tasks if str(t.get("id")) == task), {})
    holds = (
        "B's"
        if final.get("details") == (b_write.value or {}).get("details")
        else (
            "A's" if final.get("details") == (a_write.value or {}).get("details") else "neither's"
        )
    )
    run.note(
        f"A ({channels['A']}) claimed task {task} (token {a_token}, lease {lease:g} s) and was "
        f"SIGSTOPped {stopped:g} s; B ({channels['B']}) claimed it (token {b_token}) "
        f"{(b_claim.start - (a_claim.end or 0)) / 1e9:.2f} s after A and wrote"
    )
    run.note(
        f"A resumed and wrote {'with' if a_write.info.get('fenced') else 'without'} token "
        f"{a_token}: {outcome}"
    )
    run.note(
        f"task {task} at the end: {final.get('status')}, details {final.get('details')!r} "
        f"({holds} work)"
    )
