"""`double-claim`: agents race for the tasks of one pool; each task must go to exactly one.

N agent processes (a mix of `tm` commands, the REST API over K instances, `tm mcp` sessions
and the facade, as the file's `[agents]` table says) start at one barrier and, for up to
`rounds` rounds each, take a task, think, write their work to it and release it done, until
nothing is left (`harness.claimer`). The pool holds `rounds` tasks per agent.

taskmaster: `claim` (one transaction) -> the work write with the claim's token -> release
with status done. No task may ever have two live claims, every claimed task is worked exactly
once, every release is in the final document's claimHistory, tokens increase in the order the
claims were made, and no write lands under a dead token (`harness.claims_check`).

baseline: the same agents on the same real stack (`baseline_stack = "taskmaster"`), the way
agents work without claims: `next` -> think -> `set-status ID in-progress` -> the work write ->
`set-status ID done`. Two agents that ran `next` before either started the task both start it
(and `next` offers a task in progress again): double claims, counted.

The run is an error when it proves nothing: a front end of the mix with no acknowledged
acquisition, a step refused or unanswered, or (taskmaster) no two claims that raced in time.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.actors import read_document
from harness.claims_check import (
    ACQUIRE,
    CLAIMS,
    NEXT,
    RELEASE,
    WORK,
    check_one_holder,
    double_claimed_tasks,
    step_of,
)
from harness.history import OK, Op, read_history
from harness.processes import Proc, tail
from harness.runners.base import ScenarioRun
from harness.runners.mixed_frontends import _wait_flags
from harness.runners.storm import worker_flags
from harness.targets import SAFE

PHASE = "race"
GO = f"{PHASE}:go"


def protocol(run: ScenarioRun) -> str:
    """`claim` on taskmaster, `naive` (next, then set-status) on the baseline."""
    return "claim" if run.target.name == SAFE else "naive"


def spawn_claimer(
    run: ScenarioRun, actor: str, channel: str, *, instance: int = 0, **spec: Any
) -> Proc:
    return run.spawn_worker(
        "claimer",
        actor,
        channel=channel,
        instance=instance,
        protocol=spec.pop("protocol", protocol(run)),
        phase=spec.pop("phase", PHASE),
        log=str(run.dir / "logs" / f"tm-mcp-{actor}.log"),
        **spec,
    )


def record_claims(run: ScenarioRun) -> Op:
    """The document's claims now (each task's status, details, live claim and ended ones;
    each tag's token counter), for `releases-recorded` and `tokens-increase`."""
    document = read_document(run.target)
    tasks: dict[str, Any] = {}
    sequences: dict[str, Any] = {}
    tags = document if "tasks" not in document else {"master": document}
    for tag, value in tags.items():
        if not isinstance(value, dict):
            continue
        metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
        sequences[tag] = metadata.get("claimSequence")
        for task in value.get("tasks") or ():
            meta = task.get("metadata") if isinstance(task.get("metadata"), dict) else {}
            tasks[str(task.get("id"))] = {
                "status": task.get("status"),
                "details": task.get("details"),
                "claim": meta.get("claim"),
                "claimHistory": meta.get("claimHistory") or [],
            }
    return run.history.record(
        CLAIMS, channel="file", value={"tasks": tasks, "sequences": sequences}
    )


def run(run: ScenarioRun) -> None:
    params = run.params
    mix: dict[str, int] = {k: int(v) for k, v in params["agents"].items() if int(v) > 0}
    instances = int(params.get("instances", 2))
    rounds = int(params.get("rounds", 3))
    # Each agent takes at most `rounds` tasks, and the pool holds exactly that many for all:
    # every agent, on every front end, gets its share however slow its front end.
    run.init_project(sum(mix.values()) * rounds)
    common = {
        "rounds": rounds,
        "lease_s": float(params.get("lease_s", 60)),
        "think_ms": float(params.get("think_ms", 100)),
        "work_ms": float(params.get("work_ms", 50)),
        "start": GO,
    }
    plan = [(channel, n) for channel, count in mix.items() for n in range(count)]
    names = {(channel, n): f"agent-{index}-{channel}" for index, (channel, n) in enumerate(plan)}
    procs: list[Proc] = []
    # MCP sessions first (starting `tm mcp` is the long pole), then the servers, then the
    # API agents, which need the servers' ports.
    for channel, n in plan:
        if channel != "api":
            procs.append(spawn_claimer(run, names[(channel, n)], channel, **common))
    if "api" in mix:
        run.start_servers(instances)
    for channel, n in plan:
        if channel == "api":
            procs.append(
                spawn_claimer(run, names[(channel, n)], channel, instance=n % instances, **common)
            )
    _wait_flags(run, worker_flags(procs, "ready"), procs, float(params.get("ready_timeout_s", 60)))
    how = "claim, work, release" if run.target.name == SAFE else "next, set-status in-progress"
    run.progress.say(
        f"{len(procs)} agents ({', '.join(f'{n} {c}' for c, n in mix.items())}) race for "
        f"{len(run.task_ids)} tasks: {how}"
    )
    run.barriers.mark(GO)
    with run.monitor(None):
        late = run.wait_all(procs, timeout=float(params.get("timeout_s", 120)))
    run.stop_servers()
    run.snapshot("final")
    record_claims(run)
    crashed(procs)
    _report(run, mix, late)


def crashed(procs: list[Proc]) -> None:
    """An agent process that failed makes the run an error, with the end of its log."""
    for proc in procs:
        code = proc.popen.poll()
        if code not in (0, None):
            raise RuntimeError(f"{proc.name} exited with {code}: {tail(proc, 3)}")


def _report(run: ScenarioRun, mix: dict[str, int], late: list[Proc]) -> None:
    ops = [op for op in read_history(run.dir) if op.phase == PHASE]
    steps = [op for op in ops if step_of(op) is not None]
    acquired = [op for op in steps if step_of(op) == ACQUIRE and op.outcome == OK and op.key]
    works = [op for op in steps if step_of(op) == WORK and op.outcome == OK]
    releases = [op for op in steps if step_of(op) == RELEASE and op.outcome == OK]
    by_channel = Counter(op.channel for op in acquired)
    channels = ", ".join(f"{by_channel.get(c, 0)} via {c}" for c in mix)
    started = Counter(op.key for op in acquired)
    final = read_document(run.target)
    tasks = final["master"]["tasks"] if "master" in final else final["tasks"]
    done = sum(t.get("status") == "done" for t in tasks)
    doubles = double_claimed_tasks(ops)
    pairs = len(check_one_holder(ops))
    if run.target.name == SAFE:
        tokens = sorted(int(op.info["token"]) for op in acquired if op.info.get("token"))
        shown = f"{tokens[0]}..{tokens[-1]}" if tokens else "none"
        run.note(
            f"{len(acquired)} claims acknowledged ({channels}), {len(works)} work writes "
            f"with their token, {len(releases)} releases; {_raced(acquired)} claims were in "
            f"flight while another agent's was; tokens {shown} ({len(set(tokens))} distinct); "
            f"{done}/{len(tasks)} tasks done"
        )
    else:
        offered = [op for op in steps if step_of(op) == NEXT and op.outcome == OK and op.key]
        busy = sum((op.value or {}).get("status") == "in-progress" for op in offered)
        run.note(
            f"{len(acquired)} starts (set-status in-progress after next; {channels}) on "
            f"{len(started)} tasks; {pairs} times two agents held one task at once, on "
            f"{len(doubles)} tasks (up to {max(map(len, doubles.values()), default=0)} agents "
            f"on one); {len(works)} work writes; {done}/{len(tasks)} tasks done"
        )
        run.note(
            f"of the {len(offered)} tasks `next` offered, {len(offered) - busy} were still "
            f"pending (the race between next and set-status) and {busy} already in progress "
            "(next offers those too)"
        )
    _guard(run, mix, steps, acquired, late, pairs)


def _raced(acquired: list[Op]) -> int:
    """Acquisitions that were in flight while another agent's was."""
    count = 0
    for op in acquired:
        if any(
            other.actor != op.actor
            and other.start < (op.end or op.start)
            and (other.end or other.start) > op.start
            for other in acquired
        ):
            count += 1
    return count


def _guard(
    run: ScenarioRun,
    mix: dict[str, int],
    steps: list[Op],
    acquired: list[Op],
    late: list[Proc],
    pairs: int,
) -> None:
    if late:
        raise RuntimeError(f"{', '.join(p.name for p in late)} did not finish: raise timeout_s")
    failed = [op for op in steps if op.outcome != OK]
    if failed:
        op = failed[0]
        raise RuntimeError(
            f"{len(failed)} steps were refused or unanswered, e.g. {op.actor}'s "
            f"{step_of(op)} via {op.channel}: {op.error} (see logs/)"
        )
    silent = [c for c in mix if not any(op.channel == c for op in acquired)]
    if silent:
        raise RuntimeError(
            f"no acquisition through {', '.join(silent)} was acknowledged: the run proves "
            "nothing about that front end (more tasks or rounds?)"
        )
    if run.target.name == SAFE and not _raced(acquired):
        raise RuntimeError("no two claims were in flight at once: the race never happened")
    if run.target.name != SAFE:
        run.event(f"{pairs} pairs of agents held one task at once")
