"""Undo as a command: the inverse of one journal entry, applied as a new commit.

It runs in one transaction like every write, and decides under the same exclusion: it reads the
entry and every later one from the journal (`Draft.history`), refuses when a later entry touched
what it would restore (naming them), and otherwise puts every changed field back. Its own entry
is an `undo` of that revision, so an undo can itself be undone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from taskmaster.commands.base import Command, Work, param, stamp_updated
from taskmaster.errors import EntryNotFound, UndoRefused
from taskmaster.events import TASK_UPDATED
from taskmaster.journal.changes import Conflict, invert, overlaps
from taskmaster.kinds import TOKEN
from taskmaster.storage.base import ProjectState


@dataclass(frozen=True, kw_only=True)
class Undo(Command[dict[str, Any]]):
    name = "undo"
    event = TASK_UPDATED
    summary = (
        "Take back the change of one revision as a new commit: every field it changed gets its "
        "value before; refused when a later change touched the same fields."
    )

    revision: int = param(TOKEN, "The revision whose change to take back (see the history).")

    @property
    def undoes(self) -> int:
        return self.revision

    def apply(self, work: Work) -> dict[str, Any]:
        entries = work.draft.history(self.revision - 1)
        target = entries[0] if entries and entries[0]["revision"] == self.revision else None
        if target is None:
            kept = work.draft.history(0)
            raise EntryNotFound.of(self.revision, kept[0]["revision"] if kept else None)
        changes = target.get("changes") or []
        if target.get("unknown") or not changes:
            raise UndoRefused.because(
                self.revision, target.get("unknown") or "it changed nothing that can be restored"
            )
        later = [e["revision"] for e in entries[1:] if overlaps(changes, e.get("changes") or [])]
        if later:
            raise UndoRefused.overlapping(self.revision, later)
        try:
            restore_tag = invert(work.document, changes)
        except Conflict as err:
            raise UndoRefused.because(self.revision, str(err)) from None
        if any(c.get("tag") is None and c.get("field") for c in changes):
            work.draft.state = ProjectState(restore_tag)
        for tag in {c.get("tag") for c in changes if c.get("tag") is not None}:
            if work.document.has_tag(str(tag)):
                stamp_updated(work.document, str(tag), work.now)
        work.tag = target.get("tag")
        work.ids = tuple(str(i) for i in target.get("ids") or ())
        for kind, ids in target.get("events") or ():
            if kind != self.event:
                work.also.append((str(kind), tuple(str(i) for i in ids)))
        return {
            "undone": self.revision,
            "command": target.get("command"),
            "changes": len(changes),
            "ids": list(work.ids),
        }
