"""The JSON documents the front ends answer with, beyond the facade's own return values.

`tm --json` prints them and the MCP server answers with them, so a script and an agent see one
shape whichever front end ran.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2)
    except orjson.JSONEncodeError:
        # A task file nested deeper than orjson writes (it reads up to 1,024 levels) must
        # still be readable: the standard library writes the same JSON, only slower.
        return json.dumps(value, indent=2, ensure_ascii=False).encode()


def task_list_document(
    tag: str, tasks: Sequence[dict[str, Any]], *, with_subtasks: bool = True
) -> dict[str, Any]:
    """`tm list --json`: `{"tag", "tasks"}`; without subtasks, no task has a "subtasks" key."""
    if not with_subtasks:
        tasks = [{key: value for key, value in task.items() if key != "subtasks"} for task in tasks]
    return {"tag": tag, "tasks": list(tasks)}


def items_document(items: Sequence[dict[str, Any]]) -> Any:
    """`tm show --json`: one item alone, several as a list in the order asked."""
    return items[0] if len(items) == 1 else list(items)


def validation_document(tag: str, issues: Sequence[Any]) -> dict[str, Any]:
    """`tm validate-dependencies --json`: `{"tag", "valid", "issues"}`."""
    return {"tag": tag, "valid": not issues, "issues": [issue.to_dict() for issue in issues]}


def fixed_document(tag: str, fixed: Sequence[Any]) -> dict[str, Any]:
    """`tm fix-dependencies --json`: `{"tag", "fixed": [the issues removed]}`."""
    return {"tag": tag, "fixed": [issue.to_dict() for issue in fixed]}


__all__ = sorted(
    ["dumps", "fixed_document", "items_document", "task_list_document", "validation_document"]
)
