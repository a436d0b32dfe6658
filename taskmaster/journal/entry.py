"""Journal entries: one per commit, saying who changed what, through which front end, and how.

An entry is a JSON object, as it is stored (file sidecar line, database row) and served:

    revision   the commit it belongs to (set by the storage when it commits)
    time       when it was made (ISO 8601, UTC)
    actor      who made it: `tm --actor`/TM_ACTOR (default user@host), the API token's name,
               the MCP client's name, the agent of the claim the write carried
    via        the front end: cli, api, mcp, core, harness..., or "outside" for a change made
               by another program (an editor, the reference tool, git)
    kind       "command", "undo" (then `undoes` is the revision taken back) or "external"
    command    the command's name and `args` its arguments (absent on external entries)
    tag, ids   where it was announced; `events`, the change events it announced
    changes    field by field, before and after (see `changes.py`)
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

Entry = dict[str, Any]
COMMAND = "command"
UNDO = "undo"
EXTERNAL = "external"
OUTSIDE = "outside"
DEFAULT_KEEP = 10_000
"""Entries a journal keeps by default; it drops older ones once it holds twice as many."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Who writes, and through which front end: what every journal entry records."""

    actor: str
    via: str = "core"

    def with_actor(self, actor: str | None) -> Origin:
        return self if not actor else Origin(actor, self.via)


def utc_stamp() -> str:
    """Now, as entries record it: ISO 8601 in UTC with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def default_actor() -> str:
    """user@host, as a shell prompt names whoever runs a command."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def new_entry(
    *,
    origin: Origin,
    time: str,
    changes: list[dict[str, Any]],
    command: str | None = None,
    args: Mapping[str, Any] | None = None,
    tag: str | None = None,
    ids: Iterable[str] = (),
    events: Iterable[tuple[str, Iterable[str]]] = (),
    undoes: int | None = None,
) -> Entry:
    kind = EXTERNAL if command is None else UNDO if undoes is not None else COMMAND
    entry: Entry = {
        "revision": None,
        "time": time,
        "actor": origin.actor,
        "via": origin.via,
        "kind": kind,
    }
    if command is not None:
        entry["command"] = command
        entry["args"] = dict(args or {})
    if undoes is not None:
        entry["undoes"] = undoes
    entry["tag"] = tag
    entry["ids"] = list(ids)
    entry["events"] = [[kind_, list(kind_ids)] for kind_, kind_ids in events]
    entry["changes"] = changes
    return entry


def touches(entry: Entry, item: str) -> bool:
    """Whether the entry changed task or subtask `item` (a task's entry covers its subtasks)."""
    prefix = f"{item}."
    for change in entry.get("changes") or ():
        found = change.get("id")
        if found is not None and (found == item or str(found).startswith(prefix)):
            return True
    return item in (entry.get("ids") or ())


def matches(
    entry: Entry,
    *,
    item: str | None = None,
    actor: str | None = None,
    tag: str | None = None,
) -> bool:
    """The filters of `tm history` and GET /api/v1/history."""
    if actor is not None and entry.get("actor") != actor:
        return False
    if (
        tag is not None
        and entry.get("tag") != tag
        and not any(c.get("tag") == tag for c in entry.get("changes") or ())
    ):
        return False
    return item is None or touches(entry, item)


def without_values(entry: Entry) -> Entry:
    """The entry with its changes' values left out, saying so: what is recorded when the
    values nest deeper than JSON can be written with (a task file near the limit is one
    level deeper inside an entry). It still names every place; it cannot be undone."""
    return {
        **entry,
        "changes": [
            {key: value for key, value in change.items() if key not in ("before", "after")}
            for change in entry.get("changes") or ()
        ],
        "unknown": "its values nest too deep to be recorded",
    }


def encode(entry: Entry) -> bytes:
    """The entry as stored (without its values if they nest too deep: `without_values`)."""
    try:
        return orjson.dumps(entry)
    except orjson.JSONEncodeError:
        return orjson.dumps(without_values(entry))
