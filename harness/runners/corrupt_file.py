"""`corrupt-file`: the task file stops being valid JSON while everything is running.

The instances have served the tasks (caches warm) and a write has gone through. Then the file
is corrupted in place (the file says how: cut short, a merge-conflict marker...). Every writer
(`tm`, each API instance, a direct core writer) must refuse, the bytes must stay exactly as
they are, and the API must answer a clear 503 problem instead of data. The file is repaired
(its last good bytes put back by temp + rename) and every channel must work again, every
instance serving fresh data.
"""

from __future__ import annotations

import hashlib

from harness.actors import file_state
from harness.runners.base import ScenarioRun

CORRUPT = "corrupt"
REPAIRED = "repaired"


def corrupted(good: bytes, how: str) -> bytes:
    if how == "truncate":
        return good[: len(good) * 2 // 3]
    if how == "conflict-marker":
        lines = good.splitlines(keepends=True)
        middle = len(lines) // 2
        return b"".join([*lines[:middle], b"<<<<<<< HEAD\n", *lines[middle:]])
    if how == "garbage":
        return b"\x00\x00 not json \xff\n"
    raise ValueError(f"unknown corruption {how!r}")


def run(run: ScenarioRun) -> None:
    params = run.params
    run.init_project(int(params.get("tasks", 3)))
    run.start_servers(max(1, int(params.get("instances", 2))))
    run.config["refuse_phases"] = [CORRUPT]
    run.config["expect_ok_phases"] = [REPAIRED]
    offsets = [float(x) for x in params.get("read_offsets_ms", [0, 5, 100])]
    channels = list(params.get("channels", ["cli", "api", "core"]))
    how = params.get("corruption", "truncate")
    run.read_everywhere(run.task_ids, "warm")
    attempt(run, channels, "before", 1, "in-progress")
    run.read_everywhere(run.task_ids, "before", offsets)

    good = run.target.tasks_file.read_bytes()
    bad = corrupted(good, how)
    editor = run.spawn_worker(
        "editor", "corrupter", mode="in-place", content=bad.decode("latin-1"), phase="corrupting"
    )
    run.wait_all([editor], timeout=30)
    bad = run.target.tasks_file.read_bytes()  # what is there now: the bytes that must stay
    bad_sha = hashlib.sha256(bad).hexdigest()
    run.event(
        f"file corrupted ({how})", sha=bad_sha, parses=file_state(run.target.tasks_file)["parses"]
    )
    writes = attempt(run, channels, CORRUPT, 2, "done")
    reads = run.read_everywhere(run.task_ids, CORRUPT)
    run.observe(phase=CORRUPT, expect_sha=bad_sha)
    statuses = sorted({str(r.info.get("status")) for r in reads})
    run.note(
        f"corrupt ({how}): {sum(w.outcome != 'ok' for w in writes)}/{len(writes)} writes "
        f"refused; reads answered HTTP {', '.join(statuses)}"
    )

    repair = run.spawn_worker(
        "editor", "repairer", mode="replace", content=good.decode("latin-1"), phase="repair"
    )
    run.wait_all([repair], timeout=30)
    run.event("file repaired (last good bytes, temp + rename)")
    writes = attempt(run, channels, REPAIRED, 3, "review")
    run.read_everywhere(run.task_ids, REPAIRED, offsets)
    run.note(
        f"repaired: {sum(w.outcome == 'ok' for w in writes)}/{len(writes)} writes went through"
    )
    run.final()


def attempt(run: ScenarioRun, channels: list[str], phase: str, task: int, status: str) -> list:
    """One write through every channel (each API instance counts as one)."""
    ops = []
    for channel in channels:
        instances = range(len(run.apis)) if channel == "api" else [None]
        for instance in instances:
            spec = {
                "op": "update",
                "task": task,
                "value": {"title": f"{phase}-{channel}-{instance}"},
            }
            if channel == "cli":
                spec = {"op": "set-status", "task": task, "value": {"status": status}}
            ops.append(run.actor.write(channel, spec, instance=instance, phase=phase))
    return ops
