"""Hypothesis strategies for valid task documents.

`documents()` builds tagged documents (``master`` plus up to two more tags) whose tasks have
subtasks, statuses, priorities and dependencies that are all valid: every dependency exists,
none is on itself, none repeats, and there is no cycle (an item only depends on items built
before it, or a task on its own subtasks, which the graph allows). Every level (document, tag,
tag metadata, task, subtask) carries arbitrary extra keys with JSON values, so tests can check
that operations keep what they do not understand.

Import it as ``from strategies import documents`` (pytest puts ``tests/`` on the path).
"""

from __future__ import annotations

import functools
from typing import Any

from hypothesis import strategies as st

from taskmaster.model import PRIORITIES, STATUSES, TASK_KEYS, Document

TAG_KEYS = frozenset({"tasks", "metadata"})
TAG_METADATA_KEYS = frozenset({"created", "updated", "description"})
ITEM_KEYS = frozenset(TASK_KEYS) | {"metadata", "parentTaskId", "parentId"}
"""Keys with a meaning for a task or a subtask (an item can turn from one into the other)."""

statuses = st.sampled_from([*STATUSES, "completed"])
priorities = st.sampled_from(PRIORITIES)
tag_names = st.from_regex(r"[A-Za-z0-9_-]{1,8}", fullmatch=True).filter(
    lambda name: name not in {"master", "tasks", "metadata"}
)
short_text = st.text(max_size=8)
# Operations never look inside titles and descriptions: a few fixed values keep generation fast.
field_text = st.sampled_from(["", "Set up CI", "Ünïcödé ✓", "line\nbreak"])

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | short_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(short_text, inner, max_size=3),
    max_leaves=4,
)


@functools.lru_cache
def extra_keys(reserved: frozenset[str], max_size: int = 2) -> st.SearchStrategy:
    """A dict of unknown keys (none of `reserved`) with arbitrary JSON values."""
    keys = st.text(min_size=1, max_size=8).filter(lambda key: key not in reserved)
    return st.dictionaries(keys, json_values, max_size=max_size)


# Built once: constructing strategies inside a composite on every draw costs more than drawing.
_gaps = st.integers(min_value=1, max_value=3)
_task_counts = {n: st.integers(min_value=0, max_value=n) for n in range(10)}
_picks = {n: st.lists(st.integers(min_value=0, max_value=1 << 16), max_size=n) for n in range(4)}
_flags = st.booleans()
_task_metadata = st.dictionaries(short_text, json_values, max_size=2)


def _increasing_ids(draw: st.DrawFn, count: int) -> list[int]:
    # Gaps make "max id + 1" differ from "count + 1", which is what the reference uses.
    ids, current = [], 0
    for _ in range(count):
        current += draw(_gaps)
        ids.append(current)
    return ids


def _pick(draw: st.DrawFn, choices: list[Any], max_size: int) -> list[Any]:
    if not choices:
        return []
    picked = [choices[index % len(choices)] for index in draw(_picks[max_size])]
    return list(dict.fromkeys(picked))


@st.composite
def tag_tasks(
    draw: st.DrawFn, min_tasks: int = 0, max_tasks: int = 6, max_subtasks: int = 3
) -> list[dict[str, Any]]:
    """The task list of one tag, with valid acyclic dependencies."""
    tasks: list[dict[str, Any]] = []
    earlier: list[tuple[int, int | None]] = []  # (task, sub) items later ones may depend on
    count = max(min_tasks, draw(_task_counts[max_tasks]))
    for task_id in _increasing_ids(draw, count):
        subtasks: list[dict[str, Any]] = []
        sub_ids = _increasing_ids(draw, draw(_task_counts[max_subtasks]))
        for position, sub_id in enumerate(sub_ids):
            choices: list[int | str] = []
            for sibling in sub_ids[:position]:
                # A sibling is usually bare; the full "P.S" form means the same thing.
                choices.append(sibling if draw(_flags) else f"{task_id}.{sibling}")
            choices += [f"{task}.{sub}" for task, sub in earlier if sub is not None]
            sub: dict[str, Any] = {
                "id": sub_id,
                "title": f"Subtask {task_id}.{sub_id}",
                "description": draw(field_text),
                "details": "",
                "status": draw(statuses),
                "dependencies": _pick(draw, choices, 2),
                "parentTaskId": task_id,
            }
            if draw(_flags):
                sub["testStrategy"] = draw(field_text)
            if draw(_flags):
                sub["priority"] = draw(priorities)
            sub.update(draw(extra_keys(ITEM_KEYS, 1)))
            subtasks.append(sub)
        choices = [task if sub is None else f"{task}.{sub}" for task, sub in earlier]
        choices += [f"{task_id}.{sub_id}" for sub_id in sub_ids]  # a parent on its own subtask
        task: dict[str, Any] = {
            "id": task_id,
            "title": f"Task {task_id}",
            "description": draw(field_text),
            "details": "",
            "testStrategy": "",
            "status": draw(statuses),
            "dependencies": _pick(draw, choices, 3),
            "priority": draw(priorities),
            "subtasks": subtasks,
        }
        if draw(_flags):
            task["metadata"] = draw(_task_metadata)
        task.update(draw(extra_keys(ITEM_KEYS, 1)))
        tasks.append(task)
        earlier += [(task_id, None), *((task_id, sub_id) for sub_id in sub_ids)]
    return tasks


_tag_lists = {n: st.lists(tag_names, unique=True, max_size=n) for n in range(5)}


@st.composite
def documents(
    draw: st.DrawFn, max_tags: int = 3, max_tasks: int = 6, min_tasks: int = 0
) -> Document:
    """A tagged document: ``master`` plus up to ``max_tags - 1`` tags, extra keys everywhere.
    Every tag has at least `min_tasks` tasks."""
    names = ["master", *draw(_tag_lists[max_tags - 1])]
    entries: dict[str, Any] = {}
    for name in names:
        metadata = {
            "created": "2025-01-01T00:00:00.000Z",
            "updated": "2025-01-02T00:00:00.000Z",
            "description": draw(field_text),
            **draw(extra_keys(TAG_METADATA_KEYS)),
        }
        tasks = draw(tag_tasks(min_tasks=min_tasks, max_tasks=max_tasks))
        tag = {"tasks": tasks, "metadata": metadata}
        tag.update(draw(extra_keys(TAG_KEYS)))
        entries[name] = tag
    # Top-level extras must not look like tags (an object with "tasks") nor use a tag's name.
    top = draw(extra_keys(TAG_KEYS))
    for key, value in top.items():
        if key in entries:
            continue
        if isinstance(value, dict) and "tasks" in value:
            value = dict(value)
            del value["tasks"]
        entries[key] = value
    order = draw(st.permutations(list(entries)))
    return Document.from_data({key: entries[key] for key in order})


# Plain builders for example-based tests ----------------------------------------------------------


def make_task(
    task_id: int,
    *deps: int | str,
    status: str = "pending",
    priority: str = "medium",
    subtasks: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A task dict in the reference key order; ``extra`` keys come last."""
    return {
        "id": task_id,
        "title": f"Task {task_id}",
        "description": "",
        "details": "",
        "testStrategy": "",
        "status": status,
        "dependencies": list(deps),
        "priority": priority,
        "subtasks": subtasks or [],
        **extra,
    }


def make_subtask(
    sub_id: int, parent: int, *deps: int | str, status: str = "pending", **extra: Any
) -> dict[str, Any]:
    return {
        "id": sub_id,
        "title": f"Subtask {parent}.{sub_id}",
        "description": "",
        "details": "",
        "status": status,
        "dependencies": list(deps),
        "parentTaskId": parent,
        **extra,
    }


def make_doc(*tasks: dict[str, Any], **other_tags: list[dict[str, Any]]) -> Document:
    """A tagged document: `tasks` in ``master``, each keyword a further tag with its tasks."""
    data: dict[str, Any] = {"master": {"tasks": list(tasks), "metadata": {}}}
    for name, tag_tasks_ in other_tags.items():
        data[name] = {"tasks": tag_tasks_, "metadata": {}}
    return Document.from_data(data)
