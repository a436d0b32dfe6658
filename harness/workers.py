"""Actor processes: `python -m harness.workers SPEC.json`.

The spec (written by the harness into the run folder, so the run folder is in every actor's
command line) says which role to play:

    writer    perform a planned list of writes (or, with `loop`, generate them until stopped or
              killed); each op recorded with its channel, instance, times and outcome
    burst-writer  a writer whose planned writes go on only while the `active` barrier is set
              (around another program's writes, not while it starts up), until `stop`
    reader    read random tasks from random API instances until the stop flag appears
    observer  parse the raw file (or read the project from its database) over and over until
              stopped; record every torn look
    editor    another program editing the file: in place (truncate + write, pausing half way
              until told to go on), by temp + rename, or with given bytes
    agent     an AI agent's session on the MCP front end: `tm mcp` through the SDK's stdio
              client, or the naive agent server (see `harness.agent`)
    claimer   an agent taking tasks from the pool, working and releasing them, with claims or
              the naive way, through the CLI, the API, MCP or the facade (`harness.claimer`)
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.actors import Actor, ApiClient, file_state, target_state
from harness.history import EVENT, OBSERVE, WRITE, HistoryWriter, now_ns
from harness.processes import Barriers, die_with_parent
from harness.targets import Target

MAX_TORN_RECORDS = 100


def _setup(spec: dict[str, Any]) -> tuple[HistoryWriter, Target, Barriers]:
    history = HistoryWriter(spec["history"], spec["actor"])
    return history, Target.from_dict(spec["target"]), Barriers(spec["barriers"])


def _apis(spec: dict[str, Any]) -> list[ApiClient]:
    return [ApiClient(port, index) for index, port in enumerate(spec.get("ports", []))]


def writer(spec: dict[str, Any]) -> None:
    history, target, barriers = _setup(spec)
    actor = Actor(
        history,
        target,
        _apis(spec),
        crashable=spec.get("crashable", False),
        env=spec.get("env"),
    )
    stop = spec.get("stop")
    barriers.mark(f"{spec['actor']}:ready")
    if spec.get("start"):
        barriers.wait(spec["start"], timeout=60)
    try:
        if spec.get("loop"):
            rng = random.Random(spec.get("seed"))
            channels = spec["channels"]
            index = 0
            while not (stop and barriers.is_set(stop)):
                title = f"{spec['actor']}-{index}"
                index += 1
                write = {"op": "add", "value": {"title": title, "details": spec.get("pad", "")}}
                channel = rng.choice(channels)
                actor.write(channel, write, phase=spec.get("phase"))
        else:
            for step in spec["plan"]:
                if stop and barriers.is_set(stop):
                    break
                actor.write(
                    step["channel"],
                    step["write"],
                    instance=step.get("instance"),
                    phase=spec.get("phase"),
                )
                if step.get("pause_ms"):
                    time.sleep(step["pause_ms"] / 1000)
    finally:
        actor.close()
        history.close()


def burst_writer(spec: dict[str, Any]) -> None:
    history, target, barriers = _setup(spec)
    actor = Actor(history, target, [], env=spec.get("env"))
    active, stop = spec["active"], spec["stop"]
    pause = spec.get("pause_ms", 0) / 1000
    barriers.mark(f"{spec['actor']}:ready")
    try:
        for step in spec["plan"]:
            while not barriers.is_set(active):
                if barriers.is_set(stop):
                    return
                time.sleep(0.002)
            if barriers.is_set(stop):
                return
            actor.write(step["channel"], step["write"], phase=spec.get("phase"))
            if pause:
                time.sleep(pause)
    finally:
        actor.close()
        history.close()


def reader(spec: dict[str, Any]) -> None:
    history, target, barriers = _setup(spec)
    apis = _apis(spec)
    actor = Actor(history, target, apis)
    rng = random.Random(spec.get("seed"))
    tasks = spec["tasks"]
    pause = spec.get("pause_ms", 0) / 1000
    barriers.mark(f"{spec['actor']}:ready")
    try:
        while not barriers.is_set(spec["stop"]):
            actor.read(
                rng.choice(tasks), instance=rng.randrange(len(apis)), phase=spec.get("phase")
            )
            if pause:
                time.sleep(pause)
    finally:
        actor.close()
        history.close()


def observer(spec: dict[str, Any]) -> None:
    history, target, barriers = _setup(spec)
    looks = torn = unavailable = 0
    barriers.mark(f"{spec['actor']}:ready")
    try:
        while not barriers.is_set(spec["stop"]):
            start = now_ns()
            state = target_state(target)
            looks += 1
            if state.get("unavailable"):
                unavailable += 1  # the database server is away: an outage, not a torn look
            elif not state["parses"]:
                torn += 1
                if torn <= MAX_TORN_RECORDS:
                    value = {k: state.get(k) for k in ("parses", "sha", "size", "error")}
                    history.record(OBSERVE, start=start, channel="file", value=value)
            time.sleep(spec.get("pause_ms", 1) / 1000)
    finally:
        counts = {"looks": looks, "torn": torn, "unavailable": unavailable}
        history.record(EVENT, value={"observer": counts})
        history.close()


def editor(spec: dict[str, Any]) -> None:
    """Rewrite the task file as another program would, recording the edit as a write."""
    history, target, barriers = _setup(spec)
    path = target.tasks_file
    mode = spec["mode"]
    op = history.op(
        WRITE,
        channel="file",
        key=spec.get("key"),
        value=spec.get("fields") or {},
        phase=spec.get("phase"),
        info={"mode": mode},
    )
    if spec.get("content") is not None:
        new = spec["content"].encode("latin-1")  # bytes carried as latin-1 text
    else:
        data = json.loads(path.read_bytes())
        for task in data["master"]["tasks"]:
            if f"task/{task['id']}" == spec["key"]:
                task.update(spec["fields"])
        new = json.dumps(data, indent=2).encode()
    op.start = now_ns()
    if mode == "in-place":
        with open(path, "r+b") as handle:
            handle.truncate(0)
            half = spec.get("half", len(new) // 2)
            handle.write(new[:half])
            handle.flush()
            os.fsync(handle.fileno())
            if spec.get("pause_at"):
                barriers.mark(spec["pause_at"], file_state(path)["sha"] or "")
                barriers.wait(spec["resume_on"], timeout=spec.get("timeout", 30))
            handle.write(new[half:])
    elif mode == "replace":
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".editor.", suffix=".swp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(new)
        os.replace(temp, path)
    else:
        raise ValueError(f"unknown edit mode {mode!r}")
    history.complete(op, info={"mode": mode, "sha": file_state(path)["sha"]})
    history.close()


def agent(spec: dict[str, Any]) -> None:
    # Imported here: only agent processes need the MCP SDK.
    from harness import agent as session

    session.install()
    session.agent(spec)


def claimer(spec: dict[str, Any]) -> None:
    from harness import agent
    from harness import claimer as claims

    agent.install()  # SIGTERM unwinds, so that an MCP session closes its `tm mcp`
    claims.claimer(spec)


ROLES = {
    "writer": writer,
    "burst-writer": burst_writer,
    "reader": reader,
    "observer": observer,
    "editor": editor,
    "agent": agent,
    "claimer": claimer,
}


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    args = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(args[0]).read_text())
    ROLES[spec["role"]](spec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
