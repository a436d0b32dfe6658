"""`rate-limit`: no more requests accepted than the configured budget per window.

The instances are started with the budget (`TM_RATE_LIMIT`, e.g. `20/minute`) and then sent
a burst of requests well inside one window; the checker counts, over any window-long span,
the requests that were accepted. The naive server has no limiter at all.
"""

from __future__ import annotations

from harness.history import Op
from harness.runners.base import ScenarioRun

WINDOWS = {"second": 1, "minute": 60, "hour": 3600}


def run(run: ScenarioRun) -> None:
    params = run.params
    budget = int(params.get("budget", 20))
    window = params.get("window", "minute")
    instances = max(1, int(params.get("instances", 1)))
    requests = int(params.get("requests", 2 * budget))
    limit = f"{budget}/{window}"
    run.config["rate_limit"] = {
        "budget": budget,
        "window_s": WINDOWS[window],
        "shared": bool(params.get("shared", False)),
    }
    run.config["limit_phases"] = ["burst"]
    run.init_project(int(params.get("tasks", 3)))
    env = {"TM_RATE_LIMIT": limit}
    if params.get("storage"):
        env["TM_RATE_LIMIT_STORAGE"] = str(params["storage"])  # e.g. redis:// to share it
    run.start_servers(instances, env=env)
    ops: list[Op] = []
    with run.monitor(requests):
        for index in range(requests):
            task = run.task_ids[index % len(run.task_ids)]
            ops.append(run.actor.read(task, instance=index % instances, phase="burst"))
    accepted = sum(op.outcome == "ok" for op in ops)
    limited = sum(op.info.get("status") == 429 for op in ops)
    span = ((ops[-1].end or 0) - ops[0].start) / 1e9 if ops else 0
    run.note(
        f"{requests} requests in {span:.2f} s against {limit} on {instances} instance(s): "
        f"{accepted} accepted, {limited} answered 429"
    )
    if accepted == 0:
        run.note("nothing was accepted at all: the limiter (or the server) refuses everything")
    run.final()
