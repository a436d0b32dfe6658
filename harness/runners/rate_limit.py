"""`rate-limit`: no more requests accepted than the configured budget per window, counted over
every instance together.

The instances are started with the budget (`TM_RATE_LIMIT`, e.g. `20/minute`; the naive
servers read `NAIVE_RATE_LIMIT`) and then sent a burst of requests, round robin over the
instances, well inside one window; the checker counts, over any window-long span, the requests
that were accepted (all instances together when `shared = true`).

With `redis = true` the run starts its own redis-server and gives the servers TM_REDIS_URL:
taskmaster's limiter then counts in that Redis, one budget for every instance. The naive
servers count in their own memory: K instances accept about K x the budget, the design
documents' "two instances with 100 req/min each allow 200 req/min in total".
"""

from __future__ import annotations

from harness.baseline import RATE_LIMIT_ENV
from harness.history import Op
from harness.runners.base import ScenarioRun
from harness.runners.redis_support import require_redis_up

WINDOWS = {"second": 1, "minute": 60, "hour": 3600}


def run(run: ScenarioRun) -> None:
    params = run.params
    budget = int(params.get("budget", 20))
    window = params.get("window", "minute")
    instances = max(1, int(params.get("instances", 1)))
    requests = int(params.get("requests", 2 * budget))
    redis = bool(params.get("redis", False))
    limit = f"{budget}/{window}"
    if redis:
        run.use_redis()
    run.config["rate_limit"] = {
        "budget": budget,
        "window_s": WINDOWS[window],
        "shared": bool(params.get("shared", False)),
    }
    run.config["limit_phases"] = ["burst"]
    run.init_project(int(params.get("tasks", 3)))
    env = {"TM_RATE_LIMIT": limit, RATE_LIMIT_ENV: limit}
    if params.get("storage"):
        env["TM_RATE_LIMIT_STORAGE"] = str(params["storage"])  # another shared store
    run.start_servers(instances, env=env)
    if redis:
        require_redis_up(run, float(params.get("redis_up_timeout_s", 10)))
    ops: list[Op] = []
    with run.monitor(requests):
        for index in range(requests):
            task = run.task_ids[index % len(run.task_ids)]
            ops.append(run.actor.read(task, instance=index % instances, phase="burst"))
    accepted = sum(op.outcome == "ok" for op in ops)
    limited = sum(op.info.get("status") == 429 for op in ops)
    per_instance = [
        sum(op.outcome == "ok" for op in ops if op.instance == i) for i in range(instances)
    ]
    span = ((ops[-1].end or 0) - ops[0].start) / 1e9 if ops else 0
    if not run.target.safe:
        where = "each naive instance counting in its own memory"
    else:
        where = "one budget in Redis" if redis else f"storage {params.get('storage', 'memory')}"
    run.note(
        f"{requests} requests in {span:.2f} s against {limit} ({where}) on {instances} "
        f"instance(s): {accepted} accepted ({'+'.join(map(str, per_instance))}), "
        f"{limited} answered 429"
    )
    if accepted == 0:
        run.note("nothing was accepted at all: the limiter (or the server) refuses everything")
    run.final()
