"""The task-file merge git runs (`tm git merge-driver`): two branches of a big tag, each with
edits of 2% of the tasks and 20 new tasks under the same ids (so all 20 of theirs are
renumbered), merged in-process (`merge`, bytes in and bytes out) and as the whole driver
process git starts, interpreter start-up included."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.data import synthetic_document
from benchmarks.stats import summarise
from taskmaster.git.merge import merge
from taskmaster.model import Document

NAME = "git_merge"
DESCRIPTION = "three-way merge of tasks.json: in-process and as git's merge-driver process"
SIZES = (1000, 5000)
NEW_TASKS = 20


def branches(tasks: int) -> tuple[bytes, bytes, bytes]:
    """The base, ours and theirs files: edits on different tasks, clashing additions."""
    base = synthetic_document(tasks).data
    ours, theirs = copy.deepcopy(base), copy.deepcopy(base)
    for index in range(0, tasks, 50):
        ours["master"]["tasks"][index]["status"] = "done"
        theirs["master"]["tasks"][index + 25]["title"] = "Edited on the other branch"
    for n in range(NEW_TASKS):
        new_id = tasks + 1 + n
        for side, name in ((ours, "ours"), (theirs, "theirs")):
            side["master"]["tasks"].append(
                {"id": new_id, "title": f"{name} {n}", "status": "pending", "dependencies": []}
            )
        theirs["master"]["tasks"][-1]["dependencies"] = [new_id - 1] if n else [1]
    return (
        Document.from_data(base).to_json(),
        Document.from_data(ours).to_json(),
        Document.from_data(theirs).to_json(),
    )


def run(*, quick: bool = False) -> list[dict[str, Any]]:
    repeats = 5 if quick else 20
    rows = []
    for tasks in SIZES:
        base, ours, theirs = branches(tasks)
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = merge(base, ours, theirs)
            result.to_json()
            samples.append((time.perf_counter() - start) * 1000)
        assert result.clean and len(result.renumbered) == NEW_TASKS
        size = f"{tasks} tasks ({len(base) / 1e6:.1f} MB)"
        rows.append({"benchmark": NAME, "case": f"merge(), {size}", **summarise(samples)})
        with tempfile.TemporaryDirectory() as scratch:
            directory = Path(scratch)
            command = [sys.executable, "-m", "taskmaster", "git", "merge-driver"]
            command += [str(directory / name) for name in ("O", "A", "B")] + ["tasks.json"]
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            samples = []
            for attempt in range(repeats + 1):
                for name, data in zip("OAB", (base, ours, theirs), strict=True):
                    (directory / name).write_bytes(data)
                start = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True, env=env)
                if attempt:  # the first run warms the caches (bytecode, page cache)
                    samples.append((time.perf_counter() - start) * 1000)
        rows.append(
            {"benchmark": NAME, "case": f"merge-driver process, {size}", **summarise(samples)}
        )
    return rows
