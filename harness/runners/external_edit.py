"""`external-edit`: another program rewrites the task file under the running instances.

Steps come from the file, in order; each is one edit by the editor process:

    mode = "in-place"  truncate and write, as an editor saving over the file does. With
                       `pause = true` the editor stops half way (the file is then half written)
                       while the harness reads from every instance, tries to write through the
                       CLI and the API, and looks at the bytes; then it lets the editor finish.
    mode = "replace"   write a temp file and rename it over the task file.

After each edit every instance is read at the given offsets after the editor finished. Reads
must reflect the edit; nothing may serve the half-written bytes as data or write over them.
"""

from __future__ import annotations

from typing import Any

from harness.runners.base import ScenarioRun

HALF = "half-written"


def run(run: ScenarioRun) -> None:
    params = run.params
    run.init_project(int(params.get("tasks", 3)))
    run.start_servers(max(1, int(params.get("instances", 2))))
    run.config["refuse_phases"] = [HALF]
    offsets = [float(x) for x in params.get("read_offsets_ms", [0, 5, 100])]
    run.read_everywhere(run.task_ids, "warm")
    for index, step in enumerate(params.get("steps", [])):
        edit(run, index, step, offsets)
    for index, write in enumerate(params.get("then", [])):
        op = run.actor.write(write.get("channel", "cli"), write, phase="after-edits", instance=0)
        run.read_everywhere([int(write["task"])], f"after-write-{index}", offsets)
        run.note(f"write after the edits ({op.channel}): {op.outcome}")
    run.final()


def edit(run: ScenarioRun, index: int, step: dict[str, Any], offsets: list[float]) -> None:
    task = int(step["task"])
    fields = {
        k: (v.format(seed=run.seed) if isinstance(v, str) else v) for k, v in step["set"].items()
    }
    name = f"editor-{index}"
    pause = bool(step.get("pause", False))
    spec: dict[str, Any] = {
        "mode": step["mode"],
        "key": f"task/{task}",
        "fields": fields,
        "phase": f"edit-{index}",
    }
    if pause:
        spec.update(pause_at=f"{name}:half", resume_on=f"{name}:go")
    proc = run.spawn_worker("editor", name, **spec)
    if pause:
        if not run.barriers.wait(f"{name}:half", timeout=20):
            run.note(f"{name} never reached its half-way point")
        else:
            half_sha = run.barriers.read(f"{name}:half")
            during_half_write(run, task, half_sha)
        run.barriers.mark(f"{name}:go")
    run.wait_all([proc], timeout=30)
    run.read_everywhere(run.task_ids, f"after-edit-{index}", offsets)
    run.note(
        f"edit {index}: {step['mode']}{' with a pause half way' if pause else ''}, "
        f"task {task} {fields}"
    )


def during_half_write(run: ScenarioRun, task: int, half_sha: str) -> None:
    """The file is half written: read everywhere, try to write, check the bytes stay."""
    reads = run.read_everywhere(run.task_ids, HALF)
    other = next((t for t in run.task_ids if t != task), task)
    writes = [
        run.actor.write(
            "cli", {"op": "set-status", "task": other, "value": {"status": "done"}}, phase=HALF
        )
    ]
    for instance in range(len(run.apis)):
        writes.append(
            run.actor.write(
                "api",
                {"op": "set-status", "task": other, "value": {"status": "review"}},
                instance=instance,
                phase=HALF,
            )
        )
    run.observe(phase=HALF, expect_sha=half_sha)
    served = sum(r.outcome == "ok" for r in reads)
    statuses = sorted({str(r.info.get("status")) for r in reads})
    refused = sum(w.outcome != "ok" for w in writes)
    run.note(
        f"while half written: {served}/{len(reads)} reads answered with data "
        f"(HTTP {', '.join(statuses)}), {refused}/{len(writes)} writes refused"
    )
