"""Synthetic but realistic task documents of a given size, for benchmarks."""

from __future__ import annotations

import random

from taskmaster.model import PRIORITIES, Document

_WORDS = [
    "cache",
    "event",
    "lock",
    "file",
    "task",
    "api",
    "server",
    "client",
    "write",
    "read",
    "revision",
    "watcher",
    "bus",
    "tag",
    "subtask",
    "dependency",
    "status",
    "priority",
    "update",
    "render",
    "parse",
    "schema",
    "index",
    "queue",
]


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words)).capitalize() + "."


def synthetic_document(tasks: int, *, seed: int = 7, detail_words: int = 12) -> Document:
    """`tasks` tasks; every fifth has three subtasks.

    With the default `detail_words` a task takes about 700 bytes of the file (subtasks and
    indentation included): 70 KiB per 100 tasks, above the 20-60 KB the design assumes;
    40 words make about 900 bytes.
    """
    rng = random.Random(seed)
    items = []
    for task_id in range(1, tasks + 1):
        deps = sorted(rng.sample(range(1, task_id), k=min(2, task_id - 1))) if task_id > 3 else []
        task = {
            "id": task_id,
            "title": _sentence(rng, 5),
            "description": _sentence(rng, 14),
            "details": _sentence(rng, detail_words),
            "testStrategy": _sentence(rng, 6),
            "status": "pending",
            "dependencies": deps,
            "priority": rng.choice(PRIORITIES),
            "subtasks": [],
        }
        if task_id % 5 == 0:
            task["subtasks"] = [
                {
                    "id": sub,
                    "title": _sentence(rng, 4),
                    "description": _sentence(rng, 10),
                    "details": "",
                    "status": "pending",
                    "dependencies": [sub - 1] if sub > 1 else [],
                    "parentTaskId": task_id,
                }
                for sub in range(1, 4)
            ]
        items.append(task)
    return Document({"master": {"tasks": items, "metadata": {"description": "benchmark"}}})
