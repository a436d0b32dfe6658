"""The storage contract: everything a backend must do, and nothing the facade may ask beyond it.

A backend keeps one project: its task document, its state (the current tag) and a revision,
a number that grows with every change of either, made here or by any other program. The facade
(`TaskMaster`) and everything above it see only this protocol; which backend serves a project
is decided once, where a project is opened (`taskmaster.compose`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import orjson

from taskmaster.errors import StorageError
from taskmaster.journal.changes import Change, diff
from taskmaster.journal.entry import Entry, Origin, new_entry, utc_stamp
from taskmaster.model import Document

T = TypeVar("T")
DEFAULT_LOCK_TIMEOUT = 10.0
"""Seconds a writer waits for a backend's write exclusion before giving up (LockTimeout)."""
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True, slots=True)
class ProjectState:
    """What a project keeps beside its tasks.

    ``current_tag`` is the tag commands without a tag work on, as the project names it (None:
    it names none, which means master). Whether that tag still exists is the facade's
    question: another program may have deleted it.
    """

    current_tag: str | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A document, the project's state and the revision they were read at.

    The content is never older than the revision: a read that races a write may label newer
    content with the older number, which costs a cache miss later, never a stale answer.
    """

    document: Document
    state: ProjectState
    revision: int


class Draft:
    """What an operation works on inside a transaction: the document as it is under the lock,
    to change in place, and the state, to replace (``draft.state = ProjectState(...)``).

    The state may be given as a function that loads it: it is then read only if the operation
    asks for it, so an operation that only replaces it (choosing the current tag) works even
    when the stored state cannot be read, which is how a user repairs it.
    """

    __slots__ = (
        "_clock",
        "_history",
        "_initial",
        "_load_state",
        "_state",
        "document",
        "journal",
        "revision",
        "state_assigned",
    )

    def __init__(
        self,
        document: Document,
        state: ProjectState | Callable[[], ProjectState],
        revision: int,
        clock: Callable[[], float] = time.time,
        history: Callable[[int], list[Entry]] | None = None,
    ) -> None:
        self.document = document
        self._clock = clock
        self._history = history
        self.journal: Callable[[list[Change]], Entry] | None = None
        """Set by whoever runs the transaction: makes the journal entry of the commit from
        its changes (None: the commit is journaled as made by nobody in particular)."""
        self.revision = revision
        """The revision the transaction started from."""
        self._state: ProjectState | None = state if isinstance(state, ProjectState) else None
        self._initial = self._state
        self._load_state = None if isinstance(state, ProjectState) else state
        self.state_assigned = False
        """Whether the operation replaced the state (the backend then stores it)."""

    @property
    def state(self) -> ProjectState:
        if self._state is None:
            assert self._load_state is not None
            self._state = self._load_state()
        return self._state

    @state.setter
    def state(self, value: ProjectState) -> None:
        self._state = value
        self.state_assigned = True

    def clock(self) -> float:
        """The storage's time now, in seconds since the epoch: what leases are measured by
        (the local clock for a file; the database server's, inside the transaction, for a
        database), so that every process judges a lease by the same clock."""
        return self._clock()

    def history(self, after: int) -> list[Entry]:
        """The journal's committed entries above revision `after`, oldest first, as they are
        under the transaction's exclusion (what an undo checks)."""
        return self._history(after) if self._history is not None else []

    def stored_state(self) -> ProjectState:
        """The state as the transaction found it, whatever the operation assigned since."""
        if self._initial is not None:
            return self._initial
        assert self._load_state is not None
        return self._load_state()

    def watch_tasks(self, tag: str) -> Callable[[], bool]:
        """A check, to call later in the transaction, of whether the tasks of `tag` changed
        from now to then. This one compares their serialisation (what a file costs anyway);
        a backend that tracks changes answers from what it tracked, in what they cost."""
        before = tasks_bytes(self.document, tag)
        return lambda: tasks_bytes(self.document, tag) != before


UNREADABLE_STATE = "(unreadable)"
"""The current tag an entry records as before when the state it replaced did not parse."""


def journal_entry(
    draft: Draft, before: Document | None, positions: Mapping[str, Sequence[int]] | None = None
) -> Entry:
    """The entry of a commit that changes `before` into the draft. Backends call it once they
    know the transaction changed something; a transaction run on the storage directly (not
    through a command) is journaled as a bare `transaction` of nobody in particular."""
    before_tag = after_tag = None
    if draft.state_assigned:
        try:
            before_tag = draft.stored_state().current_tag
        except StorageError:  # a state file that does not parse, being repaired by this write
            before_tag = UNREADABLE_STATE
        after_tag = draft.state.current_tag
    changes = diff(before, draft.document, before_tag, after_tag, positions)
    if draft.journal is None:
        return new_entry(
            origin=Origin("unknown", "storage"),
            time=utc_stamp(),
            changes=changes,
            command="transaction",
        )
    return draft.journal(changes)


def tasks_bytes(document: Document, tag: str) -> bytes | None:
    """The tag's tasks in compact JSON (None: no such tag)."""
    if not document.has_tag(tag):
        return None
    try:
        return orjson.dumps(document.tag(tag).get("tasks"))
    except orjson.JSONEncodeError:
        # Nested deeper than JSON can be written: the write itself is refused with a clear
        # error when the document is serialised, so there is nothing to compare.
        return None


@dataclass(frozen=True, slots=True)
class Commit(Generic[T_co]):
    """The outcome of a transaction: what the operation returned and the revision it produced.

    ``changed`` is False when the operation left document and state as they were; nothing was
    written then, and ``revision`` is the current one.
    """

    result: T_co
    revision: int
    changed: bool


@dataclass(frozen=True, slots=True)
class Step(Generic[T_co]):
    """One operation of a group commit (`Storage.transact_all`), with its own condition."""

    operation: Callable[[Draft], T_co]
    expected_revision: int | None = None


Outcome = Commit[Any] | Exception
"""What one step of a group commit came to: its commit, or the error it alone raised."""


def transact_each(storage: Storage, steps: Sequence[Step[Any]]) -> list[Outcome]:
    """`transact_all` for a backend that cannot apply several operations in one write: each
    step in its own transaction, in order (the same outcomes, one durable write each)."""
    outcomes: list[Outcome] = []
    for step in steps:
        try:
            outcomes.append(
                storage.transact(step.operation, expected_revision=step.expected_revision)
            )
        except Exception as err:  # the step's own outcome; the others go on
            outcomes.append(err)
    return outcomes


class ChangeFeed(Protocol):
    """Notices of changes made outside this process (another process, an editor, `git`)."""

    @property
    def running(self) -> bool: ...

    def start(self) -> None:
        """Begin delivering notices (idempotent)."""
        ...

    def stop(self) -> None:
        """Stop delivering notices and release what the feed holds (idempotent)."""
        ...


class Storage(Protocol):
    """One project's document, state and revision, shared safely by every process using it.

    Guarantees every backend gives (the contract tests in `tests/contract/` check each one):
    a transaction applies to the document as it is under the backend's write exclusion, never
    to an older copy (no lost update); it commits entirely or not at all (never a torn
    document); a document that cannot be read is never written over; the revision strictly
    grows with every commit, here or elsewhere; `expected_revision` refuses a write
    (`RevisionMismatch`) unless the project is still at that revision.
    """

    @property
    def key(self) -> str:
        """A stable name of the project's store, the same in every process that opens it
        (Redis channels and cache keys are built from it): e.g. ``file:/abs/path/tasks.json``."""
        ...

    def describe(self) -> Mapping[str, str]:
        """What a health check shows about the store: ``backend`` and ``location``."""
        ...

    def revision(self) -> int:
        """The current revision, cheaply and without the write exclusion."""
        ...

    def state(self) -> ProjectState:
        """The project's state, cheaply and without reading the document."""
        ...

    def clock(self) -> float:
        """The storage's time now, in seconds since the epoch (what `Draft.clock` gives a
        transaction): reads judge leases by it, as writes do."""
        ...

    def change_epoch(self) -> int | None:
        """A number that stays the same exactly while nothing the reads depend on (the document,
        its revision, the project state) has changed, asked cheaply on every read; None when
        the storage cannot tell, or something is changing (a reader then checks as usual)."""
        ...

    def read(self) -> Snapshot:
        """The current document, state and revision, without the write exclusion."""
        ...

    def transact(
        self, operation: Callable[[Draft], T], *, expected_revision: int | None = None
    ) -> Commit[T]:
        """Run `operation` on the current document and state under the write exclusion, and
        commit what it changed durably (nothing, if it raised or changed nothing)."""
        ...

    def transact_all(self, steps: Sequence[Step[Any]]) -> list[Outcome]:
        """Group commit: run the steps in order under one write exclusion, each on the
        document as the steps before it left it, and commit those that succeeded together.
        Each step's outcome is its own: a step that raises (its condition failed, its command
        was refused) changes nothing and its error is its outcome; every step that changed
        something has its own revision, ascending, and its own journal entry. An error of the
        storage itself (the write failed) is raised: then no step committed."""
        ...

    def create(self, document: Document, state: ProjectState) -> list[str]:
        """Create whatever of the store is missing, from `document` and `state`; existing
        parts are left alone. Returns what was created, for the user (empty: nothing)."""
        ...

    def history(self, after: int = 0, limit: int | None = None) -> list[Entry]:
        """The journal: the entry of every committed revision above `after` that retention
        kept, oldest first (the first `limit` of them; see `taskmaster.journal`)."""
        ...

    def journal_stats(self) -> dict[str, Any]:
        """What the journal holds: ``entries``, ``bytes``, ``oldest`` and ``newest`` revision,
        and its retention (``keep`` entries, ``max_age_s``)."""
        ...

    def compact_journal(self, keep: int | None = None, max_age_s: float | None = None) -> int:
        """Drop all but the newest `keep` entries younger than `max_age_s` (the retention
        settings when not given); returns how many were dropped."""
        ...

    def changes(self, on_change: Callable[[int], None]) -> ChangeFeed:
        """A feed that calls `on_change(revision)` once for each revision committed outside
        this store object. Events only make a reader's invalidation early: correctness never
        depends on them, since every read checks the revision."""
        ...

    def close(self) -> None:
        """Release what the store holds (files, connections); idempotent."""
        ...
