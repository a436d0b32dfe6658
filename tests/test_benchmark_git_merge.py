"""The git merge benchmark's input: two branches whose merge is clean and renumbers every one
of theirs' new tasks (so the timing is of that path, not of a conflict report)."""

from __future__ import annotations

import orjson

from benchmarks.git_merge import NEW_TASKS, branches
from taskmaster.git.merge import merge


def test_the_benchmark_branches_merge_cleanly_renumbering_theirs_new_tasks() -> None:
    base, ours, theirs = branches(100)
    result = merge(base, ours, theirs)
    assert result.clean and len(result.renumbered) == NEW_TASKS
    tasks = orjson.loads(result.to_json())["master"]["tasks"]
    assert len(tasks) == 100 + 2 * NEW_TASKS
    assert sum(task["status"] == "done" for task in tasks[:100]) >= 2
    assert sum(task["title"] == "Edited on the other branch" for task in tasks) == 2
