"""`lock-holder-dies`: a writer is SIGKILLed in the middle of its write; the others carry on.

First one acknowledged write per channel (something to lose). Then the holder, the target's
real CLI with a probe, stops in the middle of writing (taskmaster: temp file written, rename
pending, the lock held; the naive stack has no lock, so its writer is half way through its
in-place write). While it holds on, one writer per channel starts (`tm`, the API, a direct core
writer); after `hold_ms` the holder is killed. Every contender must then finish, promptly,
and nothing acknowledged may be missing at the end.
"""

from __future__ import annotations

import threading

from harness.actors import cli_args, write_key
from harness.history import WRITE, Op, now_ns
from harness.runners.base import ScenarioRun


def run(run: ScenarioRun) -> None:
    params = run.params
    channels = list(params.get("channels", ["cli", "api", "core"]))
    run.init_project(1 + len(channels))
    run.start_servers(max(1, int(params.get("instances", 1))))
    run.config["expect_ok_phases"] = ["contend", "after"]
    hold = float(params.get("hold_ms", 300)) / 1000
    tasks = {channel: 2 + i for i, channel in enumerate(channels)}

    def update(channel: str, phase: str) -> Op:
        spec = {"op": "update", "task": tasks[channel], "value": {"title": f"{phase}-{channel}"}}
        return run.actor.write(channel, spec, instance=0, phase=phase)

    for channel in channels:
        update(channel, "before")

    spec = {"op": "set-status", "task": 1, "value": {"status": "done"}}
    held = run.history.op(
        WRITE, actor="holder", channel="cli", key=write_key(spec), value=spec["value"], phase="held"
    )
    run.history.pending(held)  # killed before it could finish: outcome unknown
    holder = run.spawn_hooked("holder", "mid-write", cli_args(spec))
    if not run.barriers.wait("holder:paused", timeout=20):
        holder.kill()
        raise RuntimeError("the holder never reached its pause point")
    if "core" in channels:
        _ = run.actor.core  # opened here, not racing in the threads
    results: list[Op] = []
    threads = [
        threading.Thread(target=lambda c=channel: results.append(update(c, "contend")), daemon=True)
        for channel in channels
    ]
    for thread in threads:
        thread.start()
    threading.Event().wait(hold)
    killed_at = now_ns()
    holder.kill()
    run.event("SIGKILL holder (it held the write)")
    for thread in threads:
        thread.join(timeout=60)
    waited = [op for op in results if op.end is not None and op.end > killed_at]
    resumed = [((op.end or 0) - killed_at) / 1e6 for op in waited if op.outcome == "ok"]
    run.note(
        f"held {hold * 1000:g} ms then SIGKILL: {len(waited)}/{len(results)} contenders were "
        f"still waiting; {sum(op.outcome == 'ok' for op in results)}/{len(results)} succeeded"
        + (f", the last {max(resumed):.0f} ms after the kill" if resumed else "")
    )
    failed = [f"{op.channel}: {op.error}" for op in results if op.outcome != "ok"]
    if failed:
        run.note("refused: " + "; ".join(failed))
    for channel in channels:
        update(channel, "after")
    run.final()
