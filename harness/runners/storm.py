"""Planned concurrent writes: N writer processes x M operations over owned tasks.

Each writer owns its own tasks, so the checker can say exactly which value must survive; the
writers still share the one file, which is all it takes to lose updates. Each operation picks
its channel (a `tm` process, an API request to a random instance, the core in the writer's own
process) and its kind (update a title to a unique token, set a status, add a task with a
unique title) from the weights in the scenario file, with the run's seed.
"""

from __future__ import annotations

import random
from typing import Any

from harness.history import WRITE
from harness.processes import Proc
from harness.runners.base import STATUSES, ScenarioRun


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    names = [name for name, weight in weights.items() if weight > 0]
    return rng.choices(names, weights=[weights[n] for n in names])[0]


def owned_tasks(writer: int, per_writer: int, first: int) -> list[int]:
    return [first + writer * per_writer + k for k in range(per_writer)]


def plan(
    rng: random.Random,
    writer: int,
    tasks: list[int],
    ops: int,
    channels: dict[str, float],
    mix: dict[str, float],
    instances: int,
) -> list[dict[str, Any]]:
    steps = []
    status = dict.fromkeys(tasks, "pending")
    for index in range(ops):
        channel = pick(rng, channels if instances else {**channels, "api": 0})
        kind = pick(rng, mix)
        task = rng.choice(tasks)
        token = f"w{writer}-{index}"
        if kind == "set-status":
            choice = rng.choice([s for s in STATUSES if s != status[task]])
            status[task] = choice
            write = {"op": "set-status", "task": task, "value": {"status": choice}}
        elif kind == "add":
            write = {"op": "add", "value": {"title": f"{token}-add"}}
        else:
            write = {"op": "update", "task": task, "value": {"title": token}}
        step: dict[str, Any] = {"channel": channel, "write": write}
        if channel == "api":
            step["instance"] = rng.randrange(instances)
        steps.append(step)
    return steps


def start_writers(
    run: ScenarioRun,
    storm: dict[str, Any],
    *,
    first_task: int,
    phase: str,
    start_flag: str,
    stop_flag: str | None = None,
) -> tuple[list[Proc], int]:
    """Spawn the planned writers (held at `start_flag`); their processes and total op count.
    With `stop_flag`, a writer stops early once that flag is set; `pause_ms` in the storm
    table spaces each writer's operations (to make a plan last through a timeline)."""
    writers = int(storm["writers"])
    ops = int(storm["ops"])
    pause_ms = float(storm.get("pause_ms", 0))
    per_writer = int(storm.get("tasks_per_writer", 2))
    channels = storm.get("channels", {"cli": 1, "api": 1, "core": 1})
    mix = storm.get("mix", {"update": 2, "set-status": 1, "add": 1})
    procs = []
    for writer in range(writers):
        steps = plan(
            run.rng,
            writer,
            owned_tasks(writer, per_writer, first_task),
            ops,
            channels,
            mix,
            len(run.apis),
        )
        if pause_ms:
            for step in steps:
                step["pause_ms"] = pause_ms
        extra = {"stop": stop_flag} if stop_flag else {}
        procs.append(
            run.spawn_worker(
                "writer", f"writer-{writer}", plan=steps, phase=phase, start=start_flag, **extra
            )
        )
    return procs, writers * ops


def worker_flags(procs: list[Proc], state: str) -> list[str]:
    """The flags these worker processes set on reaching `state` ("ready", "done"): workers
    mark `<actor>:<state>`, and a process is named after its actor."""
    return [f"{proc.name}:{state}" for proc in procs]


def tasks_needed(storm: dict[str, Any]) -> int:
    return int(storm["writers"]) * int(storm.get("tasks_per_writer", 2))


def run_storm(run: ScenarioRun, storm: dict[str, Any], *, first_task: int, phase: str) -> None:
    """Start the writers together, wait for all of them (bounded), with progress."""
    flag = f"{phase}:go"
    procs, total = start_writers(run, storm, first_task=first_task, phase=phase, start_flag=flag)
    run.barriers.wait(worker_flags(procs, "ready"), timeout=60)
    run.progress.say(
        f"{phase}: {len(procs)} writers x {storm['ops']} ops over "
        f"{', '.join(k for k, v in storm.get('channels', {}).items() if v)}"
    )
    run.barriers.mark(flag)
    with run.monitor(total, (WRITE,)):
        run.wait_all(procs, timeout=float(storm.get("timeout_s", 180)))


def several_instances(run: ScenarioRun) -> int:
    """The scenario's `instances`, at least 2: these scenarios are about several servers."""
    instances = int(run.params.get("instances", 2))
    if instances < 2:
        run.note(f"instances={instances} raised to 2: this scenario needs several servers")
        instances = 2
    return instances


def spawn_readers(run: ScenarioRun, count: int, *, stop: str, phase: str) -> list[Proc]:
    """`count` reader processes: GETs of the run's tasks on random instances until `stop`."""
    return [
        run.spawn_worker(
            "reader",
            f"reader-{i}",
            tasks=run.task_ids,
            stop=stop,
            seed=run.rng.randrange(1 << 30),
            pause_ms=float(run.params.get("read_pause_ms", 2)),
            phase=phase,
        )
        for i in range(count)
    ]
