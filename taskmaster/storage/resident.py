"""A task document kept in memory between transactions, and a group of operations run on it.

A long-lived process (`tm serve`, `tm mcp`) that writes a task file again and again need not
parse the whole file for every write: when the file is still the version this process last
wrote (its stat and revision record say so), the document it left is the document on disk.
`Resident` keeps that document as rows (`rows.py`): built of tracked containers, so after an
operation only the rows it marked are looked at (its journal entry compares those, not every
task), and an operation that fails after changing something is undone by rebuilding from the
rows, which still hold the state before it.

`run_steps` applies a group of operations in order, each on the document as the ones before it
left it, each with its own outcome, revision and journal entry: the loop behind group commit
(`Storage.transact_all`). Pure: no I/O; the backend writes what it returns.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from taskmaster.errors import RevisionMismatch, StorageError
from taskmaster.journal.entry import Entry
from taskmaster.model import Document
from taskmaster.storage.base import Commit, Outcome, ProjectState, Step, journal_entry
from taskmaster.storage.file_bytes import FileBytes
from taskmaster.storage.revision import Signature
from taskmaster.storage.rows import RowChanges, RowImage, TrackedDraft, Working, rows_of
from taskmaster.storage.tracking import detached


class Kept(Protocol):
    """What `run_steps` works on: rows, the tracked document built on them, the numbers new
    rows take, and the revision they are at (a `Resident`, or a database backend's copy)."""

    image: RowImage
    working: Working
    numbers: Iterator[int]
    revision: int

    def rebuild(self) -> None: ...


class Resident:
    """The document of one task file version, as rows and as the tracked document built on
    them, with what identifies that version on disk."""

    __slots__ = (
        "file_bytes",
        "image",
        "journal_size",
        "numbers",
        "raw",
        "revision",
        "signature",
        "working",
    )

    def __init__(self, document: Document, raw: bytes, revision: int, signature: Signature) -> None:
        entries, tasks = rows_of(document)
        self.image = RowImage.from_rows(revision, None, document.flat, entries, tasks)
        self.working = Working(self.image)
        self.numbers: Iterator[int] = itertools.count(self.image.max_number() + 1)
        self.file_bytes = FileBytes()
        self.raw = raw
        """The file's bytes at this version (a commit that changes only the state keeps them)."""
        self.revision = revision
        self.signature = signature
        self.journal_size = -1
        """The journal's size when this version was committed (-1: not known): a journal that
        grew or shrank since was written by someone else, and must be settled first."""

    def rebuild(self) -> None:
        """Throw the tracked document away and build it again from the rows: how an
        operation's half-done changes are undone."""
        self.working = Working(self.image)

    def serialised(self) -> bytes:
        """The task file's bytes for the document as it is now: assembled from the rows, only
        the changed ones serialised again (`file_bytes.py`), else the whole document dumped."""
        assembled = self.file_bytes.of(self.image)
        return assembled if assembled is not None else self.working.document.to_json()


@dataclass(slots=True)
class StepsRun:
    """What `run_steps` did: an outcome per step, and what the backend must commit."""

    outcomes: list[Outcome | None] = field(default_factory=list)
    """Each step's commit or error; a commit's revision is filled in by `resolve`."""
    positions: list[int] = field(default_factory=list)
    """Per step: how many steps before it (itself included) changed something."""
    entries: list[Entry] = field(default_factory=list)
    """The journal entry of each step that changed something, in order."""
    state: ProjectState | None = None
    """The state after the last step that assigned one (None: no step did)."""
    rows_changed: bool = False
    row_changes: list[RowChanges] = field(default_factory=list)
    """The rows each changing step changed, in order (what a database backend writes)."""

    @property
    def changes(self) -> int:
        return len(self.entries)

    def revision_of(self, position: int, base: int, committed: int) -> int:
        """The revision after `position` changing steps: the last one is the commit's own
        revision, the others the numbers just above `base` (see `run_steps`)."""
        if position == 0:
            return base
        return committed if position == self.changes else base + position

    def resolve(self, base: int, committed: int) -> list[Outcome]:
        """The outcomes, with the revision each commit produced once the group committed."""
        resolved: list[Outcome] = []
        for outcome, position in zip(self.outcomes, self.positions, strict=True):
            assert outcome is not None
            if isinstance(outcome, Commit):
                outcome = Commit(
                    outcome.result, self.revision_of(position, base, committed), outcome.changed
                )
            resolved.append(outcome)
        return resolved


def run_steps(
    resident: Kept,
    steps: Sequence[Step[Any]],
    *,
    load_state: Callable[[], ProjectState],
    clock: Callable[[], float] = time.time,
    history: Callable[[int], list[Entry]] | None = None,
    journal: bool = True,
) -> StepsRun:
    """Apply `steps` in order to the resident document, each with its own outcome.

    A step that raises changes nothing: its half-done changes are rebuilt away and its error
    is its outcome. A step that changes something gets the next revision: the `k` changing
    steps of a group take ``base + 1`` ... ``base + k - 1`` and, for the last, the revision the
    write is given (at least ``base + k``): known before the write for all but the last, so
    that an undo later in the same group sees the earlier steps' entries (`history`).
    """
    run = StepsRun()
    base = resident.revision
    assigned: ProjectState | None = None

    def state_now() -> ProjectState:
        return assigned if assigned is not None else load_state()

    def history_now(after: int) -> list[Entry]:
        found = history(after) if history is not None else []
        # Copies, as a read of the journal gives: an undo puts an entry's values back into the
        # document, where the commands after it may change them.
        return found + [detached(entry) for entry in run.entries if entry["revision"] > after]

    for step in steps:
        revision = base + run.changes
        working = resident.working
        image = resident.image
        draft = TrackedDraft(working, state_now, revision, clock, history_now)
        try:
            if step.expected_revision is not None and step.expected_revision != revision:
                raise RevisionMismatch.between(step.expected_revision, revision)
            result = step.operation(draft)
            if draft.document is not working.document:  # replaced wholesale
                working.document.data = draft.document.data
                working.document.flat = draft.document.flat
            changes = working.changes(image, resident.numbers)
        except Exception as err:
            if working.touched:
                resident.rebuild()
            run.outcomes.append(_as_storage_error(err, working))
            run.positions.append(run.changes)
            continue
        except BaseException:
            resident.rebuild()
            raise
        # The result may hold the kept document's own objects (a task moved to another tag
        # stays the same object), which later steps and later commits go on changing.
        result = detached(result)
        state_changed = draft.state_assigned and draft.state != _prior_state(draft)
        if not changes and not state_changed:
            if working.touched:  # changed, then changed back: nothing to write
                working.committed(image)
            run.outcomes.append(Commit(result, revision, changed=False))
            run.positions.append(run.changes)
            continue
        if journal:
            # Detached too: the entry is written with the group, after the later steps ran.
            entry = detached(
                journal_entry(draft, working.before(image), working.changed_positions(image))
            )
        else:
            entry = {}
        entry["revision"] = revision + 1
        run.entries.append(entry)
        if draft.state_assigned:
            assigned = draft.state
            run.state = draft.state
        if changes:
            run.rows_changed = True
            run.row_changes.append(changes)
            flat = image.flat if changes.flat is None else changes.flat
            image.apply(revision + 1, image.current_tag, flat, changes)
        working.committed(image)
        run.outcomes.append(Commit(result, revision + 1, changed=True))
        run.positions.append(run.changes)
    return run


def _prior_state(draft: TrackedDraft) -> ProjectState | None:
    """The state before the step (None: it could not be read, and the step repairs it)."""
    try:
        return draft.stored_state()
    except StorageError:
        return None


def _as_storage_error(err: Exception, working: Working) -> Exception:
    """A value nested too deep to serialise is refused as the file backend refuses it when
    it writes (CorruptTaskFile naming the depth), not as orjson's bare error."""
    if isinstance(err, orjson.JSONEncodeError):
        try:
            working.document.to_json()
        except Exception as refused:
            return refused
    return err


__all__ = ["Kept", "Resident", "StepsRun", "run_steps"]
