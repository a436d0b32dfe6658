"""`stale-cache`: the documents' cache invalidation timeline, round after round.

Every API instance first serves the task (so a cache holds it). Then `tm set-status` changes
it, and the moment the CLI process has exited (the acknowledgement) every instance is read at
the offsets the file gives (0, 5 and 100 ms in the documents). A read that starts after the
acknowledgement and returns the old status is stale. The naive servers keep the old answer
for their 5-minute TTL.
"""

from __future__ import annotations

from harness.runners.base import ScenarioRun


def run(run: ScenarioRun) -> None:
    params = run.params
    task = int(params.get("task", 1))
    run.init_project(int(params.get("tasks", 3)))
    run.start_servers(max(1, int(params.get("instances", 2))))
    offsets = [float(x) for x in params.get("read_offsets_ms", [0, 5, 100])]
    statuses = list(params.get("statuses", ["done", "in-progress", "review"]))
    channel = params.get("writer", "cli")
    rounds = int(params.get("rounds", len(statuses)))
    run.read_everywhere([task], "warm")
    fresh_after: list[float] = []
    fresh_at_zero = 0
    with run.monitor(rounds * (1 + len(run.apis) * len(offsets))):
        for index in range(rounds):
            status = statuses[index % len(statuses)]
            write = run.actor.write(
                channel,
                {"op": "set-status", "task": task, "value": {"status": status}},
                phase=f"round-{index}",
            )
            reads = run.read_everywhere([task], f"round-{index}", offsets)
            if write.outcome != "ok":
                run.note(f"round {index}: the write failed: {write.error}")
                continue
            for instance in range(len(run.apis)):
                seen = [
                    r
                    for r in reads
                    if r.instance == instance
                    and r.outcome == "ok"
                    and r.value.get("status") == status
                ]
                if seen:
                    first = min(seen, key=lambda r: r.start)
                    fresh_after.append(((first.end or first.start) - (write.end or 0)) / 1e6)
                    fresh_at_zero += first.info.get("offset_ms") == offsets[0]
    if fresh_after:
        fresh_after.sort()
        run.note(
            f"the first read ({offsets[0]:g} ms after the ack) was already fresh on "
            f"{fresh_at_zero}/{rounds * len(run.apis)} instance-rounds; ack -> fresh answer "
            f"received: median {fresh_after[len(fresh_after) // 2]:.1f} ms, "
            f"max {fresh_after[-1]:.1f} ms"
        )
    never = rounds * len(run.apis) - len(fresh_after)
    if never:
        run.note(f"{never} instance-rounds never served the new status within {max(offsets):g} ms")
    run.final()
