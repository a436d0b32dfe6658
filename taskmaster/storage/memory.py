"""MemoryStorage: the storage contract kept in this process's memory.

For tests of everything above the storage seam, and as the second backend that keeps the seam
honest: whatever the facade needs from a backend must be in the contract, or this one lacks it.

The document is kept as the canonical bytes of `Document.to_json()`, never as a live object,
so that nothing a caller holds (a snapshot, a draft after its transaction) can reach into the
stored copy. Document, state and revision are replaced together as one immutable tuple, which
gives readers a consistent view without taking the write exclusion.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from taskmaster.errors import RevisionMismatch, TaskFileMissing
from taskmaster.journal.changes import diff
from taskmaster.journal.entry import Entry, Origin, new_entry, utc_stamp
from taskmaster.journal.reversions import LOOKBACK_ENTRIES, reversions
from taskmaster.model import Document
from taskmaster.storage.base import (
    Commit,
    Draft,
    Outcome,
    ProjectState,
    Snapshot,
    Step,
    journal_entry,
    transact_each,
)
from taskmaster.storage.tracking import detached

if TYPE_CHECKING:
    from taskmaster.storage.base import ChangeFeed, Storage

T = TypeVar("T")


class _Stored(NamedTuple):
    raw: bytes
    state: ProjectState
    revision: int


class MemoryChangeFeed:
    """Notices of `MemoryStorage.outside_write`: nothing else changes a memory store from
    outside, so without it this feed never fires."""

    def __init__(self, storage: MemoryStorage, on_change: Callable[[int], None]) -> None:
        self._storage = storage
        self._on_change = on_change
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        if not self._running:
            self._running = True
            self._storage._subscribe(self)

    def stop(self) -> None:
        if self._running:
            self._running = False
            self._storage._unsubscribe(self)

    def _deliver(self, revision: int) -> None:
        if self._running:  # stopped between the write and the notice: no late call
            self._on_change(revision)


class MemoryStorage:
    """One project's document, state and revision in memory, shared by this process's threads.

    Nothing exists before `create`: reading or writing first raises TaskFileMissing, as a
    project whose store is gone does for every backend.
    """

    def __init__(self) -> None:
        self._key = f"memory:{secrets.token_hex(8)}"
        # Reentrant like the file backend's lock, so that an operation that reads the store
        # it is writing does not deadlock.
        self._write_lock = threading.RLock()
        self._stored: _Stored | None = None
        self._feeds: list[MemoryChangeFeed] = []
        self._journal: list[Entry] = []
        self.journal_keep = 10_000

    # reading ------------------------------------------------------------------------------
    @property
    def key(self) -> str:
        return self._key

    def describe(self) -> Mapping[str, str]:
        return {"backend": "memory", "location": self._key}

    def _current(self) -> _Stored:
        stored = self._stored  # one read of one attribute: never half of two writes
        if stored is None:
            raise TaskFileMissing.at(self._key)
        return stored

    def revision(self) -> int:
        return self._current().revision

    def state(self) -> ProjectState:
        return self._current().state

    def clock(self) -> float:
        """This machine's clock: every process sharing the project shares it."""
        return time.time()

    def change_epoch(self) -> int | None:
        return None  # its revision is the check, and a cheap one

    def read(self) -> Snapshot:
        stored = self._current()
        return Snapshot(Document.from_json(stored.raw, self._key), stored.state, stored.revision)

    # writing ------------------------------------------------------------------------------
    def transact_all(self, steps: Sequence[Step[Any]]) -> list[Outcome]:
        """Each step in its own transaction (see `transact_each`)."""
        return transact_each(self, steps)

    def transact(
        self, operation: Callable[[Draft], T], *, expected_revision: int | None = None
    ) -> Commit[T]:
        """Run `operation` on a fresh copy under the write lock; keep the copy only if it
        differs (bytes or state) from what is stored, and only if nothing raised."""
        with self._write_lock:
            stored = self._current()
            if expected_revision is not None and expected_revision != stored.revision:
                raise RevisionMismatch.between(expected_revision, stored.revision)
            draft = Draft(
                Document.from_json(stored.raw, self._key),
                stored.state,
                stored.revision,
                history=self.history,
            )
            result = operation(draft)
            raw = draft.document.to_json()
            if raw == stored.raw and draft.state == stored.state:
                return Commit(result, stored.revision, changed=False)
            entry = journal_entry(draft, Document.from_json(stored.raw, self._key))
            revision = stored.revision + 1
            self._stored = _Stored(raw, draft.state, revision)
            self._record(entry, revision)
            return Commit(result, revision, changed=True)

    def _record(self, entry: Entry, revision: int) -> None:
        entry["revision"] = revision
        self._journal.append(entry)
        if len(self._journal) > 2 * self.journal_keep:
            del self._journal[: -self.journal_keep]

    # journal --------------------------------------------------------------------------------
    def history(self, after: int = 0, limit: int | None = None) -> list[Entry]:
        # Copies all the way down, as a read of a journal file gives: an undo puts an entry's
        # values back into the document, where later commands change them.
        found = [detached(e) for e in self._journal if e["revision"] > after]
        return found[:limit] if limit is not None else found

    def journal_stats(self) -> dict[str, Any]:
        entries = self._journal
        return {
            "entries": len(entries),
            "bytes": None,
            "oldest": entries[0]["revision"] if entries else None,
            "newest": entries[-1]["revision"] if entries else None,
            "keep": self.journal_keep,
            "max_age_s": None,
        }

    def compact_journal(self, keep: int | None = None, max_age_s: float | None = None) -> int:
        with self._write_lock:
            keep = self.journal_keep if keep is None else keep
            dropped = max(0, len(self._journal) - keep)
            del self._journal[:dropped]
            return dropped

    def create(self, document: Document, state: ProjectState) -> list[str]:
        """Store `document` and `state` at revision 1 unless the store exists; the store is one
        part, so this creates all of it or nothing."""
        raw = self._canonical(document)
        with self._write_lock:
            if self._stored is not None:
                return []
            self._stored = _Stored(raw, state, 1)
            return [self._key]

    def _canonical(self, document: Document) -> bytes:
        """The bytes a transaction would write for `document`: parsed once, as every read
        parses, so that a document given with (say) string ids is not "changed" by the first
        transaction that changes nothing. A document that cannot be stored raises here."""
        return Document.from_json(document.to_json(), self._key).to_json()

    def outside_write(
        self, document: Document | None = None, state: ProjectState | None = None
    ) -> int:
        """Another program's change: replace what is given, take a new revision even if the
        content is the same (as a file touched by an editor does), and tell every running
        change feed. Returns the new revision."""
        raw = None if document is None else self._canonical(document)
        with self._write_lock:
            stored = self._current()
            revision = stored.revision + 1
            self._stored = _Stored(
                stored.raw if raw is None else raw,
                stored.state if state is None else state,
                revision,
            )
            before = Document.from_json(stored.raw, self._key)
            after = Document.from_json(self._stored.raw, self._key)
            entry = new_entry(
                origin=Origin("outside", "outside"),
                time=utc_stamp(),
                changes=diff(
                    before, after, stored.state.current_tag, self._stored.state.current_tag
                ),
            )
            reverted = reversions(entry["changes"], self._journal[-LOOKBACK_ENTRIES:])
            if reverted:
                entry["reverts"] = reverted
            self._record(entry, revision)
            feeds = list(self._feeds)
        # Outside the lock: a callback that reads or writes the store must not deadlock a
        # writer in another thread waiting on it.
        for feed in feeds:
            feed._deliver(revision)
        return revision

    # change feed --------------------------------------------------------------------------
    def changes(self, on_change: Callable[[int], None]) -> ChangeFeed:
        return MemoryChangeFeed(self, on_change)

    def _subscribe(self, feed: MemoryChangeFeed) -> None:
        with self._write_lock:
            self._feeds.append(feed)

    def _unsubscribe(self, feed: MemoryChangeFeed) -> None:
        with self._write_lock:
            if feed in self._feeds:
                self._feeds.remove(feed)

    def close(self) -> None:
        """Stop every feed; the content stays, as a file stays after its store is closed."""
        with self._write_lock:
            feeds = list(self._feeds)
        for feed in feeds:
            feed.stop()

    def __repr__(self) -> str:
        stored = self._stored
        revision = "not created" if stored is None else f"revision {stored.revision}"
        return f"<MemoryStorage {self._key} ({revision})>"


if TYPE_CHECKING:  # the structural check that MemoryStorage fulfils the contract, for mypy

    def _conforms(storage: MemoryStorage) -> Storage:
        return storage
