"""`crash`: writers killed with SIGKILL at random moments, then once at the worst moment.

Random part: W writer processes add tasks (with padding, so a write takes a while) in a loop
through the channels the file lists; every few tens of milliseconds one of them (with any `tm`
process it started) is SIGKILLed and restarted, and the file is looked at after each kill. An
observer process parses the file continuously the whole time.

Forced part: the target's real CLI with a probe stops in the middle of writing the task file
(taskmaster: temp file written, rename not done, lock held; naive: truncated and half
written) and is SIGKILLed there. Then one more ordinary write must still work.
"""

from __future__ import annotations

import json
import time

from harness.actors import cli_args, write_key
from harness.history import WRITE
from harness.processes import Proc
from harness.runners.base import ScenarioRun


def run(run: ScenarioRun) -> None:
    params = run.params
    pad = "x" * int(params.get("pad_bytes", 2000))
    run.init_project(int(params.get("tasks", 5)), pad=pad)
    observer = None
    if params.get("observer", True):
        observer = run.spawn_worker("observer", "observer", stop="observer:stop", pause_ms=1)
    random_kills(run, pad)
    if params.get("forced", True):
        forced_kill(run, pad)
    if observer is not None:
        run.barriers.mark("observer:stop")
        run.wait_all([observer], timeout=10)
    run.final()


def random_kills(run: ScenarioRun, pad: str) -> None:
    params = run.params
    writers = int(params.get("writers", 2))
    kills = int(params.get("kills", 6))
    low, high = params.get("kill_after_ms", [20, 200])
    channels = list(params.get("channels", ["core"]))
    generation: dict[int, int] = {}
    procs: dict[int, Proc] = {}

    def spawn(index: int) -> None:
        generation[index] = generation.get(index, -1) + 1
        name = f"writer-{index}.{generation[index]}"
        procs[index] = run.spawn_worker(
            "writer",
            name,
            loop=True,
            crashable=True,
            channels=channels,
            pad=pad,
            stop="writers:stop",
            seed=run.rng.randrange(1 << 30),
            phase="random",
        )
        run.barriers.wait(f"{name}:ready", timeout=30)

    for index in range(writers):
        spawn(index)
    torn = 0
    run.progress.say(f"{writers} writers over {', '.join(channels)}; {kills} SIGKILLs")
    with run.monitor(None, (WRITE,)):
        for _ in range(kills):
            time.sleep(run.rng.uniform(low, high) / 1000)
            index = run.rng.randrange(writers)
            victim = procs[index]
            victim.kill()
            run.event(f"SIGKILL {victim.name}", pid=victim.pid)
            look = run.observe(phase="after-kill")
            torn += not look.value.get("parses")
            spawn(index)
    run.barriers.mark("writers:stop")
    run.wait_all(procs.values(), timeout=30)
    run.note(f"{kills} random SIGKILLs; the file did not parse after {torn} of them")


def forced_kill(run: ScenarioRun, pad: str) -> None:
    if not run.observe(phase="before-forced").value.get("parses"):
        run.note("the random kills had already torn the file: the probed writer cannot read it")
    spec = {"op": "add", "value": {"title": "killed-mid-write", "details": pad}}
    op = run.history.op(
        WRITE,
        actor="killed",
        channel="cli",
        key=write_key(spec),
        value=dict(spec["value"]),
        phase="forced",
    )
    run.history.pending(op)  # never completed: its outcome stays unknown, as it should
    proc = run.spawn_hooked("killed", "mid-write", cli_args(spec))
    if run.barriers.wait("killed:paused", timeout=20):
        where = json.loads(run.barriers.read("killed:paused") or "{}").get("where", "")
        proc.kill()
        run.event("SIGKILL killed (mid-write)", where=where)
        look = run.observe(phase="after-kill")
        temps = sorted(p.name for p in run.target.tasks_file.parent.glob(".tasks.json.*.tmp"))
        state = "still parses" if look.value.get("parses") else "is TORN"
        run.note(
            f"SIGKILL {where}: the file {state}"
            + (f"; {len(temps)} orphan temp file(s) left" if temps else "")
        )
    else:
        code = proc.kill()
        run.note(f"the probed writer never reached its pause point (exit {code})")
    after = run.actor.write(
        "cli", {"op": "add", "value": {"title": "after-the-crash", "details": ""}}, phase="after"
    )
    temps = list(run.target.tasks_file.parent.glob(".tasks.json.*.tmp"))
    run.note(
        f"next write after the kill: {after.outcome}"
        + (f" ({after.error})" if after.error else "")
        + (f"; {len(temps)} temp file(s) remain" if temps else "; no temp file remains")
    )
