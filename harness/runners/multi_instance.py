"""`multi-instance`: K API servers on one project, writes spread over all of them and over
`tm`, reader processes reading from all of them the whole time.

After the writers finish (and a short settle), every instance is read once more: they must all
agree with the file ("converged"). Reads during the run must never be stale or go backwards.

With `redis = true` the run starts its own redis-server first and every process (servers,
writers, their `tm` commands) gets TM_REDIS_URL: events cross instances over Redis pub/sub and
the instances share an L2 cache. On taskmaster every instance must report Redis up in its
health before the storm (else the run would not test Redis at all); the pub/sub and L2 figures
of /metrics go into the row's notes. The naive servers ignore Redis: per-process caches still.

With `backend = "postgresql"` each instance runs in an empty directory of its own with
`--storage URL` and no Redis: the database is all they share (LISTEN/NOTIFY for early
invalidation, the project's revision for every cached answer). The run checks that no task
file appeared in any of those directories, and notes the change events each instance saw.
"""

from __future__ import annotations

from harness.history import WRITE
from harness.runners.base import ScenarioRun
from harness.runners.redis_support import note_redis_metrics, redis_metrics, require_redis_up
from harness.runners.storm import (
    several_instances,
    spawn_readers,
    start_writers,
    tasks_needed,
    worker_flags,
)


def run(run: ScenarioRun) -> None:
    params = run.params
    storm = params["storm"]
    instances = several_instances(run)
    readers = int(params.get("readers", 2))
    redis = bool(params.get("redis", False))
    if redis:
        run.use_redis()
    run.init_project(tasks_needed(storm))
    run.start_servers(instances)
    if redis:
        require_redis_up(run, float(params.get("redis_up_timeout_s", 10)))
    run.read_everywhere(run.task_ids, "warm")

    stop = "readers:stop"
    reader_procs = spawn_readers(run, readers, stop=stop, phase="storm")
    flag = "storm:go"
    writers, total = start_writers(run, storm, first_task=1, phase="storm", start_flag=flag)
    run.barriers.wait(worker_flags(writers + reader_procs, "ready"), timeout=60)
    run.progress.say(
        f"{len(writers)} writers x {storm['ops']} ops and {readers} readers over "
        f"{instances} instances"
    )
    run.barriers.mark(flag)
    with run.monitor(total, (WRITE,)):
        run.wait_all(writers, timeout=float(storm.get("timeout_s", 180)))
    run.barriers.mark(stop)
    run.wait_all(reader_procs, timeout=30)
    run.final(settle_s=float(params.get("settle_ms", 100)) / 1000)
    if redis:
        note_redis_metrics(run)
    if run.target.database:
        _check_no_task_file(run, instances)


def _check_no_task_file(run: ScenarioRun, instances: int) -> None:
    folders = [run.target.root, *(run.instance_dir(i) for i in range(instances))]
    found = [str(path) for folder in folders for path in folder.rglob("tasks.json")]
    if found:
        raise RuntimeError(f"a task file appeared although the project is in PostgreSQL: {found}")
    text = f"{len(folders)} directories (project + one per instance), no task file in any"
    if run.target.safe:
        events = redis_metrics(run, ["tm_events_total"])["tm_events_total"]
        seen = "/".join("-" if v is None else f"{v:g}" for v in events)
        text += f"; change events seen per instance (tm_events_total), no Redis: {seen}"
    run.note(text)
