"""`redis-outage`: Redis dies (SIGKILL) in the middle of a run and comes back later.

K API servers started with TM_REDIS_URL; writer processes (API requests over every instance,
and `tm` commands, also with TM_REDIS_URL) and reader processes run the whole time:

    before   `before_ms` of traffic with Redis up
    outage   redis-server SIGKILLed; `outage_ms` of traffic with Redis gone (on taskmaster,
             each instance's /api/v1/health is polled meanwhile: when does it say "down"?)
    back     redis-server restarted on the same port, empty; on taskmaster every instance's
             health must report redis "up" again within `recover_within_s`, without a restart
    after    `after_ms` more traffic; then the writers stop and every instance is read once

Invariants: no read that starts after a write's acknowledgement returns an older value, nothing
acknowledged is lost, not one request fails ("available": Redis is a helper, never the source
of truth), every instance recovers on its own ("recovers"), and all converge. The naive servers
do not use Redis at all: their per-process caches serve stale reads whether Redis is up or not,
which is the failure this scenario shows on the baseline.
"""

from __future__ import annotations

import time
from typing import Any

from harness.history import OK, READ, WRITE, Op, now_ns, read_history
from harness.runners.base import ScenarioRun
from harness.runners.redis_support import (
    note_redis_metrics,
    require_redis_up,
    wait_redis_state,
)
from harness.runners.storm import (
    several_instances,
    spawn_readers,
    start_writers,
    tasks_needed,
    worker_flags,
)

PHASE = "storm"


def run(run: ScenarioRun) -> None:
    params = run.params
    storm = params["storm"]
    instances = several_instances(run)
    readers = int(params.get("readers", 2))
    before_s = float(params.get("before_ms", 500)) / 1000
    outage_s = float(params.get("outage_ms", 1500)) / 1000
    after_s = float(params.get("after_ms", 1000)) / 1000
    within = float(params.get("recover_within_s", 10))

    redis = run.use_redis()
    run.init_project(tasks_needed(storm))
    run.start_servers(instances)
    require_redis_up(run, float(params.get("redis_up_timeout_s", 10)))
    run.read_everywhere(run.task_ids, "warm")
    run.config["available_phases"] = [PHASE]

    readers_stop, writers_stop, go = "readers:stop", "writers:stop", f"{PHASE}:go"
    reader_procs = spawn_readers(run, readers, stop=readers_stop, phase=PHASE)
    writers, _ = start_writers(
        run, storm, first_task=1, phase=PHASE, start_flag=go, stop_flag=writers_stop
    )
    run.barriers.wait(worker_flags(writers + reader_procs, "ready"), timeout=60)
    run.progress.say(
        f"{len(writers)} writers and {readers} readers over {instances} instances; Redis "
        f"killed after {before_s:g} s, back {outage_s:g} s later"
    )
    run.barriers.mark(go)
    with run.monitor(None, (WRITE, READ)):
        time.sleep(before_s)
        killed = now_ns()
        redis.kill()
        run.event("redis-server SIGKILLed", port=redis.port)
        detected = _during_outage(run, killed, outage_s)
        restarted = now_ns()
        redis.restart()
        run.event("redis-server restarted", port=redis.port, pid=redis.pid)
        recovered = wait_redis_state(run.apis, "up", within) if run.target.safe else {}
        time.sleep(after_s)
        run.barriers.mark(writers_stop)
        finished_early = [w.name for w in writers if not w.alive()]
        run.wait_all(writers, timeout=float(storm.get("timeout_s", 120)))
    run.barriers.mark(readers_stop)
    run.wait_all(reader_procs, timeout=30)
    run.config["outage"] = {"windows": [[killed, restarted]]}
    if run.target.safe:
        run.config["recovery"] = {
            "within_s": within,
            "instances": {str(i): state for i, state in recovered.items()},
        }
    run.final(settle_s=float(params.get("settle_ms", 100)) / 1000)

    _note_outage(run, killed, restarted, outage_s)
    if finished_early:
        run.note(f"{', '.join(finished_early)} ran out of plan before the end: raise storm.ops")
    if run.target.safe:
        _note_health(run, detected, recovered, within)
        note_redis_metrics(run)


def _during_outage(run: ScenarioRun, killed: int, outage_s: float) -> dict[int, dict[str, Any]]:
    """Keep the outage `outage_s` long; on taskmaster, watch the instances' health meanwhile
    (how long until each says Redis is down)."""
    found: dict[int, dict[str, Any]] = {}
    if run.target.safe:
        found = wait_redis_state(run.apis, "down", timeout=outage_s * 0.8)
    left = outage_s - (now_ns() - killed) / 1e9
    if left > 0:
        time.sleep(left)
    return found


def _note_outage(run: ScenarioRun, killed: int, restarted: int, outage_s: float) -> None:
    ops = [
        op
        for op in read_history(run.dir)
        if op.kind in (READ, WRITE) and op.phase == PHASE and killed <= op.start <= restarted
    ]
    writes = [op for op in ops if op.kind == WRITE]
    reads = [op for op in ops if op.kind == READ]
    channels = sorted({op.channel for op in writes if op.outcome == OK})
    run.note(
        f"while Redis was down ({(restarted - killed) / 1e9:.1f} s): {len(writes)} writes "
        f"({_ok(writes)} ok, via {'+'.join(channels) or 'nothing'}), {len(reads)} reads "
        f"({_ok(reads)} ok)"
    )
    if not writes or not reads:
        raise RuntimeError(
            f"no {'write' if not writes else 'read'} ran while Redis was down: the run proves "
            f"nothing about the outage (outage_ms {outage_s * 1000:g} too short?)"
        )


def _ok(ops: list[Op]) -> int:
    return sum(op.outcome == OK for op in ops)


def _note_health(
    run: ScenarioRun,
    detected: dict[int, dict[str, Any]],
    recovered: dict[int, dict[str, Any]],
    within: float,
) -> None:
    down = [s["seconds"] for s in detected.values()]
    if down and all(s is not None for s in down):
        statuses = sorted({str(s["last"].get("status")) for s in detected.values()})
        codes = sorted({str(s["last"].get("http")) for s in detected.values()})
        run.note(
            f"health said redis down on every instance {max(down):.2f} s after the kill "
            f"(status {'/'.join(statuses)}, HTTP {'/'.join(codes)})"
        )
    else:
        late = {i: s["last"] for i, s in detected.items() if s["seconds"] is None}
        run.note(f"health did not say redis down during the outage on instance(s) {late}")
    up = [s["seconds"] for s in recovered.values()]
    if up and all(s is not None for s in up):
        run.note(f"health said redis up again on every instance {max(up):.2f} s after restart")
    else:
        run.note(f"not every instance reported redis up within {within:g} s of the restart")
