"""`crash`: writers killed with SIGKILL at random moments, then once at the worst moment.

Random part: W writer processes add tasks (with padding, so a write takes a while) in a loop
through the channels the file lists; every few tens of milliseconds one of them (with any `tm`
process it started) is SIGKILLed and restarted, and the file is looked at after each kill. An
observer process parses the file continuously the whole time.

Forced part: the target's real CLI with a probe stops in the middle of writing the task file
(taskmaster: temp file written, rename not done, lock held; naive: truncated and half
written) and is SIGKILLed there. Then one more ordinary write must still work.

On PostgreSQL (`backend = "postgresql"`) "the file parses" is "the project reads" (exported
from the database), and after `postgres_kill_after` writer kills the postmaster itself is
SIGKILLed, left down `postgres_down_ms`, and restarted on the same port and data while the
writers keep going: what they were refused meanwhile is recorded as refused (or unknown, when
the connection broke during COMMIT), and nothing acknowledged may be missing afterwards. The
forced kill stops the CLI inside its transaction, its rows written and the project's row
locked, before COMMIT (the naive store: between its read and its write-back).
"""

from __future__ import annotations

import json
import time
from typing import Any

from harness.actors import cli_args, read_document, write_key
from harness.history import FAIL, INFO, OBSERVE, OK, WRITE, now_ns, read_history
from harness.journal_check import JOURNAL_CHANNEL, journal_record
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
    if run.target.safe:
        record_journal(run)


def record_journal(run: ScenarioRun) -> None:
    """The journal and the final document, for the checker's `journal-agrees` (taskmaster
    only: the naive store keeps no journal)."""
    from taskmaster.compose import Settings, file_url, open_storage

    url = run.target.storage or file_url(run.target.tasks_file)
    value: dict[str, Any]
    try:
        storage = open_storage(url, Settings())
        try:
            entries = storage.history(0)
        finally:
            storage.close()
        value = journal_record(entries, read_document(run.target), run.task_ids)
    except Exception as err:  # recorded: the check reports a journal it could not read
        value = {"error": f"{type(err).__name__}: {err}"}
    run.history.record(OBSERVE, channel=JOURNAL_CHANNEL, value=value, phase="final")
    if "entries" in value:
        run.note(f"journal: {len(value['entries'])} entries at the end")


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
    postmaster_at = int(params.get("postgres_kill_after", -1)) if run.postgres else -1
    run.progress.say(
        f"{writers} writers over {', '.join(channels)}; {kills} SIGKILLs"
        + (f", and the postmaster's after {postmaster_at}" if postmaster_at >= 0 else "")
    )
    with run.monitor(None, (WRITE,)):
        for number in range(kills):
            if number == postmaster_at:
                torn += kill_postmaster(run)
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
    what = "the project did not read" if run.target.database else "the file did not parse"
    run.note(f"{kills} random SIGKILLs; {what} after {torn} of them")


def kill_postmaster(run: ScenarioRun) -> int:
    """SIGKILL the PostgreSQL postmaster (and its backends) under the writers, leave it down a
    moment, restart it on the same data; 1 if the project does not read afterwards."""
    server = run.postgres
    assert server is not None
    down_s = float(run.params.get("postgres_down_ms", 500)) / 1000
    pid = server.pid
    killed = now_ns()
    server.kill()
    run.event("SIGKILL the postmaster", pid=pid)
    time.sleep(down_s)
    server.restart()
    restarted = now_ns()
    run.event("postmaster restarted", pid=server.pid, port=server.port)
    # A pooled connection that died with the old server fails the first call after the
    # restart ("reconnects by itself on the next call"): look again until the server answers.
    deadline = time.monotonic() + 10
    look = run.observe(phase="after-postmaster-kill")
    while look.value.get("unavailable") and time.monotonic() < deadline:
        time.sleep(0.05)
        look = run.observe(phase="after-postmaster-kill")
    run.config.setdefault("outage", {"windows": []})["windows"].append([killed, restarted])
    run.note(
        f"postmaster SIGKILLed under the writers, back after {(restarted - killed) / 1e9:.1f} s "
        f"(crash recovery): the project {'reads' if look.value.get('parses') else 'DOES NOT READ'}"
    )
    return 0 if look.value.get("parses") else 1


def _outage_writes(run: ScenarioRun) -> str:
    """What the writers were told while the postmaster was away (and just after)."""
    windows = (run.config.get("outage") or {}).get("windows") or []
    if not windows:
        return ""
    ops = [
        op
        for op in read_history(run.dir)
        if op.kind == WRITE and any(lo <= op.start <= hi for lo, hi in windows)
    ]
    counts = {o: sum(op.outcome == o for op in ops) for o in (OK, FAIL, INFO)}
    return (
        f"writes started while the postmaster was away: {len(ops)} ({counts[OK]} ok, "
        f"{counts[FAIL]} refused, {counts[INFO]} outcome unknown)"
    )


def forced_kill(run: ScenarioRun, pad: str) -> None:
    outage = _outage_writes(run)
    if outage:
        run.note(outage)
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
        if run.target.database:
            state = "the project still reads" if look.value.get("parses") else "DOES NOT READ"
        else:
            state = "the file " + ("still parses" if look.value.get("parses") else "is TORN")
        run.note(
            f"SIGKILL {where}: {state}"
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
        + (
            ""
            if run.target.database
            else f"; {len(temps)} temp file(s) remain"
            if temps
            else "; no temp file remains"
        )
    )
