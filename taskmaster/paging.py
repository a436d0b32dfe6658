"""Paging and field projection of a tag's task list, pure (no storage, no I/O).

A cursor names the tag it pages, the id of the last task it returned and a fingerprint of
the tag as it was at the first page. It holds no offset, so writes between pages neither
repeat nor skip tasks: the next page starts after that id wherever it now is. If that task
was removed meanwhile, the next page starts at the first task whose id is greater (ids are
handed out increasing and new tasks go to the end, so that is where it would have been).
When the tag's fingerprint differs from the one the cursor carries, the page says so
(`changed`), so a client can tell its pages do not show one state of the tag.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from taskmaster.fields import TASK_FIELDS

VALID_FIELDS = ("id", *(field.name for field in TASK_FIELDS), "subtasks")
"""The task keys `fields` may name."""


class CursorError(ValueError):
    """A cursor that is not one this module made, or one for another tag."""


@dataclass(frozen=True, slots=True)
class Cursor:
    tag: str
    after: int
    fingerprint: str

    def encode(self) -> str:
        raw = orjson.dumps({"v": 1, "t": self.tag, "a": self.after, "f": self.fingerprint})
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, tag: str) -> Cursor:
    """The cursor `text` encodes; CursorError if it is malformed or pages another tag."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as error:
        raise CursorError("the cursor is not one a previous page returned") from error
    if (
        not isinstance(data, dict)
        or data.get("v") != 1
        or not isinstance(data.get("t"), str)
        or type(data.get("a")) is not int
        or not isinstance(data.get("f"), str)
    ):
        raise CursorError("the cursor is not one a previous page returned")
    if data["t"] != tag:
        raise CursorError(f"the cursor pages tag {data['t']!r}, not {tag!r}")
    return Cursor(data["t"], data["a"], data["f"])


def fingerprint(tasks: Sequence[Mapping[str, Any]]) -> str:
    """A short digest of the tag's tasks (ids and contents): equal iff nothing changed."""
    return hashlib.blake2b(orjson.dumps(list(tasks)), digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Page:
    tasks: list[Mapping[str, Any]]
    next_cursor: str | None
    changed: bool
    """The tag changed since the first page of this paging."""


def page(
    tasks: Sequence[Mapping[str, Any]],
    tag: str,
    *,
    limit: int | None,
    cursor: str | None = None,
    print_: str | None = None,
) -> Page:
    """At most `limit` tasks after the cursor's (from the start without one), in file order;
    `limit` None: all the rest.

    `print_` is the tag's fingerprint now (computed from `tasks` when not given)."""
    if limit is None:
        limit = len(tasks) or 1
    if limit < 1:
        raise ValueError("limit must be at least 1")
    now = print_ if print_ is not None else fingerprint(tasks)
    start, first_print = 0, now
    if cursor is not None:
        parsed = decode_cursor(cursor, tag)
        first_print = parsed.fingerprint
        start = _start_after(tasks, parsed.after)
    chunk = list(tasks[start : start + limit])
    more = start + limit < len(tasks)
    next_cursor = Cursor(tag, int(chunk[-1]["id"]), first_print).encode() if more else None
    return Page(chunk, next_cursor, first_print != now)


def _start_after(tasks: Sequence[Mapping[str, Any]], after: int) -> int:
    for index, task in enumerate(tasks):
        if task["id"] == after:
            return index + 1
    for index, task in enumerate(tasks):
        if int(task["id"]) > after:
            return index
    return len(tasks)


def parse_fields(text: str | Iterable[str]) -> tuple[str, ...]:
    """The field names of a `fields=a,b` argument; ValueError naming the valid ones."""
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else list(text)
    names = [n for n in names if n]
    unknown = [n for n in names if n not in VALID_FIELDS]
    if unknown or not names:
        raise ValueError(
            f"unknown field(s) {', '.join(unknown) or '(none given)'}; "
            f"valid fields: {', '.join(VALID_FIELDS)}"
        )
    return tuple(dict.fromkeys(names))


def project(task: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """Only `fields` of the task; subtasks are dropped unless `subtasks` is named, and then
    projected to the same fields (those a subtask has)."""
    out = {name: task[name] for name in fields if name in task and name != "subtasks"}
    if "subtasks" in fields and "subtasks" in task:
        out["subtasks"] = [
            {name: sub[name] for name in fields if name in sub and name != "subtasks"}
            for sub in task["subtasks"]
        ]
    return out


ANSWER_BUDGET_CHARS = 60_000
"""The most characters an agent's task list answer may take when it asked for no `limit`.

MCP clients cap a tool's answer in tokens (25,000 in Claude Code; claude-task-master #1137 is a
41,539-token `get_tasks` refused by that cap). Tokens are counted here as characters: JSON of
short ids, keys and quotes tokenises densely, at worst about one token per 2.4 characters, so
60,000 characters stay under 25,000 tokens; prose runs at about 4 per token, which makes the
bound generous rather than tight."""

COMPACT_FIELDS = ("id", "title", "status", "priority", "dependencies")
"""The task keys an answer cut to the budget keeps when the caller named none."""


def fitting(
    items: Sequence[Mapping[str, Any]],
    budget: int,
    measure: Callable[[Mapping[str, Any]], int] | None = None,
) -> int:
    """How many of `items`, from the first, serialise (as a JSON list) within `budget`
    characters, each measured by `measure` (compact JSON by default); at least one, so that
    every page moves on."""
    size = measure if measure is not None else (lambda item: len(orjson.dumps(item)))
    used = 2
    for count, item in enumerate(items):
        used += size(item) + 1
        if used > budget:
            return max(count, 1)
    return len(items)
