"""`postgres-outage`: the PostgreSQL server goes away (SIGKILL of the postmaster) in the middle
of a run and comes back on the same port and data.

K `tm serve --storage URL` instances (each in an empty directory of its own), writer processes
(API requests over every instance, `tm --storage URL` commands, and direct writes through the
library in the writer's own long-lived process) and reader processes run the whole time:

    before   `before_ms` of traffic with the server up
    outage   the postmaster and its backends SIGKILLed; `outage_ms` of traffic with no server
             (on taskmaster the instances' /api/v1/health is polled meanwhile: when does each
             say its storage is in error?)
    back     the server restarted on the same port and data (crash recovery from the WAL); on
             taskmaster every instance's health must say storage "ok" again within
             `recover_within_s`, without a restart
    after    until every writer process had a write it started after the restart
             acknowledged (at most `recover_within_s`), then `after_ms` more traffic; then
             the writers stop and every instance is read once

Errors while the server is away are expected: they are counted (in the notes and the row's
failed figures), never a failure by themselves. A write refused then must not have been
applied (the checker treats it as never written); one whose connection broke during COMMIT is
recorded as unknown. What must hold: nothing acknowledged is lost, no read after an ack returns
an older value (an instance must not answer from its cache while it cannot check the
project's revision), reads never go backwards, every instance and every writer process
recovers on its own ("recovers": each writer gets a write acknowledged again within
`recover_within_s` of the restart), and all converge. The naive servers (on the naive database
store) keep their never-invalidated caches: they serve stale reads before, during and after
the outage, which is the failure this scenario shows on the baseline.
"""

from __future__ import annotations

import http.client
import threading
import time
from typing import Any

from harness.actors import ApiClient
from harness.history import FAIL, INFO, OK, READ, WRITE, Op, now_ns, read_history
from harness.runners.base import ScenarioRun
from harness.runners.redis_support import health
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
    server = run.postgres
    if server is None:
        raise RuntimeError('postgres-outage needs `backend = "postgresql"` in its file')
    instances = several_instances(run)
    readers = int(params.get("readers", 2))
    before_s = float(params.get("before_ms", 500)) / 1000
    outage_s = float(params.get("outage_ms", 1500)) / 1000
    after_s = float(params.get("after_ms", 1000)) / 1000
    within = float(params.get("recover_within_s", 10))

    run.init_project(tasks_needed(storm))
    run.start_servers(instances)
    run.read_everywhere(run.task_ids, "warm")

    readers_stop, writers_stop, go = "readers:stop", "writers:stop", f"{PHASE}:go"
    reader_procs = spawn_readers(run, readers, stop=readers_stop, phase=PHASE)
    writers, _ = start_writers(
        run, storm, first_task=1, phase=PHASE, start_flag=go, stop_flag=writers_stop
    )
    run.barriers.wait(worker_flags(writers + reader_procs, "ready"), timeout=60)
    run.progress.say(
        f"{len(writers)} writers and {readers} readers over {instances} instances; PostgreSQL "
        f"killed after {before_s:g} s, back {outage_s:g} s later"
    )
    run.barriers.mark(go)
    with run.monitor(None, (WRITE, READ)):
        time.sleep(before_s)
        killed = now_ns()
        pid = server.pid
        server.kill()
        run.event("postmaster SIGKILLed", pid=pid, port=server.port)
        watchers = _during_outage(run, killed, outage_s)
        server.restart()
        restarted = now_ns()
        run.event("postmaster restarted", pid=server.pid, port=server.port)
        for thread in watchers:
            thread.join(timeout=30)
        recovered = wait_storage_state(run.apis, "ok", within) if run.target.safe else {}
        # The check allows each writer `within` seconds: the run must last that long for a
        # writer whose request was still waiting out the outage when the server came back.
        wait_writers_recovered(run, [w.name for w in writers], restarted, within)
        time.sleep(after_s)
        run.barriers.mark(writers_stop)
        finished_early = [w.name for w in writers if not w.alive()]
        run.wait_all(writers, timeout=float(storm.get("timeout_s", 120)))
    run.barriers.mark(readers_stop)
    run.wait_all(reader_procs, timeout=30)
    ops = read_history(run.dir)
    run.config["outage"] = {"windows": [[killed, restarted]]}
    run.config["recovery"] = {
        "within_s": within,
        "what": "storage ok",
        "server": "PostgreSQL",
        "instances": {str(i): state for i, state in recovered.items()},
        "writers": writer_recovery(ops, [w.name for w in writers], restarted),
    }
    run.final(settle_s=float(params.get("settle_ms", 100)) / 1000)

    _note_outage(run, ops, killed, restarted, outage_s)
    if finished_early:
        run.note(f"{', '.join(finished_early)} ran out of plan before the end: raise storm.ops")
    _note_recovery(run, run.config.pop("detected", {}), recovered)


def storage_state(api: ApiClient) -> tuple[int | None, str | None]:
    """(HTTP status, `storage.state`) of one instance's health (None: no answer)."""
    status, body = health(api)
    storage = body.get("storage")
    return status, storage.get("state") if isinstance(storage, dict) else None


def wait_storage_state(
    apis: list[ApiClient], state: str, timeout: float, poll_s: float = 0.05
) -> dict[int, dict[str, Any]]:
    """Poll each instance's health until its `storage.state` is `state` (and, for "ok", the
    answer is a 200) or `timeout` passes: per instance, the `seconds` it took (None: never)
    and the `last` health seen."""
    started = time.monotonic()
    found: dict[int, dict[str, Any]] = {}
    pending = {api.index: api for api in apis}
    while True:
        for index, api in list(pending.items()):
            try:
                status, seen = storage_state(api)
            except (OSError, http.client.HTTPException) as err:  # pragma: no cover - health
                status, seen = None, f"{type(err).__name__}"
            found[index] = {"seconds": None, "last": {"http": status, "storage": seen}}
            if seen == state and (state != "ok" or status == 200):
                found[index]["seconds"] = round(time.monotonic() - started, 3)
                del pending[index]
        if not pending or time.monotonic() - started >= timeout:
            return found
        time.sleep(poll_s)


def wait_writers_recovered(
    run: ScenarioRun, writers: list[str], restarted: int, within: float, poll_s: float = 0.1
) -> None:
    """Until every writer process has a write acknowledged that it started after the restart,
    or `within` seconds from the restart have passed (the history files are flushed per op)."""
    deadline = restarted + int(within * 1e9)
    while now_ns() < deadline:
        states = writer_recovery(read_history(run.dir), writers, restarted)
        if all(state["seconds"] is not None for state in states.values()):
            return
        time.sleep(poll_s)


def writer_recovery(ops: list[Op], writers: list[str], restarted: int) -> dict[str, Any]:
    """Per writer process: seconds from the restart to the end of its first write started
    after it and acknowledged (None: none), and how many it attempted after the restart."""
    out: dict[str, Any] = {}
    for name in writers:
        after = sorted(
            (op for op in ops if op.kind == WRITE and op.actor == name and op.start >= restarted),
            key=lambda op: op.start,
        )
        first = next((op for op in after if op.outcome == OK and op.end is not None), None)
        seconds = None if first is None else round(((first.end or 0) - restarted) / 1e9, 3)
        out[name] = {"seconds": seconds, "writes_after": len(after)}
    return out


def _during_outage(run: ScenarioRun, killed: int, outage_s: float) -> list[threading.Thread]:
    """Keep the server away `outage_s`; on taskmaster, watch each instance's health meanwhile
    (how long until it says its storage is in error), one thread per instance: a health
    request waits for the pool's connect timeout while the server is away, so the watching
    runs beside the clock and may end after the restart (join the threads, then read
    `run.config["detected"]`)."""
    found: dict[str, dict[str, Any]] = {}
    run.config["detected"] = found

    def watch(api: ApiClient) -> None:
        state = wait_storage_state([api], "error", timeout=outage_s * 0.8)
        found[str(api.index)] = state[api.index]

    watchers = [
        threading.Thread(target=watch, args=(api,), name=f"health-{api.index}", daemon=True)
        for api in (run.apis if run.target.safe else [])
    ]
    for thread in watchers:
        thread.start()
    left = outage_s - (now_ns() - killed) / 1e9
    if left > 0:
        time.sleep(left)
    return watchers


def _counts(ops: list[Op]) -> str:
    ok = sum(op.outcome == OK for op in ops)
    failed = sum(op.outcome == FAIL for op in ops)
    unknown = sum(op.outcome == INFO for op in ops)
    text = f"{ok} ok, {failed} refused"
    return text + (f", {unknown} outcome unknown" if unknown else "")


def _note_outage(
    run: ScenarioRun, ops: list[Op], killed: int, restarted: int, outage_s: float
) -> None:
    # in flight while the server was away: started before it came back, ended after the kill
    # (a request that began just before the kill waits out the outage as much as a later one)
    during = [
        op
        for op in ops
        if op.kind in (READ, WRITE)
        and op.phase == PHASE
        and op.start <= restarted
        and (op.end is None or op.end >= killed)
    ]
    writes = [op for op in during if op.kind == WRITE]
    reads = [op for op in during if op.kind == READ]
    channels = sorted({op.channel or "?" for op in writes})
    run.note(
        f"in flight while PostgreSQL was away ({(restarted - killed) / 1e9:.1f} s): "
        f"{len(writes)} writes "
        f"via {'+'.join(channels) or 'nothing'} ({_counts(writes)}), {len(reads)} reads "
        f"({_counts(reads)}); errors then are expected"
    )
    if not writes or not reads:
        raise RuntimeError(
            f"no {'write' if not writes else 'read'} ran while PostgreSQL was away: the run "
            f"proves nothing about the outage (outage_ms {outage_s * 1000:g} too short?)"
        )
    recovery = run.config["recovery"]["writers"]
    late = {name: state for name, state in recovery.items() if state["seconds"] is None}
    times = [state["seconds"] for state in recovery.values() if state["seconds"] is not None]
    if times:
        run.note(
            f"every writer process had a write acknowledged again "
            f"{max(times):.2f} s after the restart at the latest"
            if not late
            else f"writers without a write acknowledged after the restart: {sorted(late)}"
        )


def _note_recovery(
    run: ScenarioRun, detected: dict[str, dict[str, Any]], recovered: dict[int, dict[str, Any]]
) -> None:
    if not run.target.safe:
        return
    down = [s["seconds"] for s in detected.values()]
    if down and all(s is not None for s in down):
        codes = sorted({str(s["last"].get("http")) for s in detected.values()})
        run.note(
            f"health said storage error on every instance {max(down):.2f} s after the kill "
            f"(HTTP {'/'.join(codes)})"
        )
    else:
        late = {i: s["last"] for i, s in detected.items() if s["seconds"] is None}
        run.note(f"health did not say storage error during the outage on instance(s) {late}")
    up = [s["seconds"] for s in recovered.values()]
    if up and all(s is not None for s in up):
        run.note(f"health said storage ok again on every instance {max(up):.2f} s after restart")
