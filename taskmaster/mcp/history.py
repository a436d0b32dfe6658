"""History tools: get_history (who changed what, from the change journal) and undo.

Every write is journaled with who made it (the MCP client's name, `clientInfo.name`), through
which front end, the command and every field it changed. get_history answers entries in a
compact form by default, one short line per change, which is what an agent reads; `full`
gives them as the journal stores them (before and after values whole). undo takes one
revision's change back as a new commit, refused (undo-refused) when a later change touched
the same fields.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field

from taskmaster.commands import Undo
from taskmaster.errors import InvalidInput
from taskmaster.journal.changes import ORDER, STAMPS
from taskmaster.journal.entry import Entry
from taskmaster.journal.reversions import reversion_line
from taskmaster.mcp.projects import Projects
from taskmaster.mcp.toolkit import (
    IDS,
    ProjectRoot,
    TasksFile,
    ToolServer,
    about,
    command,
    execute,
    reply,
    tool,
)
from taskmaster.model import TAG_NAME, TaskId

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
SHOWN = 60
"""Characters of a value a compact change line shows (the rest becomes "...")."""

ItemFilter = Annotated[
    str | None,
    IDS,
    Field(
        description="Only entries that changed this task (its subtasks included) or subtask, "
        "e.g. '5' or '5.2'."
    ),
]
Since = Annotated[
    int,
    Field(
        ge=0,
        description="Only entries above this revision. Default 0: from the oldest kept. To "
        "page on, pass the answer's nextSince.",
    ),
]
ActorFilter = Annotated[
    str | None,
    Field(description="Only entries of this actor (a client's, token's or user's name)."),
]
TagFilter = Annotated[
    str | None, Field(description="Only entries that changed this tag. Default: every tag.")
]
Limit = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_LIMIT,
        description=f"Entries per answer, oldest first (default {DEFAULT_LIMIT}, at most "
        f"{MAX_LIMIT}).",
    ),
]
Full = Annotated[
    bool,
    Field(
        description="Entries as the journal stores them (every value before and after, the "
        "events), instead of one short line per change."
    ),
]
Revision = Annotated[int, about(Undo, "revision")]


def register(server: ToolServer, projects: Projects) -> None:
    @tool(server, title="Get History", read_only=True)
    def get_history(
        projectRoot: ProjectRoot,
        id: ItemFilter = None,
        since: Since = 0,
        actor: ActorFilter = None,
        tag: TagFilter = None,
        limit: Limit = DEFAULT_LIMIT,
        full: Full = False,
        file: TasksFile = None,
    ) -> str:
        """Who changed what: the project's change journal, oldest first, one entry per
        commit (whoever made it: this server, tm, the REST API, an editor).

        Returns {"revision": current, "entries": [...], "nextSince": N or null}. An entry has
        revision, time, actor, via (mcp, cli, api, outside...), kind (command, undo,
        external), command and args, tag, ids and changes: lines such as
        '5 status: "pending" -> "done"', '+ task 6 "Write docs"' (added), '- subtask 5.2 ...'
        (removed). An external entry that put back values earlier commits had set (another
        tool writing back a stale copy) lists them under reverts: 'reverted revision 12: 5
        title'. Pass nextSince as since for the next entries (null: there are no more).
        Take a change back with undo(revision).
        """
        item = str(TaskId.parse(id)) if id else None
        if tag is not None and not TAG_NAME.fullmatch(tag):
            raise InvalidInput(f"invalid tag name {tag!r}: use letters, digits, '-' and '_'")
        core = projects.open(projectRoot, file)
        read = core.history(item, since=since, actor=actor or None, tag=tag, limit=limit + 1)
        entries = read.value[:limit]
        following = entries[-1]["revision"] if len(read.value) > limit else None
        return reply(
            {
                "revision": read.revision,
                "entries": entries if full else [compact(entry) for entry in entries],
                "nextSince": following,
            }
        )

    @tool(server, title="Undo", destructive=True)
    def undo(projectRoot: ProjectRoot, revision: Revision, file: TasksFile = None) -> str:
        """Take back the change of one revision (see get_history) as a new commit: every
        field it changed gets its value from before, the rest stays.

        Returns {"undone": revision, "command", "changes": places restored, "ids"}. Refused
        (undo-refused, naming them) when a later change touched the same fields: undo those
        first, newest first. entry-not-found: no such revision in the journal (never
        committed, or compacted away). An undo is itself journaled, and can be undone.
        """
        core = projects.open(projectRoot, file)
        return reply(execute(core, command(Undo, {"revision": revision}), None))


def compact(entry: Entry) -> dict[str, Any]:
    """An entry with one short line per change (stamps of when a tag last changed left out)
    instead of whole values, and without its events."""
    shown: dict[str, Any] = {
        key: entry[key]
        for key in ("revision", "time", "actor", "via", "kind", "command", "undoes", "claim")
        if key in entry
    }
    if "args" in entry:
        shown["args"] = {key: _short_value(value) for key, value in entry["args"].items()}
    shown["tag"] = entry.get("tag")
    shown["ids"] = entry.get("ids") or []
    if entry.get("unknown"):
        shown["unknown"] = entry["unknown"]
    if entry.get("reverts"):
        shown["reverts"] = [reversion_line(r) for r in entry["reverts"]]
    shown["changes"] = [
        change_line(change)
        for change in entry.get("changes") or ()
        if change.get("field") not in STAMPS
    ]
    return shown


def change_line(change: dict[str, Any]) -> str:
    """One change in words: `5 status: "pending" -> "done"`, `+ task 6 "title"`, ..."""
    tag, item, field = change.get("tag"), change.get("id"), change.get("field")
    sign = "+" if "before" not in change else "-" if "after" not in change else None
    if field is None:
        if item is None:  # a whole tag
            return f"{sign or '~'} tag {tag}"
        what = "subtask" if "." in str(item) else "task"
        value = change.get("after" if sign == "+" else "before")
        title = value.get("title") if isinstance(value, dict) else None
        named = f" {_short(json.dumps(title, ensure_ascii=False))}" if title else ""
        return f"{sign or '~'} {what} {item}{named}"
    if item is None:
        place = "current tag" if tag is None else f"tag {tag} order" if field == ORDER else None
        place = place or f"tag {tag} {field}"
    else:
        place = f"{item} {field}"
    before = _shown(change, "before")
    after = _shown(change, "after")
    return f"{place}: {before} -> {after}"


def _shown(change: dict[str, Any], side: str) -> str:
    if side not in change:
        return "(none)"
    return _short(json.dumps(change[side], ensure_ascii=False, default=str))


def _short(text: str) -> str:
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def _short_value(value: Any) -> Any:
    """A command argument as a compact entry shows it: long texts shortened."""
    if isinstance(value, str) and len(value) > SHOWN:
        return value[: SHOWN - 3] + "..."
    return value
