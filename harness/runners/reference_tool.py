"""`reference-tool`: the real task-master-ai and `tm` writing one project at once.

The project is in the reference tool's layout (`.taskmaster/tasks/tasks.json`, which `tm`
finds too). The reference's writes are real `task-master set-status` processes, one at a time,
each setting the status of a task of its own once. `tm`'s writes set the title or the details
of other tasks, each place once: `core_writers` processes writing through the facade (what
`tm` runs, at the rate that makes the races show) and `cli_writers` running real `tm
update-task` processes. They write in bursts of `burst_s` seconds, one per reference process,
let loose the moment it opens `.taskmaster/state.json` (seen with inotify; nothing else opens
it while the writers wait), which it does a few milliseconds before it reads the task file
outside its lock: so the burst covers that read, its wait for the lock and its write. (Node
takes seconds to start, and more on a loaded machine: a fixed delay would miss the moment;
without inotify the burst starts `burst_lead_s` after the process.)

After the writers, one `tm history --json` (which journals the last outside change first)
gives the journal: the revision of each `tm` commit and the `reverts` of the outside changes.
An observer parses the file throughout (a torn look is a `file-parses` violation).

The baseline is `tm` with `TM_REFERENCE_LOCK=0`, and detections are not credited (the journal
stays on; the check ignores what it says): it must lose writes.
"""

from __future__ import annotations

import json
import os
import select
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from harness import reference_tool
from harness.actors import observe
from harness.history import FINAL, INITIAL, OK, WRITE, read_history
from harness.reference_check import REFERENCE_CHANNEL, TAG, count
from harness.runners.base import ScenarioRun, ScenarioSkipped, initial_task
from harness.targets import BASELINE, tm_executable

REFERENCE_LOCK_ENV = "TM_REFERENCE_LOCK"
ACTIVE = "tm-active"
STOP = "stop"
TM_FIELDS = ("title", "details")


def run(run: ScenarioRun) -> None:
    program = reference_tool.ensure_installed()
    if program is None:
        if reference_tool.required():
            raise RuntimeError(
                f"{reference_tool.MISSING}, and {reference_tool.REQUIRE_ENV}=1 requires it"
            )
        raise ScenarioSkipped(reference_tool.MISSING)
    params = run.params
    reference_writes = int(params.get("reference_writes", 5))
    tm_tasks = int(params.get("tm_tasks", 200))
    core_writers = int(params.get("core_writers", 2))
    cli_writers = int(params.get("cli_writers", 1))
    pause_ms = float(params.get("pause_ms", 2))
    lead_s = float(params.get("burst_lead_s", 2.5))
    burst_s = float(params.get("burst_s", 0.3))
    status = str(params.get("reference_status", "done"))

    baseline = run.target.name == BASELINE
    if baseline:
        run.env[REFERENCE_LOCK_ENV] = "0"
    run.config["credit_detections"] = not baseline
    run.config["reference_tool"] = f"task-master-ai {reference_tool.VERSION}"

    reference_ids = list(range(1, reference_writes + 1))
    tm_ids = list(range(reference_writes + 1, reference_writes + tm_tasks + 1))
    make_project(run, reference_ids + tm_ids)

    places = [(task_id, name) for task_id in tm_ids for name in TM_FIELDS]
    run.rng.shuffle(places)
    writers = core_writers + cli_writers
    procs = []
    for index in range(writers):
        channel = "core" if index < core_writers else "cli"
        mine = places[index::writers]
        plan = [
            {
                "channel": channel,
                "write": {
                    "op": "update",
                    "task": task_id,
                    "value": {name: f"tm {name} {task_id} {run.seed}"},
                },
            }
            for task_id, name in mine
        ]
        actor = f"tm-{channel}-{index}"
        procs.append(
            run.spawn_worker(
                "burst-writer",
                actor,
                plan=plan,
                active=ACTIVE,
                stop=STOP,
                pause_ms=pause_ms,
                phase="race",
            )
        )
    observer = run.spawn_worker("observer", "observer", stop=STOP, pause_ms=5)
    ready = [f"{p.name}:ready" for p in procs] + ["observer:ready"]
    if not run.barriers.wait(ready, timeout=30):
        run.note("not every writer got ready in 30 s")

    watch = StateWatch.of(run.target.root / ".taskmaster")
    if watch is None:
        run.note(f"no inotify: tm's bursts start {lead_s:g} s after each reference process")
    try:
        for task_id in reference_ids:
            reference_write(run, str(program), task_id, status, watch, lead_s, burst_s)
            time.sleep(float(params.get("settle_s", 1.0)))  # the burst's last writes finish
    finally:
        if watch is not None:
            watch.close()
    run.barriers.mark(STOP)
    run.wait_all([*procs, observer], timeout=60)

    journal(run)
    observe(run.history, run.target.tasks_file, phase="final", kind=FINAL)
    counts = count(read_history(run.dir), run.config)
    run.config["reference_counts"] = counts.to_dict()
    run.note(counts.summary())
    if baseline:
        run.note("TM_REFERENCE_LOCK=0, and the checker credits no detection")


def make_project(run: ScenarioRun, ids: list[int]) -> None:
    """Tasks `ids` in master, in the reference tool's layout, the same for both targets."""
    tasks = [initial_task(i) for i in ids]
    document = {TAG: {"tasks": tasks, "metadata": {"description": "harness project"}}}
    path = reference_tool.reference_tasks_file(run.target.root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    (path.parent.parent / "state.json").write_text('{"currentTag": "master"}\n')
    value = {f"task/{t['id']}": {k: t[k] for k in ("title", "status", "details")} for t in tasks}
    run.history.record(INITIAL, value=value)
    run.task_ids = ids
    run.config["tasks_file"] = str(path)


def reference_write(
    run: ScenarioRun,
    program: str,
    task_id: int,
    status: str,
    watch: StateWatch | None,
    lead_s: float,
    burst_s: float,
) -> None:
    """One real `task-master set-status`, recorded as a write, with one burst of `tm` writes
    from the moment it opens state.json (or `lead_s` after it starts) for `burst_s`."""
    argv = reference_tool.set_status_argv(program, run.target.root, task_id, status)
    op = run.history.op(
        WRITE,
        actor=f"reference-{task_id}",
        channel=REFERENCE_CHANNEL,
        key=f"task/{task_id}",
        value={"status": status},
        phase="race",
        info={"op": "set-status"},
    )
    if watch is not None:
        watch.drain()
    op.start = time.monotonic_ns()
    proc = subprocess.Popen(
        argv,
        cwd=run.target.root,
        env=reference_tool.reference_env({**_environ(), **run.env}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stop = threading.Event()
    burst = threading.Thread(target=_burst, args=(run, watch, lead_s, burst_s, stop, op))
    burst.start()
    try:
        output, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        run.history.complete(op, "info", error="timed out after 60 s")
        return
    finally:
        stop.set()
        burst.join()
        run.barriers.path(ACTIVE).unlink(missing_ok=True)
    op.info["exit"] = proc.returncode
    text = output
    if proc.returncode == 0 and "Successfully updated" in text:
        run.history.complete(op, OK)
    else:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        error = next((line for line in lines if "fail" in line.lower()), lines[-1] if lines else "")
        run.history.complete(op, "fail", error=error[:200] or f"exit {proc.returncode}")


def _burst(
    run: ScenarioRun,
    watch: StateWatch | None,
    lead_s: float,
    burst_s: float,
    stop: threading.Event,
    op: Any,
) -> None:
    if watch is not None:
        while not stop.is_set() and not watch.opened(0.05):
            pass
    elif stop.wait(lead_s):
        return
    if stop.is_set():
        return
    op.info["burst_after_ms"] = round((time.monotonic_ns() - op.start) / 1e6)
    run.barriers.mark(ACTIVE)
    stop.wait(burst_s)
    run.barriers.path(ACTIVE).unlink(missing_ok=True)


class StateWatch:
    """inotify on `.taskmaster/`: tells when a process opens `state.json`."""

    IN_OPEN = 0x20

    def __init__(self, fd: int) -> None:
        self.fd = fd

    @classmethod
    def of(cls, folder: Path) -> StateWatch | None:
        import ctypes
        import ctypes.util

        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, AttributeError):
            return None
        if fd < 0:
            return None
        if libc.inotify_add_watch(fd, str(folder).encode(), cls.IN_OPEN) < 0:
            os.close(fd)
            return None
        return cls(fd)

    def _events(self) -> list[str]:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        names, offset = [], 0
        while offset + 16 <= len(data):
            _, _, _, length = struct.unpack_from("iIII", data, offset)
            names.append(data[offset + 16 : offset + 16 + length].rstrip(b"\0").decode())
            offset += 16 + length
        return names

    def drain(self) -> None:
        while self._events():
            pass

    def opened(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        return bool(ready) and "state.json" in self._events()

    def close(self) -> None:
        os.close(self.fd)


def _environ() -> dict[str, str]:
    return dict(os.environ)


def journal(run: ScenarioRun) -> None:
    """`tm history --json` once (it journals the last outside change first): the places `tm`'s
    commits set, with their revisions, and every reversion the journal found."""
    done = subprocess.run(
        [tm_executable(), "--project", str(run.target.root), "history", "--json"],
        env={**_environ(), **run.env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        run.note(f"tm history failed: {(done.stderr or done.stdout).strip()[-200:]}")
        return
    entries = json.loads(done.stdout).get("entries") or []
    commits: list[dict[str, Any]] = []
    reverts: list[dict[str, Any]] = []
    for entry in entries:
        if entry.get("kind") == "external":
            reverts.extend(entry.get("reverts") or [])
            continue
        for change in entry.get("changes") or []:
            if change.get("field") in TM_FIELDS and change.get("id") is not None:
                commits.append(
                    {
                        "tag": change.get("tag"),
                        "id": str(change["id"]),
                        "field": change["field"],
                        "after": change.get("after"),
                        "revision": entry.get("revision"),
                    }
                )
    run.config["tm_commits"] = commits
    run.config["reverts"] = reverts
    external = sum(entry.get("kind") == "external" for entry in entries)
    run.event(
        f"journal: {len(entries)} entries, {external} outside changes, {len(reverts)} reverted "
        "places"
    )
